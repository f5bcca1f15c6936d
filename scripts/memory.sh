#!/usr/bin/env bash
# Resident memory of `gs serve` (reducer, admin panel, one worker) and of a lone `gs worker`
# process on a big contest, after the game is loaded and read under a short load.
#   USERS=20000 SUBMISSIONS=1000000 scripts/memory.sh
# Prints one line per process with its VmRSS and VmHWM (peak) in MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-20000}
SUBMISSIONS=${SUBMISSIONS:-1000000}
# The same build as scripts/load-test.sh: with the example its dev-dependencies unify
# other features, and a build without it recompiles half the tree.
[ -n "${NO_BUILD:-}" ] || cargo build --release --bin gs --example loadgen >/dev/null 2>&1
GS=$PWD/target/release/gs
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
source scripts/bench-lib.sh

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
api=$(free_port); admin=$(free_port)
write_config "sqlite://$work/gs.db" "$api" "$admin"
"$GS" db generate "$work/contest.json" --users "$USERS" --submissions "$SUBMISSIONS" >/dev/null
"$GS" db import "$work/contest.json" --replace --config "$work/gs.toml" 2>/dev/null
token=$(player_token)

wait_ready() { # port
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return 0
        sleep 0.5
    done
    echo "not ready on port $1" >&2
    exit 1
}
read_load() { # port: a few hundred reads of the big answers, then a pause
    for _ in $(seq 1 200); do
        curl -s -o /dev/null -H "X-Wish-Version: 2025.v1" -H "Cookie: auth_token=$token" \
            -X POST "http://127.0.0.1:$1/service/wish/game" -d '{}'
        curl -s -o /dev/null -H "X-Wish-Version: 2025.v1" \
            "http://127.0.0.1:$1/service/board/score_all"
    done
    # jemalloc's background threads give freed pages back after its 10 s decay time: the
    # resident memory after load is read once they had the time.
    sleep "${SETTLE_S:-12}"
}
rss() { # pid label
    awk -v label="$2" '/VmRSS|VmHWM/ {v[$1]=$2} END {printf "%-34s RSS %6.0f MiB   peak %6.0f MiB\n", label, v["VmRSS:"]/1024, v["VmHWM:"]/1024}' "/proc/$1/status"
}

echo "contest: $USERS users, $SUBMISSIONS submissions"
"$GS" serve --config "$work/gs.toml" >"$work/serve.log" 2>&1 &
pids+=($!)
wait_ready "$api"
read_load "$api"
rss "${pids[0]}" "gs serve (reducer+admin+1 worker)"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true

"$GS" reducer --config "$work/gs.toml" >"$work/reducer.log" 2>&1 &
pids+=($!)
# The reducer opens its action socket once the game is loaded; a worker started before
# gives up after its 10 s connect timeout.
until [ -S "$work/data/action.sock" ]; do sleep 0.5; done
"$GS" worker --config "$work/gs.toml" --index 0 >"$work/worker.log" 2>&1 &
pids+=($!)
wait_ready "$api"
read_load "$api"
rss "${pids[1]}" "gs reducer (+ admin replica)"
rss "${pids[2]}" "gs worker"
