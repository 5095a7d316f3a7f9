#!/bin/sh
# Runs the benchmarks behind docs/BENCHMARKS.md, SQLite and PostgreSQL,
# and prints the results (benchstat-compatible go test output).
#
#   bench/run.sh                         # everything, as in the docs
#   bench/run.sh -bench 'MembersPage/postgres/100k' -cpuprofile cpu.out
#
# GATEHOUSE_TEST_DATABASE_URL names a PostgreSQL server on which the
# benchmarks may create and drop databases (default: the local one below).
# Extra arguments go to go test after the defaults, so they override them.
set -eu
cd "$(dirname "$0")/.."

GATEHOUSE_TEST_DATABASE_URL=${GATEHOUSE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
GATEHOUSE_TEST_REQUIRE_ALL=1 # PostgreSQL must not be skipped silently
export GATEHOUSE_TEST_DATABASE_URL GATEHOUSE_TEST_REQUIRE_ALL

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (dirty)')"
echo "# $(go version); $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs; load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
# 2000 requests per cell: enough samples for a p99 (the 20th slowest).
exec go test ./bench -run '^$' -bench . -benchtime=2000x -count=1 -timeout=60m "$@"
