# Shared by the load scripts (sourced, with $work and $GS set): the configuration of one
# `gs serve` in $work, a generated 2,000-player contest, and a player's token.

# Writes $work/gs.toml: database url $1, API port $2, admin port $3.
write_config() {
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
listen = "127.0.0.1:$2"
workers = 1
[admin]
listen = "127.0.0.1:$3"
TOML
}

# Generates and imports a 2,000-player / 20,000-submission contest; extra arguments go to
# `gs db generate` (e.g. --phase-two-in SECONDS).
load_contest() {
    "$GS" db generate "$work/contest.json" --users 2000 --submissions 20000 "$@"
    "$GS" db import "$work/contest.json" --replace --config "$work/gs.toml" 2>/dev/null
}

# The auth token of an enabled pku player who agreed to the terms.
player_token() {
    python3 -c "import json;d=json.load(open('$work/contest.json'));print(next(u['auth_token'] for u in d['tables']['user'] if u['group']=='pku' and u['enabled'] and u['terms_agreed']))"
}
