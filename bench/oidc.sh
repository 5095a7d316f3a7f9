#!/usr/bin/env bash
# Side-by-side OpenID provider benchmarks behind docs/BENCHMARKS.md ("Side by
# side"): Gatehouse (`gatehouse serve`, SQLite and PostgreSQL, Go crypto and
# GOEXPERIMENT=boringcrypto) against npm's oidc-provider (bench/peer), with
# one load generator (bench/load) for both.
#
#   bash bench/oidc.sh                 # everything, ~6 minutes
#   BENCH_PROFILE=1 bash bench/oidc.sh # also CPU profiles (pprof) of the
#                                      # Gatehouse cells, in $BENCH_OUT
#
# Servers run on 127.0.0.1 pinned to CPU 1 (taskset -c 1), the load
# generator on CPU 0; PostgreSQL is not pinned. Each load run is bounded
# (BENCH_DURATION, default 10s, after a 1 s warm-up) and must end with 0
# errors. GATEHOUSE_BENCH_PG is a PostgreSQL server URL on which a scratch
# database is created and dropped (default postgres://postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PG=${GATEHOUSE_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DUR=${BENCH_DURATION:-10s}
CONC=${BENCH_CONC:-32}
SERVER_CPU=${BENCH_SERVER_CPU:-1}
LOAD_CPU=${BENCH_LOAD_CPU:-0}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/gatehouse-oidc-bench.XXXXXX)}
mkdir -p "$OUT"
W=$(mktemp -d /tmp/gatehouse-oidc-work.XXXXXX)
RESULTS=$OUT/results.txt
: >"$RESULTS"
PW='correct horse battery staple'
EMAIL=ada@example.com
REDIRECT=http://127.0.0.1:9/cb
SCRATCH=gatehouse_bench_$$
PIDS=()

cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	psql -q "$PG/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $SCRATCH" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

