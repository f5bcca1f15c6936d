#!/usr/bin/env bash
# Cost of the metrics on the hottest read endpoint: `game` as a player on one worker
# (2,000 players / 20,000 submissions), metrics on and off, alternated ROUNDS times so
# that noise from other load on the machine hits both alike; prints each run and the
# medians. Usage: SECS=8 ROUNDS=3 scripts/metrics-cost.sh   (needs wrk; NO_BUILD=1 reuses
# target/release/gs)
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || true
[ -n "${NO_BUILD:-}" ] || cargo build --release --bin gs >/dev/null 2>&1
GS="$PWD/target/release/gs"
SECS="${SECS:-8}"
ROUNDS="${ROUNDS:-3}"
work=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
. scripts/bench-lib.sh
write_config "sqlite://$work/gs.db" 18110 15100
load_contest
token=$(player_token)
run() { # $1 = true|false
    GS_METRICS__ENABLED=$1 RUST_LOG=warn "$GS" serve --config "$work/gs.toml" >"$work/serve.log" 2>&1 &
    server=$!
    until curl -sf -X POST -H 'X-Wish-Version: 2025.v1' -d '{}' http://127.0.0.1:18110/service/wish/game_info | grep -q '"cur_tick"'; do sleep 0.2; done
    rps=$(AUTH_TOKEN=$token wrk -t2 -c64 -d"${SECS}s" -s tests/http_bench.lua http://127.0.0.1:18110/service/wish/game | awk '/Requests\/sec/ {print $2}')
    if [ "$1" = true ]; then
        curl -sf http://127.0.0.1:18110/metrics | grep -q 'gs_http_requests_total{endpoint="/service/wish/game"' || { echo "metrics on, but no series for game" >&2; exit 1; }
    fi
    kill $server; wait $server 2>/dev/null || true; server=""
    echo "$rps"
}
on=(); off=()
for i in $(seq "$ROUNDS"); do
    a=$(run true); b=$(run false)
    echo "round $i: metrics on $a req/s, off $b req/s"
    on+=("$a"); off+=("$b")
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
mon=$(median "${on[@]}"); moff=$(median "${off[@]}")
echo "median: metrics on $mon req/s, off $moff req/s, on/off = $(python3 -c "print(f'{$mon/$moff:.3f}')")"
