#!/usr/bin/env bash
# Load test of one worker on a 2,000-player / 20,000-submission contest (issue bar):
# read endpoints with wrk, durable submit_flag with our load generator (SQLite, then
# MariaDB when it answers), and 10,000 WebSockets receiving one broadcast.
# Usage: scripts/load-test.sh            (needs wrk: apt-get install wrk)
#        READS_ONLY=1 scripts/load-test.sh   (only the read endpoints and the UI page)
#        SUBMIT_ONLY=1 scripts/load-test.sh  (only the durable submit_flag runs)
#        SQLITE_SYNCHRONOUS=normal ...      (the reducer's SQLite commits without fsync)
#        SLOW_FSYNC_US=4000 ...              (a slower disk: gs serve sleeps 4 ms before
#                                             each fsync; scripts/slow-fsync.c, needs gcc)
#        SUBMIT_ONLY=1 PROFILE=1 ...         (also: perf record of gs serve and its
#                                             fsync/pwrite count during each submit run)
#        WS_ONLY=1 scripts/load-test.sh      (only the 10,000 WebSockets, about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || true
# NO_BUILD=1: measure the binaries that are there (e.g. before and after a change).
[ -n "${NO_BUILD:-}" ] || cargo build --release --bin gs --example loadgen >/dev/null 2>&1
# BIN_DIR: another build's binaries (gs, examples/loadgen), e.g. a copy made before a change.
GS="${BIN_DIR:-$PWD/target/release}/gs"
LOADGEN="${BIN_DIR:-$PWD/target/release}/examples/loadgen"
SECS="${SECS:-10}"
# Ports of the server under test (another load test on the machine needs other ones).
API_PORT="${API_PORT:-18010}"
ADMIN_PORT="${ADMIN_PORT:-15000}"
work=$(mktemp -d)
. scripts/bench-lib.sh
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# SLOW_FSYNC_US: gs serve runs with scripts/slow-fsync.c preloaded (the load generator
# and the rest of the machine do not).
slow_disk=()
if [ -n "${SLOW_FSYNC_US:-}" ]; then
    gcc -shared -fPIC -O2 -o "$work/slow-fsync.so" scripts/slow-fsync.c -ldl
    slow_disk=(LD_PRELOAD="$work/slow-fsync.so" SLOW_FSYNC_US="$SLOW_FSYNC_US")
    echo "a slower disk: gs serve sleeps $SLOW_FSYNC_US µs before each fsync"
fi

start_server() { # $1 = database url, $2 = seconds until the next trigger
    pkill -f "$GS serve --config $work/gs.toml" 2>/dev/null || true
    sleep 0.5
    write_config "$1" "$API_PORT" "$ADMIN_PORT"
    load_contest --phase-two-in "$2"
    # SQLITE_SYNCHRONOUS=normal: the reducer's SQLite commits without an fsync each
    # (`[database] sqlite_synchronous`, see Configuration in the README).
    env "${slow_disk[@]}" ${SQLITE_SYNCHRONOUS:+GS_DATABASE__SQLITE_SYNCHRONOUS="$SQLITE_SYNCHRONOUS"} RUST_LOG=warn,gs::worker::follow=info \
        "$GS" serve --config "$work/gs.toml" >"$work/serve.log" 2>&1 &
    local serving=$!
    # Ours, not another server on the same port: gs exits at once when a port is taken.
    until curl -sf -X POST -H 'X-Wish-Version: 2025.v1' -d '{}' "http://127.0.0.1:$API_PORT/service/wish/game_info" | grep -q '"cur_tick"'; do
        kill -0 "$serving" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
        sleep 0.2
    done
    kill -0 "$serving" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
}

base="http://127.0.0.1:$API_PORT"
server_pid() { pgrep -f "$GS serve --config $work/gs.toml" | head -1; }

