#!/usr/bin/env bash
# Side-by-side OpenID provider benchmarks behind docs/BENCHMARKS.md ("Side by
# side"): Gatehouse (`gatehouse serve`, SQLite and PostgreSQL, Go crypto and
# GOEXPERIMENT=boringcrypto) against npm's oidc-provider (bench/peer, with its
# in-memory adapter and with a PostgreSQL adapter), with one load generator
# (bench/load) for all.
#
#   bash bench/oidc.sh                 # everything, ~10 minutes
#   BENCH_ROUNDS=5 bash bench/oidc.sh  # more rounds (default 3)
#   BENCH_PROFILE=1 bash bench/oidc.sh # also CPU profiles (pprof) of the
#                                      # Gatehouse cells, in $BENCH_OUT
#   BENCH_BASELINE=REV bash bench/oidc.sh
#                                      # also Gatehouse as of git revision REV
#                                      # (cells base/…), every token cell
#                                      # against it within each round
#   BENCH_BASELINE=REV BENCH_ONLY=baseline BENCH_ROUNDS=10 bash bench/oidc.sh
#                                      # only the cells compared with REV
#                                      # (no peers, BoringCrypto or floor),
#                                      # so that many rounds fit in minutes
#   BENCH_GH_ENV='GATEHOUSE_X=… …' bash bench/oidc.sh
#                                      # settings for this tree's servers
#                                      # only (not the baseline's): with
#                                      # BENCH_BASELINE=HEAD, what a
#                                      # setting costs
#
# Every server runs for the whole run on 127.0.0.1, pinned to CPU 1
# (taskset -c 1); only one is under load at a time. The load generator and
# the raw-signing benchmarks run on CPU 0 and CPU 1 respectively.
# PostgreSQL (every process of the local cluster) is pinned to the load
# generator's CPU for the run (BENCH_PG_CPU, default CPU 0; "any" leaves it
# alone) so that the server's CPU serves only the server: unpinned, the
# kernel wakes a backend on the CPU of the process that wrote to its
# socket, i.e. the server's. Each round also runs Gatehouse's refresh cell
# once with PostgreSQL unpinned, to show what that placement costs; the
# affinity is restored at exit. This machine's speed drifts by 10-25% from minute to
# minute, so every cell runs once per round, the rounds interleave all
# cells, each ratio is computed within a round, and the summary reports
# the median over rounds. A cell and its baseline run back to back, the
# baseline second in odd rounds and first in even ones, so that whatever
# the order does (a warmer cache, a checkpoint) cancels over the rounds.
# Gatehouse's cells also report the CPU time per request of the server
# process and of the whole PostgreSQL cluster (server_cpu_us, pg_cpu_us;
# from /proc, the warm-up included, so only their ratios mean much): the
# work a request costs, which the machine's drift moves less than the
# rate. Each load run is bounded (BENCH_DURATION, default
# 6s, after a 1 s warm-up) and must end with 0 errors. GATEHOUSE_BENCH_PG is
# a PostgreSQL server URL on which scratch databases are created and dropped
# (default postgres://postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PG=${GATEHOUSE_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DUR=${BENCH_DURATION:-6s}
ROUNDS=${BENCH_ROUNDS:-3}
CONC=${BENCH_CONC:-32}
SERVER_CPU=${BENCH_SERVER_CPU:-1}
LOAD_CPU=${BENCH_LOAD_CPU:-0}
PG_CPU=${BENCH_PG_CPU:-$LOAD_CPU}
ALL_CPUS=0-$(($(nproc) - 1))
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

# pin_pg CPUS: every process of the local PostgreSQL cluster (backends
# forked later inherit the postmaster's affinity). Needs the right to change
# another user's affinity (root, as on CI machines).
pin_pg() {
	[ "$PG_CPU" = any ] && return 0
	local p
	for p in $(pgrep -x postgres); do taskset -a -p -c "$1" "$p" >/dev/null; done
}
cleanup() {
	pin_pg "$ALL_CPUS" || true
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for db in "$SCRATCH" "${SCRATCH}_peer" "${SCRATCH}_base"; do
		psql -q "$PG/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $db" 2>/dev/null || true
	done
	rm -rf "$W"
}
trap cleanup EXIT

