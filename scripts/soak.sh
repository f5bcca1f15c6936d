#!/usr/bin/env bash
# Soak test (issue 10): `gs reducer` and two `gs worker` processes on a 2,000-player
# contest under a mixed load (submissions of wrong and correct flags, reads, WebSockets,
# admin edits) with random faults (kill -9 of the reducer or a worker, a worker's SIGTERM
# restart, a database stall, MariaDB connection kills) for DURATION seconds. Prints
# acknowledged / lost / duplicated submissions, recovery times and memory over time, then
# checks the database and exits non-zero on any submission or admin edit lost, stored
# twice or stored after a "failed" answer, or a process that exited by itself.
#
# Usage: DURATION=1800 scripts/soak.sh
#   DURATION      seconds (default 300)
#   RATE          submissions per second (default 20)
#   DB            sqlite (default) or mariadb (database gs_soak_<pid> on 127.0.0.1, dropped after)
#   FAULT_EVERY   mean seconds between faults (default 30)
#   WORKERS (2), READERS (4), WEBSOCKETS (40), SAMPLE_EVERY (60), ADMIN_EVERY (20)
#   API_PORT (18110; workers on API_PORT + index), ADMIN_PORT (15100)
#   SEED          seed of the generated contest (default: random)
#   NO_BUILD=1    use the release binaries already built
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release --bin gs --example loadgen
fi
GS="$PWD/target/release/gs"
LOADGEN="$PWD/target/release/examples/loadgen"
work=$(mktemp -d)
. scripts/bench-lib.sh
db=""
cleanup() {
    if [ -n "$db" ]; then mariadb -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $db" || true; fi
}
trap cleanup EXIT

case "${DB:-sqlite}" in
sqlite) url="sqlite://$work/gs.db" ;;
mariadb)
    db="gs_soak_$$"
    mariadb -uroot -h127.0.0.1 -e "CREATE DATABASE $db CHARACTER SET utf8mb4"
    url="mysql://root@127.0.0.1:3306/$db"
    ;;
*) echo "DB must be sqlite or mariadb" >&2; exit 2 ;;
esac
write_config "$url" "${API_PORT:-18110}" "${ADMIN_PORT:-15100}"
# A contest of its own (random seed): the load scripts' contests (seed 1) share tokens and
# flags, so that a load test sent to this soak's port by mistake would store submissions
# under its players; with other tokens it is refused.
seed="${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
load_contest --seed "$seed" >/dev/null
echo "work directory (configuration, contest, process logs): $work; contest seed $seed"
status=0
"$LOADGEN" soak --config "$work/gs.toml" --dump "$work/contest.json" --gs "$GS" \
    --seconds "${DURATION:-300}" --rate "${RATE:-20}" --workers "${WORKERS:-2}" \
    --readers "${READERS:-4}" --websockets "${WEBSOCKETS:-40}" \
    --fault-every "${FAULT_EVERY:-30}" --sample-every "${SAMPLE_EVERY:-60}" \
    --admin-every "${ADMIN_EVERY:-20}" || status=$?
if [ "$status" -eq 0 ]; then
    rm -rf "$work"
else
    echo "soak FAILED (exit $status); logs kept in $work" >&2
fi
exit "$status"