# 10,000 WebSockets (one process holding them all), waiting for one broadcast: the tick
# change of the contest's next trigger, 40 s after the start.
websockets() {
    echo "== 10,000 WebSockets, one broadcast (the next trigger, in 40 s); load: $(cut -d' ' -f1-3 /proc/loadavg)"
    start_server "sqlite://$work/gs2.db" 40
    "$LOADGEN" ws "$base" "$work/contest.json" 10000 "$(server_pid)"
}
if [ -n "${WS_ONLY:-}" ]; then
    websockets
    exit 0
fi

# The reducer's batch figures (actions per transaction, commit time) from its metrics.
batch_figures() {
    curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '
        /^gs_reducer_batch_size_sum/ {bs=$2} /^gs_reducer_batch_size_count/ {bc=$2}
        /^gs_reducer_commit_seconds_sum/ {cs=$2}
        /^gs_reducer_commit_seconds_bucket/ { match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); hist = hist sprintf(" <=%s:%d", le, $2) }
        END { if (bc > 0) printf "reducer: %d batches, %.1f actions per batch, %.2f ms per batch (write + commit)\nbatches by time (s, cumulative):%s\n", bc, bs / bc, 1000 * cs / bc, hist }'
}

# CPU time of a process so far, in clock ticks (user + system).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One loadgen submit run ($@: its arguments after the URL); with PROFILE=1 also a perf
# profile of gs serve and its fsync/pwrite calls during the run (perf stat).
submit_run() {
    local pid prof=() tag=$1
    shift
    pid=$(server_pid)
    if [ -n "${PROFILE:-}" ]; then
        perf record -F 999 ${PERF_CALLGRAPH:--g} -p "$pid" -o "${PROFILE_DIR:-/tmp}/perf-$tag.data" -- sleep "$SECS" >/dev/null 2>&1 &
        prof+=($!)
        perf stat -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,syscalls:sys_enter_pwrite64 \
            -p "$pid" -o "$work/syscalls-$tag.txt" -- sleep "$SECS" >/dev/null 2>&1 &
        prof+=($!)
    fi
    local cpu_before
    cpu_before=$(cpu_ticks "$pid")
    /usr/bin/time -f "loadgen: %U s user + %S s system CPU" "$LOADGEN" submit "$base" "$work/contest.json" "$@" 2>&1
    echo "gs serve: $(($(cpu_ticks "$pid") - cpu_before)) CPU ticks of $(getconf CLK_TCK)/s during the run (user + system)"
    batch_figures
    echo "machine load: $(uptime | sed 's/.*load average/load average/')"
    if [ -n "${PROFILE:-}" ]; then
        wait "${prof[@]}" 2>/dev/null || true
        awk '/sys_enter/ {gsub(",", "", $1); printf "%s %s, ", $2, $1} END {print "during the run"}' "$work/syscalls-$tag.txt" || true
        perf report -i "${PROFILE_DIR:-/tmp}/perf-$tag.data" --no-children --percent-limit 1.5 --stdio 2>/dev/null |
            grep -E '^ +[0-9.]+%' | head -40 >"${PROFILE_DIR:-/tmp}/load-test-perf-$tag.txt" || true
        echo "profile: ${PROFILE_DIR:-/tmp}/load-test-perf-$tag.txt"
    fi
}

# 10,000 WebSockets (one process holding them all), waiting for one broadcast: the tick
# change of the contest's next trigger, 40 s after the start.
websockets() {
    echo "== 10,000 WebSockets, one broadcast (the next trigger, in 40 s); load: $(cut -d' ' -f1-3 /proc/loadavg)"
    start_server "sqlite://$work/gs2.db" 40
    "$LOADGEN" ws http://127.0.0.1:18010 "$work/contest.json" 10000 "$(pgrep -f "$GS serve --config $work/gs.toml" | head -1)"
}
if [ -n "${WS_ONLY:-}" ]; then
    websockets
    exit 0
fi

start_server "sqlite://$work/gs.db" 86400
token=$(player_token)