ONLY=${BENCH_ONLY:-}
case "$ONLY" in
"" | baseline) ;;
*) echo "BENCH_ONLY=$ONLY: the only value is baseline" >&2; exit 2 ;;
esac
if [ "$ONLY" = baseline ] && [ -z "${BENCH_BASELINE:-}" ]; then
	echo "BENCH_ONLY=baseline needs BENCH_BASELINE=REV" >&2
	exit 2
fi
full() { [ "$ONLY" != baseline ]; }

say() { echo "# $*" | tee -a "$RESULTS"; }
TCK=$(getconf CLK_TCK)
# ticks PID…: the user and system CPU time the processes have used, in clock
# ticks (fields 14 and 15 of /proc/PID/stat; the names here have no spaces).
ticks() {
	local t=0 p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
# load ARGS…: one run of the load tool. With CELL_PID set (a Gatehouse
# cell), the line also gets the CPU time per request of that server and of
# every PostgreSQL process.
load() {
	local out s0 p0 n
	if [ -n "${CELL_PID:-}" ]; then
		s0=$(ticks "$CELL_PID")
		p0=$(ticks $(pgrep -x postgres))
	fi
	out=$(taskset -c "$LOAD_CPU" "$W/load" "$@")
	if [ -n "${CELL_PID:-}" ]; then
		n=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$out")
		if [ "${n:-0}" -gt 0 ]; then
			out="$out server_cpu_us=$((($(ticks "$CELL_PID") - s0) * 1000000 / TCK / n)) pg_cpu_us=$((($(ticks $(pgrep -x postgres)) - p0) * 1000000 / TCK / n))"
		fi
	fi
	echo "$out" | tee -a "$RESULTS"
}
# on PID CMD…: CMD as a cell of the server PID (its CPU time is reported).
on() {
	local CELL_PID=$1
	shift
	"$@"
}
# pair CELL BASELINE-CELL: both, back to back, the baseline second in odd
# rounds and first in even ones (without a baseline, only CELL).
pair() {
	if [ -z "$BASE" ]; then
		eval "$1"
	elif [ $((ROUND % 2)) = 1 ]; then
		eval "$1"
		eval "$2"
	else
		eval "$2"
		eval "$1"
	fi
}
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitfor() { for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

say "$(date -u +%FT%TZ) $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench' ':!docs' || echo ' (dirty)'); $(go version); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
say "server CPU $SERVER_CPU, load generator CPU $LOAD_CPU, PostgreSQL CPU $PG_CPU, $CONC connections, $DUR per cell, $ROUNDS rounds${BENCH_GH_ENV:+; settings of this tree only: $BENCH_GH_ENV}"

# --- builds ---------------------------------------------------------------
go build -o "$W/gatehouse" ./cmd/gatehouse
go build -o "$W/load" ./bench/load
if full; then
	GOEXPERIMENT=boringcrypto CGO_ENABLED=1 go build -o "$W/gatehouse-boring" ./cmd/gatehouse
	go version -m "$W/gatehouse-boring" | grep -E 'GOEXPERIMENT|CGO_ENABLED' | sed 's/^/# gatehouse-boring: /' | tee -a "$RESULTS"
	go test -c -o "$W/sign.test" ./bench
	GOEXPERIMENT=boringcrypto CGO_ENABLED=1 go test -c -o "$W/sign-boring.test" ./bench
fi
GH_BIN=$W/gatehouse
BASE=${BENCH_BASELINE:-}
if [ -n "$BASE" ]; then
	# The baseline and its own load tool (its hosted pages may differ), built
	# from REV's files.
	# An exported tree, not a work tree: nothing to clean up in .git if a
	# build fails.
	mkdir -p "$W/base-src"
	git archive "$BASE" | tar -x -C "$W/base-src"
	(cd "$W/base-src" && go build -o "$W/gatehouse-base" ./cmd/gatehouse && go build -o "$W/load-base" ./bench/load)
	say "baseline: $(git rev-parse --short "$BASE") ($(git log -1 --format=%s "$BASE" | cut -c1-60))"
fi
if [ "${BENCH_PROFILE:-}" = 1 ]; then
	printf '{"Replace":{"%s":"%s"}}' "$ROOT/cmd/gatehouse/zz_bench_pprof.go" "$ROOT/bench/pprof/pprof.go.txt" >"$W/overlay.json"
	go build -overlay "$W/overlay.json" -o "$W/gatehouse-pprof" ./cmd/gatehouse
	GH_BIN=$W/gatehouse-pprof
fi
full && (cd bench/peer && npm ci --no-audit --no-fund --silent)

# --- servers ----------------------------------------------------------------
SVC_SECRET=$(openssl rand -base64 32 | tr -d '=+/')
WEB_SECRET=$(openssl rand -base64 32 | tr -d '=+/')
start_peer() { # name alg adapter
	local port
	port=$(freeport)
	cat >"$W/peer-$1.json" <<EOF
{"port":$port,"alg":"$2","adapter":"$3","mint":true,"clients":[
 {"client_id":"svc","client_secret":"$SVC_SECRET","grant_types":["client_credentials"],"scope":"invoices:read"},
 {"client_id":"web","client_secret":"$WEB_SECRET","grant_types":["authorization_code","refresh_token"],"redirect_uris":["$REDIRECT"]}]}
EOF
	PEER_DATABASE_URL="$PG/${SCRATCH}_peer?sslmode=disable" NODE_ENV=production \
		taskset -c "$SERVER_CPU" node bench/peer/server.mjs "$W/peer-$1.json" >"$OUT/peer-$1.log" 2>&1 &
	PIDS+=($!)
	waitfor "http://127.0.0.1:$port/.well-known/openid-configuration"
	eval "PEER_$1=http://127.0.0.1:$port"
}

# start_gh name binary database-url(empty: SQLite) [load-tool]: serves, seeds over
# GraphQL and sets GH_<name> (issuer) and GH_<name>_DATA; the seeded
# client ids and secrets (GH_SVC_ES256_ID…) are the same names each time.
start_gh() {
	local port data apikey seeded pp=() extra=()
	port=$(freeport)
	data=$W/data-$1
	mkdir -p "$data"
	local env=(GATEHOUSE_ADDR=127.0.0.1:$port GATEHOUSE_ISSUER=http://127.0.0.1:$port GATEHOUSE_DATA_DIR=$data
		GATEHOUSE_DEV=true GATEHOUSE_LOG_FORMAT=json GATEHOUSE_LOG_LEVEL=warn GATEHOUSE_DATABASE_URL=$3)
	if [ "$2" != "$W/gatehouse-base" ] && [ -n "${BENCH_GH_ENV:-}" ]; then
		read -r -a extra <<<"$BENCH_GH_ENV"
		env+=("${extra[@]}")
	fi
	apikey=$(env "${env[@]}" "$2" apikey create --name bench 2>>"$OUT/gatehouse-$1.log" | tail -n 1)
	[ -n "$apikey" ] || { echo "apikey create failed: see $OUT/gatehouse-$1.log" >&2; exit 1; }
	if [ "${BENCH_PROFILE:-}" = 1 ] && [ "$2" = "$GH_BIN" ]; then
		pp=(GATEHOUSE_BENCH_PPROF=127.0.0.1:$(freeport))
		eval "PPROF_$1=${pp[0]#*=}"
	fi
	env "${env[@]}" "${pp[@]}" taskset -c "$SERVER_CPU" "$2" serve >>"$OUT/gatehouse-$1.log" 2>&1 &
	PIDS+=($!)
	eval "GH_${1}_PID=$!"
	waitfor "http://127.0.0.1:$port/readyz"
	# Assigned first: eval "$(…)" would hide a failed seed behind eval's status.
	seeded=$("${4:-$W/load}" seed -issuer "http://127.0.0.1:$port" -pass "$apikey" -email "$EMAIL" -password "$PW" -redirect "$REDIRECT" | sed "s/^GH_/GH_${1}_/")
	eval "$seeded"
	eval "GH_$1=http://127.0.0.1:$port GH_${1}_DATA=$data"
}

if full; then
	say "oidc-provider $(node -p 'require("./bench/peer/node_modules/oidc-provider/package.json").version') on Node $(node --version); adapters: memory, and PostgreSQL (bench/peer/pgadapter.mjs)"
	psql -q "$PG/postgres?sslmode=disable" -c "CREATE DATABASE ${SCRATCH}_peer"
	start_peer es ES256 memory
	start_peer rs RS256 memory
	start_peer pg ES256 postgres
fi
psql -q "$PG/postgres?sslmode=disable" -c "CREATE DATABASE $SCRATCH"
start_gh sqlite "$GH_BIN" ""
start_gh postgres "$GH_BIN" "$PG/$SCRATCH?sslmode=disable"
full && start_gh boring "$W/gatehouse-boring" ""
if [ -n "$BASE" ]; then
	psql -q "$PG/postgres?sslmode=disable" -c "CREATE DATABASE ${SCRATCH}_base"
	start_gh base_sqlite "$W/gatehouse-base" "" "$W/load-base"
	start_gh base_postgres "$W/gatehouse-base" "$PG/${SCRATCH}_base?sslmode=disable" "$W/load-base"
fi
if full; then
	JWKS_SIZE=$(curl -fs "$GH_sqlite/oauth/v2/keys" | wc -c)
	FLOOR=127.0.0.1:$(freeport)
	taskset -c "$SERVER_CPU" "$W/load" static -url "$FLOOR" -n "$JWKS_SIZE" &
	PIDS+=($!)
	waitfor "http://$FLOOR/"
	say "floor: plain net/http, no middleware, a fixed $JWKS_SIZE-byte body (the JWKS size)"
fi

# Refresh pools: one sign-in per token, $CONC tokens per round (Gatehouse's
# by real sign-ins with argon2id, the peers' minted by their bench endpoint).
# pool LOAD-TOOL NAME SERVER FILE COUNT [login flags…]: COUNT tokens from
# GH_<SERVER>'s web client in FILE.000, FILE.001…, $CONC a file.
pool() {
	local iss id secret
	eval "iss=\$GH_$3 id=\$GH_${3}_WEB_ID secret=\$GH_${3}_WEB_SECRET"
	taskset -c "$LOAD_CPU" "$1" login -name "$2" -issuer "$iss" -client "$id" -secret "$secret" -redirect "$REDIRECT" \
		-email "$EMAIL" -password "$PW" -tokens-out "$4" -pool "$5" "${@:6}" >/dev/null
	split -l "$CONC" -d -a 3 "$4" "$4."
}
pool "$W/load" gatehouse/postgres/pool postgres "$W/gh-rt" $((CONC * ROUNDS * $(full && echo 2 || echo 1)))
# The B2B case, reported beside the target: tokens for Ada's organization
# (scope organization, picked at sign-in), whose every refresh also reads
# the membership, organization and roles for the org claims.
full && pool "$W/load" gatehouse/postgres/pool-org postgres "$W/gh-rt-org" $((CONC * ROUNDS)) -scope "openid offline_access organization"
[ -z "$BASE" ] || pool "$W/load-base" base/postgres/pool base_postgres "$W/base-rt" $((CONC * ROUNDS))

CC='grant_type=client_credentials&scope=invoices%3Aread'
cc() { # name token-endpoint id secret
	load post -name "$1" -url "$2" -user "$3" -pass "$4" -body "$CC" -expect '"access_token":"eyJ' -c "$CONC" -d "$DUR"
}
peer_cc() { cc "$1" "$2/token" svc "$SVC_SECRET"; } # name peer-URL
# Gatehouse cells, each on the server GH_<SERVER> with its seeded clients
# and reporting its CPU time:
# gh_cc PREFIX SERVER ALG: client_credentials, cell PREFIX/cc/ALG.
gh_cc() {
	local iss id secret pid
	eval "iss=\$GH_$2 id=\$GH_${2}_SVC_${3}_ID secret=\$GH_${2}_SVC_${3}_SECRET pid=\$GH_${2}_PID"
	on "$pid" cc "$1/cc/$3" "$iss/oauth/v2/token" "$id" "$secret"
}
# gh_refresh NAME SERVER TOKENS: refresh_token with the web client.
gh_refresh() {
	local iss id secret pid
	eval "iss=\$GH_$2 id=\$GH_${2}_WEB_ID secret=\$GH_${2}_WEB_SECRET pid=\$GH_${2}_PID"
	on "$pid" load refresh -name "$1" -url "$iss/oauth/v2/token" -user "$id" -pass "$secret" -tokens "$3" -c "$CONC" -d "$DUR"
}
# gh_get NAME SERVER PATH
gh_get() {
	local iss pid
	eval "iss=\$GH_$2 pid=\$GH_${2}_PID"
	on "$pid" load get -name "$1" -url "$iss$3" -c "$CONC" -d "$DUR"
}
sign() { # label binary
	taskset -c "$SERVER_CPU" "$2" -test.run '^$' -test.bench Sign -test.cpu 1 -test.benchtime 2s |
		awk -v l="$1" '/^Benchmark/ {split($1, n, "/"); sub(/-.*/, "", n[2]); for (i = 1; i < NF; i++) if ($(i+1) == "sigs/s") print "raw/" l "/" n[2] " rps=" $i}' | tee -a "$RESULTS"
}
profile() { # server name: a CPU profile of the next 5 s, taken while a load runs
	[ "${BENCH_PROFILE:-}" = 1 ] && [ "$ROUND" = 1 ] || return 0
	local addr
	eval "addr=\${PPROF_$1:-}"
	[ -n "$addr" ] && curl -fs -o "$OUT/$2.pprof" "http://$addr/debug/pprof/profile?seconds=5" &
}
pg_counters() { psql -qtA "$PG/postgres?sslmode=disable" -c "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = '$SCRATCH'"; }
# The database and its WAL: a write changes one of them. The -shm file is
# left out: SQLite's WAL index is shared memory that readers touch too (the
# key list is reloaded by a SELECT every 30 s).
sqlite_state() { stat -c '%n %s %Y' "$GH_sqlite_DATA"/gatehouse.db "$GH_sqlite_DATA"/gatehouse.db-wal | tr '\n' ' '; }

pin_pg "$PG_CPU"
for ROUND in $(seq "$ROUNDS"); do
	say "round $ROUND of $ROUNDS; load $(cut -d' ' -f1-3 /proc/loadavg)"
	RT=$(printf %03d $((ROUND - 1)))
	if full; then
		peer_cc peer/cc/ES256 "$PEER_es"
		peer_cc peer/cc/RS256 "$PEER_rs"
		# Raw signing right before the cells held to it: the machine's speed
		# drifts within a round.
		sign go "$W/sign.test"
		sign boring "$W/sign-boring.test"
	fi
	pair 'before=$(sqlite_state); profile sqlite sqlite-cc-es256
		gh_cc gatehouse/sqlite sqlite ES256
		after=$(sqlite_state)
		[ "$before" = "$after" ] && say "sqlite files unchanged by client_credentials: $after" || say "SQLITE FILES CHANGED: before $before after $after"' \
		'gh_cc base/sqlite base_sqlite ES256'
	pair 'profile sqlite sqlite-cc-rs256; gh_cc gatehouse/sqlite sqlite RS256' 'gh_cc base/sqlite base_sqlite RS256'
	# pg_stat_database lags: the sleeps let earlier counts land first.
	pair 'sleep 3; before=$(pg_counters)
		gh_cc gatehouse/postgres postgres ES256
		sleep 3
		say "pg_stat_database xact_commit|tup_inserted|tup_updated|tup_deleted before $before after $(pg_counters) (client_credentials; the counters include pool health checks)"' \
		'gh_cc base/postgres base_postgres ES256'
	if full; then
		gh_cc gatehouse/postgres postgres RS256
		gh_cc gatehouse-boring/sqlite boring RS256
		gh_cc gatehouse-boring/sqlite boring ES256
		for cell in "memory $PEER_es" "postgres $PEER_pg"; do # adapter peer-URL
			peer=${cell#* }
			curl -fs -X POST "$peer/bench/mint?n=$CONC&client_id=web" >"$W/peer-rt"
			load refresh -name "peer/refresh/${cell%% *}" -url "$peer/token" -user web -pass "$WEB_SECRET" -tokens "$W/peer-rt" -c "$CONC" -d "$DUR"
		done
	fi
	before=$(pg_counters)
	profile postgres postgres-refresh
	pair 'gh_refresh gatehouse/postgres/refresh postgres "$W/gh-rt.$RT"' 'gh_refresh base/postgres/refresh base_postgres "$W/base-rt.$RT"'
	sleep 3
	say "pg_stat_database during refresh$([ -z "$BASE" ] || echo ' (and its baseline cell, in its own database)'): before $before after $(pg_counters)"
	if full; then
		gh_refresh gatehouse/postgres/refresh-org postgres "$W/gh-rt-org.$RT"
		if [ "$PG_CPU" != any ]; then
			pin_pg "$ALL_CPUS"
			gh_refresh gatehouse/postgres/refresh-pg-unpinned postgres "$W/gh-rt.$(printf %03d $((ROUNDS + ROUND - 1)))"
			pin_pg "$PG_CPU"
		fi
		load get -name peer/discovery -url "$PEER_es/.well-known/openid-configuration" -c "$CONC" -d "$DUR"
		load get -name peer/jwks -url "$PEER_es/jwks" -c "$CONC" -d "$DUR"
	fi
	pair 'profile sqlite sqlite-discovery; gh_get gatehouse/discovery sqlite /.well-known/openid-configuration' \
		'gh_get base/discovery base_sqlite /.well-known/openid-configuration'
	pair 'profile sqlite sqlite-jwks; gh_get gatehouse/jwks sqlite /oauth/v2/keys' 'gh_get base/jwks base_sqlite /oauth/v2/keys'
	full && load get -name floor/net-http-static -url "http://$FLOOR/" -c "$CONC" -d "$DUR"
done

if full; then
	say "openssl $(openssl version | cut -d' ' -f2), once, on CPU $SERVER_CPU"
	taskset -c "$SERVER_CPU" openssl speed -seconds 3 rsa2048 ecdsap256 ed25519 2>/dev/null |
		grep -E '^(rsa|[ ]*256 bits ecdsa|[ ]*253 bits EdDSA)' | sed 's/^/openssl /' | tee -a "$RESULTS"
	for b in sqlite postgres; do
		eval "iss=\$GH_$b id=\$GH_${b}_WEB_ID secret=\$GH_${b}_WEB_SECRET"
		taskset -c "$LOAD_CPU" "$W/load" login -name "gatehouse/$b/code-flow" -issuer "$iss" -client "$id" -secret "$secret" \
			-redirect "$REDIRECT" -email "$EMAIL" -password "$PW" -n 40 | tee -a "$RESULTS"
	done
fi

say "summary: median over $ROUNDS rounds of each rate, and of each ratio computed within a round"
python3 - "$RESULTS" <<'EOF' | tee -a "$RESULTS"
import re, statistics, sys
rounds, cur, cpu = [], None, []
for line in open(sys.argv[1]):
    if line.startswith("# round "):
        cur = {}; rounds.append(cur); cpu.append({}); continue
    if line.startswith("# openssl"):
        cur = None
    m = re.match(r"(\S+)\s.*?rps=([\d.]+)", line)
    if m and cur is not None:
        cur[m.group(1)] = float(m.group(2))
        c = re.search(r"server_cpu_us=(-?\d+) pg_cpu_us=(-?\d+)", line)
        if c:
            cpu[-1][m.group(1)] = (int(c.group(1)), int(c.group(2)))
names = sorted({k for r in rounds for k in r})
for n in names:
    vals = [r[n] for r in rounds if n in r]
    print(f"{n:40s} median {statistics.median(vals):10.0f}/s  rounds {' '.join(f'{v:.0f}' for v in vals)}")
ratios = [
    ("sqlite cc ES256 / peer cc ES256 (>= 2)", lambda r: r["gatehouse/sqlite/cc/ES256"] / r["peer/cc/ES256"]),
    ("postgres cc ES256 / peer cc ES256 (>= 2)", lambda r: r["gatehouse/postgres/cc/ES256"] / r["peer/cc/ES256"]),
    ("sqlite cc ES256 / raw Go ES256 (>= 0.4)", lambda r: r["gatehouse/sqlite/cc/ES256"] / r["raw/go/ES256"]),
    ("postgres cc ES256 / raw Go ES256 (>= 0.4)", lambda r: r["gatehouse/postgres/cc/ES256"] / r["raw/go/ES256"]),
    ("sqlite cc RS256 / raw Go RSA (>= 0.85)", lambda r: r["gatehouse/sqlite/cc/RS256"] / r["raw/go/RS256"]),
    ("postgres cc RS256 / raw Go RSA (>= 0.85)", lambda r: r["gatehouse/postgres/cc/RS256"] / r["raw/go/RS256"]),
    ("boring cc RS256 / raw Go RSA", lambda r: r["gatehouse-boring/sqlite/cc/RS256"] / r["raw/go/RS256"]),
    ("boring cc RS256 / raw BoringCrypto RSA", lambda r: r["gatehouse-boring/sqlite/cc/RS256"] / r["raw/boring/RS256"]),
    ("boring cc RS256 / peer cc RS256", lambda r: r["gatehouse-boring/sqlite/cc/RS256"] / r["peer/cc/RS256"]),
    ("sqlite cc RS256 / peer cc RS256", lambda r: r["gatehouse/sqlite/cc/RS256"] / r["peer/cc/RS256"]),
    ("postgres refresh / peer refresh, memory (>= 2)", lambda r: r["gatehouse/postgres/refresh"] / r["peer/refresh/memory"]),
    ("postgres refresh / peer refresh, postgres", lambda r: r["gatehouse/postgres/refresh"] / r["peer/refresh/postgres"]),
    ("refresh, PostgreSQL unpinned / peer refresh, memory", lambda r: r["gatehouse/postgres/refresh-pg-unpinned"] / r["peer/refresh/memory"]),
    ("discovery / floor", lambda r: r["gatehouse/discovery"] / r["floor/net-http-static"]),
    ("jwks / floor", lambda r: r["gatehouse/jwks"] / r["floor/net-http-static"]),
    ("sqlite cc ES256 / baseline (>= 0.95)", lambda r: r["gatehouse/sqlite/cc/ES256"] / r["base/sqlite/cc/ES256"]),
    ("sqlite cc RS256 / baseline (>= 0.95)", lambda r: r["gatehouse/sqlite/cc/RS256"] / r["base/sqlite/cc/RS256"]),
    ("postgres cc ES256 / baseline (>= 0.95)", lambda r: r["gatehouse/postgres/cc/ES256"] / r["base/postgres/cc/ES256"]),
    ("postgres refresh / baseline (>= 0.95)", lambda r: r["gatehouse/postgres/refresh"] / r["base/postgres/refresh"]),
    ("discovery / baseline (>= 0.95)", lambda r: r["gatehouse/discovery"] / r["base/discovery"]),
    ("jwks / baseline (>= 0.95)", lambda r: r["gatehouse/jwks"] / r["base/jwks"]),
]
for label, f in ratios:
    vals = []
    for r in rounds:
        try: vals.append(f(r))
        except KeyError: pass
    if vals:
        print(f"ratio {label:48s} median {statistics.median(vals):6.2f}  rounds {' '.join(f'{v:.2f}' for v in vals)}")
# CPU time per request (server process + PostgreSQL cluster), this tree
# against the baseline: <= 1.05 is "no more than 5% more work".
for n in sorted({k for r in cpu for k in r if k.startswith("gatehouse/")}):
    b = "base/" + n.split("/", 1)[1]
    vals = [r[n][0] / r[b][0] for r in cpu if n in r and b in r and r[b][0]]
    line = f"cpu/request {n.split('/', 1)[1]:28s} server {statistics.median(vals) if vals else 0:5.2f} ({' '.join(f'{v:.2f}' for v in vals)})"
    if "/postgres/" in n: # the cluster's CPU means something only where the cell uses it
        tot = [sum(r[n]) / sum(r[b]) for r in cpu if n in r and b in r and sum(r[b]) > 0]
        line += f"  server+postgres {statistics.median(tot) if tot else 0:5.2f} ({' '.join(f'{v:.2f}' for v in tot)})"
    if vals:
        print(line + "  (<= 1.05)")
EOF
say "done; load $(cut -d' ' -f1-3 /proc/loadavg); results in $RESULTS"
