#!/usr/bin/env bash
# Load test of one worker on a 2,000-player / 20,000-submission contest (issue bar):
# read endpoints with wrk, durable submit_flag with our load generator (SQLite, then
# MariaDB when it answers), and 10,000 WebSockets receiving one broadcast.
# Usage: scripts/load-test.sh            (needs wrk: apt-get install wrk)
#        READS_ONLY=1 scripts/load-test.sh   (only the read endpoints and the UI page)
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || true
cargo build --release --bin gs --example loadgen >/dev/null 2>&1
GS="$PWD/target/release/gs"
LOADGEN="$PWD/target/release/examples/loadgen"
SECS="${SECS:-10}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

start_server() { # $1 = database url, $2 = seconds until the next trigger
    pkill -f "$GS serve --config $work/gs.toml" 2>/dev/null || true
    sleep 0.5
    cat > "$work/gs.toml" <<TOML
[database]
url = "$1"
[paths]
data = "$work/data"
templates = "$work/templates"
attachments = "$work/attachments"
writeups = "$work/writeups"
media = "$work/media"
anticheat_log = "$work/anticheat"
[glitter]
action_addr = "ipc://$work/data/action.sock"
event_addr = "ipc://$work/data/event.sock"
[api]
listen = "127.0.0.1:18010"
workers = 1
[admin]
listen = "127.0.0.1:15000"
TOML
    "$GS" db generate "$work/contest.json" --users 2000 --submissions 20000 --phase-two-in "$2"
    "$GS" db import "$work/contest.json" --replace --config "$work/gs.toml" 2>/dev/null
    RUST_LOG=warn,gs::worker::follow=info "$GS" serve --config "$work/gs.toml" >"$work/serve.log" 2>&1 &
    until curl -sf -X POST -H 'X-Wish-Version: 2025.v1' -d '{}' http://127.0.0.1:18010/service/wish/game_info | grep -q '"cur_tick"'; do sleep 0.2; done
}

start_server "sqlite://$work/gs.db" 86400
token=$(python3 -c "import json;d=json.load(open('$work/contest.json'));print(next(u['auth_token'] for u in d['tables']['user'] if u['group']=='pku' and u['enabled'] and u['terms_agreed']))")
for ep in board/score_all game game_info; do
    echo "== wrk $ep (one worker, 64 connections, ${SECS}s)"
    AUTH_TOKEN=$token wrk -t2 -c64 -d"${SECS}s" -s tests/http_bench.lua "http://127.0.0.1:18010/service/wish/$ep" | grep -E "Requests/sec|Latency|Non-2xx"
done
# The built-in UI's game page, rendered for the same logged-in player (target: at least
# half of the `game` answer's rate above).
echo "== wrk GET / (the player UI's game page, same player, 64 connections, ${SECS}s)"
curl -sf -o /dev/null -w "   page size: %{size_download} bytes\n" -H "Cookie: auth_token=$token" http://127.0.0.1:18010/
wrk -t2 -c64 -d"${SECS}s" -H "Cookie: auth_token=$token" "http://127.0.0.1:18010/" | grep -E "Requests/sec|Latency|Non-2xx"
if [ -n "${READS_ONLY:-}" ]; then exit 0; fi

echo "== durable submit_flag on SQLite"
"$LOADGEN" submit http://127.0.0.1:18010 "$work/contest.json" "sqlite://$work/gs.db" 128 "$SECS"
grep -h "event latency" "$work/serve.log" | tail -3 || true

if mariadb -uroot -h127.0.0.1 -e 'select 1' >/dev/null 2>&1; then
    db="gs_load_$$"
    mariadb -uroot -h127.0.0.1 -e "CREATE DATABASE $db"
    trap 'kill $(jobs -p) 2>/dev/null || true; mariadb -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $db"; rm -rf "$work"' EXIT
    start_server "mysql://root@127.0.0.1:3306/$db" 86400
    echo "== durable submit_flag on MariaDB"
    "$LOADGEN" submit http://127.0.0.1:18010 "$work/contest.json" "mysql://root@127.0.0.1:3306/$db" 128 "$SECS"
fi

echo "== 10,000 WebSockets, one broadcast (the next trigger, in 40 s)"
start_server "sqlite://$work/gs2.db" 40
"$LOADGEN" ws http://127.0.0.1:18010 "$work/contest.json" 10000
