#!/usr/bin/env bash
# The quickstart: build the engine, start a throwaway Postgres under
# target/quickstart/, migrate it, add sample alarms, run two dry-run ticks
# (one sample entity stops firing in between), then show the events and
# the last run record. Sends no email. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

work=target/quickstart
deploy/local-pg.sh destroy "$work/pg" >/dev/null 2>&1 || true
rm -rf "$work"
mkdir -p "$work"

echo "== Building"
cargo build --quiet
bin=target/debug/swf-alarms

echo "== Starting a throwaway Postgres"
port=$(deploy/local-pg.sh start "$work/pg")
trap 'deploy/local-pg.sh stop "$work/pg"' EXIT
psql() { "$(deploy/local-pg.sh bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
psql -d postgres -c "CREATE DATABASE swf_quickstart"

cat > "$work/config.toml" <<TOML
[engine]
request_timeout = 20
alarm_timeout = 30
concurrency = 4

[db]
host = "127.0.0.1"
port = $port
name = "swf_quickstart"
user = "postgres"

[email]
provider = "log"
from = "swf-alarms@example.org"
TOML

echo "== swf-alarms migrate"
$bin migrate --config "$work/config.toml"
psql -d swf_quickstart -f deploy/sample-alarms.sql

tick() {
    echo
    echo "== swf-alarms run --dry-run  ($1)"
    set +e
    $bin run --config "$work/config.toml" --dry-run
    local status=$?
    set -e
    echo "-- exit status $status (1: an alarm failed — alarm_demo_upstream_down does, on purpose)"
}

tick "first tick: everything is new"
psql -d swf_quickstart -c "UPDATE entry SET data = jsonb_set(data, '{params,detections}',
    (data->'params'->'detections') - 1) WHERE name = 'alarm_demo_tasks'"
echo
echo "(task:35990 stops firing before the second tick)"
tick "second tick: one clears, the rest continue"

echo
echo "== Events"
psql -d swf_quickstart -c "
SELECT data->>'entry_id' AS alarm, data->>'dedupe_key' AS dedupe_key,
       CASE WHEN data->>'clear_time' IS NULL THEN 'active' ELSE 'cleared' END AS state,
       to_char(to_timestamp((data->>'fire_time')::float8) AT TIME ZONE 'UTC', 'HH24:MI:SS') AS fired,
       COALESCE(data->>'last_notified', '-') AS last_notified, left(title, 40) AS title
FROM entry WHERE kind = 'event' ORDER BY 1, 2"

echo "== The last run record"
psql -d swf_quickstart -A -t -c "
SELECT jsonb_pretty(data) FROM entry WHERE kind = 'engine_run'
ORDER BY timestamp_created DESC LIMIT 1"