# req/s of one path (wrk, 2 threads, 32 connections, as the frontend asks); extra
# VAR=value arguments go to the wrk script (AUTH_TOKEN, ACCEPT_ENCODING).
rps() {
    env "${@:2}" wrk -t2 -c32 -d"${SECS}s" -s tests/http_bench.lua "$base$1" |
        awk '/Requests\/sec/ {printf "%.0f", $2}'
}
# Bytes on the wire of one answer.
wire_bytes() { # $1 = path, $2 = Accept-Encoding
    curl -s -o /dev/null -w '%{size_download}' -X POST -H 'X-Wish-Version: 2025.v1' \
        -H "Accept-Encoding: $2" -H "Cookie: auth_token=$token" -d '{}' "$base$1"
}
# One line: what, req/s, ratio to the trivial route, target ratio.
report() { # $1 = label, $2 = req/s, $3 = target ratio
    awk -v l="$1" -v r="$2" -v t="$trivial" -v g="$3" 'BEGIN {
        printf "%-44s %8d req/s  %5.1f %% of the trivial route  (target >= %d %%) %s\n",
            l, r, 100 * r / t, 100 * g, (r / t >= g ? "ok" : "BELOW TARGET") }'
}

if [ -z "${SUBMIT_ONLY:-}" ]; then
echo "== reads: wrk -t2 -c32 -d${SECS}s, one worker, each next to the trivial route"
# The trivial route: /healthz answers a constant JSON object (a 404 now renders the
# player UI's error page, which is not trivial).
trivial=$(rps /healthz METHOD=GET)
printf "%-44s %8d req/s\n" "trivial route (GET /healthz, same headers)" "$trivial"
report "game_info (logged in)" "$(rps /service/wish/game_info AUTH_TOKEN=$token)" 0.70
game_rps=$(rps /service/wish/game AUTH_TOKEN=$token)
report "game (logged-in player)" "$game_rps" 0.50
report "board/score_all, gzip" "$(rps /service/wish/board/score_all ACCEPT_ENCODING=gzip)" 0.40
report "board/score_all, uncompressed" "$(rps /service/wish/board/score_all)" 0
echo "board/score_all on the wire: $(wire_bytes /service/wish/board/score_all gzip) bytes gzip (target <= 25,000), $(wire_bytes /service/wish/board/score_all identity) uncompressed"
echo "game on the wire: $(wire_bytes /service/wish/game identity) bytes"
# The built-in UI's game page for the same player, next to the `game` answer (target: at
# least half of its rate).
page_rps=$(wrk -t2 -c32 -d"${SECS}s" -H "Cookie: auth_token=$token" "$base/" | awk '/Requests\/sec/ {printf "%.0f", $2}')
awk -v r="$page_rps" -v g="$game_rps" 'BEGIN {
    printf "%-44s %8d req/s  %5.1f %% of the game answer  (target >= 50 %%) %s\n",
        "UI game page (GET /, logged-in player)", r, 100 * r / g, (r / g >= 0.5 ? "ok" : "BELOW TARGET") }'
echo "UI game page on the wire: $(curl -s -o /dev/null -w '%{size_download}' -H "Cookie: auth_token=$token" "$base/") bytes"
if [ -n "${READS_ONLY:-}" ]; then exit 0; fi
fi

echo "== durable submit_flag on SQLite"
submit_run sqlite "sqlite://$work/gs.db" 128 "$SECS"
grep -h "event latency" "$work/serve.log" | tail -3 || true

echo "== submit_flag latency at 5,000/s on SQLite (target p99 <= 20 ms)"
start_server "sqlite://$work/gs3.db" 86400
submit_run sqlite-5000 "sqlite://$work/gs3.db" 256 "$SECS" 5000

if mariadb -uroot -h127.0.0.1 -e 'select 1' >/dev/null 2>&1; then
    db="gs_load_$$"
    mariadb -uroot -h127.0.0.1 -e "CREATE DATABASE $db"
    trap 'kill $(jobs -p) 2>/dev/null || true; mariadb -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $db"; rm -rf "$work"' EXIT
    start_server "mysql://root@127.0.0.1:3306/$db" 86400
    echo "== durable submit_flag on MariaDB"
    submit_run mariadb "mysql://root@127.0.0.1:3306/$db" 128 "$SECS"
fi

if [ -n "${SUBMIT_ONLY:-}" ]; then exit 0; fi
websockets