say() { echo "# $*" | tee -a "$RESULTS"; }
load() { taskset -c "$LOAD_CPU" "$W/load" "$@" | tee -a "$RESULTS"; }
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitfor() { for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

say "$(date -u +%FT%TZ) $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench' ':!docs' || echo ' (dirty)'); $(go version); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
say "server CPU $SERVER_CPU, load generator CPU $LOAD_CPU, $CONC connections, $DUR per cell"

# --- builds ---------------------------------------------------------------
go build -o "$W/gatehouse" ./cmd/gatehouse
GOEXPERIMENT=boringcrypto CGO_ENABLED=1 go build -o "$W/gatehouse-boring" ./cmd/gatehouse
go version -m "$W/gatehouse-boring" | grep -E 'GOEXPERIMENT|CGO_ENABLED' | sed 's/^/# gatehouse-boring: /' | tee -a "$RESULTS"
go build -o "$W/load" ./bench/load
go test -c -o "$W/sign.test" ./bench
GOEXPERIMENT=boringcrypto CGO_ENABLED=1 go test -c -o "$W/sign-boring.test" ./bench
if [ "${BENCH_PROFILE:-}" = 1 ]; then
	printf '{"Replace":{"%s":"%s"}}' "$ROOT/cmd/gatehouse/zz_bench_pprof.go" "$ROOT/bench/pprof/pprof.go.txt" >"$W/overlay.json"
	go build -overlay "$W/overlay.json" -o "$W/gatehouse-pprof" ./cmd/gatehouse
fi
(cd bench/peer && npm ci --no-audit --no-fund --silent)

# --- raw signing, one core --------------------------------------------------
say "raw signing on CPU $SERVER_CPU (Go crypto, then BoringCrypto)"
sign() { taskset -c "$SERVER_CPU" "$1" -test.run '^$' -test.bench Sign -test.cpu 1 -test.benchtime 3s | grep '^Benchmark' | sed "s/^/$2 /" | tee -a "$RESULTS"; }
sign "$W/sign.test" go
sign "$W/sign-boring.test" boring
say "openssl $(openssl version | cut -d' ' -f2)"
taskset -c "$SERVER_CPU" openssl speed -seconds 3 rsa2048 ecdsap256 ed25519 2>/dev/null |
	grep -E '^(rsa|[ ]*256 bits ecdsa|[ ]*253 bits EdDSA)' | sed 's/^/openssl /' | tee -a "$RESULTS"

# --- oidc-provider ------------------------------------------------------------
SVC_SECRET=$(openssl rand -base64 32 | tr -d '=+/')
WEB_SECRET=$(openssl rand -base64 32 | tr -d '=+/')
start_peer() { # alg
	PEER_PORT=$(freeport)
	PEER=http://127.0.0.1:$PEER_PORT
	cat >"$W/peer.json" <<EOF
{"port":$PEER_PORT,"alg":"$1","mint":true,"clients":[
 {"client_id":"svc","client_secret":"$SVC_SECRET","grant_types":["client_credentials"],"scope":"invoices:read"},
 {"client_id":"web","client_secret":"$WEB_SECRET","grant_types":["authorization_code","refresh_token"],"redirect_uris":["$REDIRECT"]}]}
EOF
	NODE_ENV=production taskset -c "$SERVER_CPU" node bench/peer/server.mjs "$W/peer.json" >"$OUT/peer-$1.log" 2>&1 &
	PEER_PID=$!
	PIDS+=("$PEER_PID")
	waitfor "$PEER/.well-known/openid-configuration"
}
stop_peer() { kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true; }

CC='grant_type=client_credentials&scope=invoices%3Aread'
say "oidc-provider $(node -p 'require("./bench/peer/node_modules/oidc-provider/package.json").version') on Node $(node --version), in-memory adapter"
start_peer ES256
load post -name peer/cc/ES256 -url "$PEER/token" -user svc -pass "$SVC_SECRET" -body "$CC" -expect '"access_token":"eyJ' -c "$CONC" -d "$DUR"
curl -fs -X POST "$PEER/bench/mint?n=$CONC&client_id=web" >"$W/peer-rt"
load refresh -name peer/refresh/ES256 -url "$PEER/token" -user web -pass "$WEB_SECRET" -tokens "$W/peer-rt" -c "$CONC" -d "$DUR"
load get -name peer/discovery -url "$PEER/.well-known/openid-configuration" -c "$CONC" -d "$DUR"
load get -name peer/jwks -url "$PEER/jwks" -c "$CONC" -d "$DUR"
stop_peer
start_peer RS256
load post -name peer/cc/RS256 -url "$PEER/token" -user svc -pass "$SVC_SECRET" -body "$CC" -expect '"access_token":"eyJ' -c "$CONC" -d "$DUR"
stop_peer

# --- Gatehouse ----------------------------------------------------------------
start_gh() { # label binary database-url(empty: SQLite)
	GH_LABEL=$1
	local port data
	port=$(freeport)
	data=$W/data-$1
	mkdir -p "$data"
	GH=http://127.0.0.1:$port
	GH_DATA=$data
	export GATEHOUSE_ADDR=127.0.0.1:$port GATEHOUSE_ISSUER=$GH GATEHOUSE_DATA_DIR=$data GATEHOUSE_DEV=true \
		GATEHOUSE_LOG_FORMAT=json GATEHOUSE_LOG_LEVEL=warn GATEHOUSE_DATABASE_URL=$3
	APIKEY=$("$2" apikey create --name bench 2>>"$OUT/gatehouse-$1.log" | tail -n 1)
	[ -n "$APIKEY" ] || { echo "apikey create failed: see $OUT/gatehouse-$1.log" >&2; exit 1; }
	local pp=()
	if [ "${BENCH_PROFILE:-}" = 1 ]; then
		PPROF=127.0.0.1:$(freeport)
		pp=(env GATEHOUSE_BENCH_PPROF=$PPROF)
	fi
	"${pp[@]}" taskset -c "$SERVER_CPU" "$2" serve >"$OUT/gatehouse-$1.log" 2>&1 &
	GH_PID=$!
	PIDS+=("$GH_PID")
	waitfor "$GH/readyz"
	# Assigned first: eval "$(…)" would hide a failed seed behind eval's status.
	local seeded
	seeded=$("$W/load" seed -issuer "$GH" -pass "$APIKEY" -email "$EMAIL" -password "$PW" -redirect "$REDIRECT")
	eval "$seeded"
}
stop_gh() { kill "$GH_PID"; wait "$GH_PID" 2>/dev/null || true; }
profile() { # name: a CPU profile of the next 8 s, taken while a load runs
	[ "${BENCH_PROFILE:-}" = 1 ] || return 0
	curl -fs -o "$OUT/$1.pprof" "http://$PPROF/debug/pprof/profile?seconds=8" &
}
pg_counters() { psql -qtA "$PG/postgres?sslmode=disable" -c "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = '$SCRATCH'"; }
sqlite_state() { stat -c '%n %s %Y' "$GH_DATA"/*.db* | tr '\n' ' '; }

cc_es() { load post -name "$1/cc/ES256" -url "$GH/oauth/v2/token" -user "$GH_SVC_ES256_ID" -pass "$GH_SVC_ES256_SECRET" -body "$CC" -expect '"access_token":"eyJ' -c "$CONC" -d "$DUR"; }
cc_rs() { load post -name "$1/cc/RS256" -url "$GH/oauth/v2/token" -user "$GH_SVC_RS256_ID" -pass "$GH_SVC_RS256_SECRET" -body "$CC" -expect '"access_token":"eyJ' -c "$CONC" -d "$DUR"; }

BIN=$W/gatehouse
[ "${BENCH_PROFILE:-}" = 1 ] && BIN=$W/gatehouse-pprof

say "Gatehouse on SQLite"
start_gh sqlite "$BIN" ""
sleep 2 # let the seeding's WAL checkpoint settle
before=$(sqlite_state)
profile sqlite-cc-es256
cc_es gatehouse/sqlite
after=$(sqlite_state)
[ "$before" = "$after" ] && say "sqlite files unchanged by client_credentials: $after" || say "SQLITE FILES CHANGED: before $before after $after"
profile sqlite-cc-rs256
cc_rs gatehouse/sqlite
profile sqlite-discovery
load get -name gatehouse/sqlite/discovery -url "$GH/.well-known/openid-configuration" -c "$CONC" -d "$DUR"
profile sqlite-jwks
load get -name gatehouse/sqlite/jwks -url "$GH/oauth/v2/keys" -c "$CONC" -d "$DUR"
JWKS_SIZE=$(curl -fs "$GH/oauth/v2/keys" | wc -c)
FLOOR=127.0.0.1:$(freeport)
taskset -c "$SERVER_CPU" "$W/load" static -url "$FLOOR" -n "$JWKS_SIZE" &
FLOOR_PID=$!
PIDS+=("$FLOOR_PID")
waitfor "http://$FLOOR/"
say "floor: plain net/http, no middleware, a fixed $JWKS_SIZE-byte body (the JWKS size)"
load get -name floor/net-http-static -url "http://$FLOOR/" -c "$CONC" -d "$DUR"
kill "$FLOOR_PID"
taskset -c "$LOAD_CPU" "$W/load" login -name gatehouse/sqlite/code-flow -issuer "$GH" -client "$GH_WEB_ID" -secret "$GH_WEB_SECRET" \
	-redirect "$REDIRECT" -email "$EMAIL" -password "$PW" -n 40 | tee -a "$RESULTS"
stop_gh

say "Gatehouse on PostgreSQL (scratch database $SCRATCH)"
psql -q "$PG/postgres?sslmode=disable" -c "CREATE DATABASE $SCRATCH"
start_gh postgres "$BIN" "$PG/$SCRATCH?sslmode=disable"
sleep 3 # pg_stat_database lags: let the seeding's counts land first
before=$(pg_counters)
profile postgres-cc-es256
cc_es gatehouse/postgres
sleep 3 # pg_stat_database is updated by each backend after a delay
after=$(pg_counters)
say "pg_stat_database xact_commit|tup_inserted|tup_updated|tup_deleted before $before after $after (the counters include this query and the pool's health checks)"
cc_rs gatehouse/postgres
taskset -c "$LOAD_CPU" "$W/load" login -name gatehouse/postgres/pool -issuer "$GH" -client "$GH_WEB_ID" -secret "$GH_WEB_SECRET" \
	-redirect "$REDIRECT" -email "$EMAIL" -password "$PW" -tokens-out "$W/gh-rt" -pool "$CONC"
before=$(pg_counters)
profile postgres-refresh
load refresh -name gatehouse/postgres/refresh/ES256 -url "$GH/oauth/v2/token" -user "$GH_WEB_ID" -pass "$GH_WEB_SECRET" -tokens "$W/gh-rt" -c "$CONC" -d "$DUR"
sleep 1
after=$(pg_counters)
say "pg_stat_database during refresh: before $before after $after"
taskset -c "$LOAD_CPU" "$W/load" login -name gatehouse/postgres/code-flow -issuer "$GH" -client "$GH_WEB_ID" -secret "$GH_WEB_SECRET" \
	-redirect "$REDIRECT" -email "$EMAIL" -password "$PW" -n 40 | tee -a "$RESULTS"
stop_gh

say "Gatehouse built with GOEXPERIMENT=boringcrypto, on SQLite"
start_gh boring "$W/gatehouse-boring" ""
cc_rs gatehouse-boring/sqlite
cc_es gatehouse-boring/sqlite
stop_gh

say "done; load $(cut -d' ' -f1-3 /proc/loadavg); results in $RESULTS"
