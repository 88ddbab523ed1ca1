#!/usr/bin/env bash
# Tick benchmark of the engine itself. For each size, a fresh database
# gets ALARMS static_list alarms that generate SIZE/ALARMS detections each
# (`params.generate`, so the alarm rows stay small), then three ticks of
# the release binary run: all new, all continuing, all cleared. Each row of
# the table: wall time and peak RSS of the process (/usr/bin/time), and the
# tick's own phase times (from its -v log; per-alarm phases are summed over
# alarms, which run 4 at a time). Emails go to the log channel (discarded).
#
#   deploy/bench.sh [SIZE ...]          (default: 10000 100000 1000000)
#
# Then the PanDA path: the two production failure-rate alarms over
# PANDA_TASKS (20,000) running tasks behind a loopback PanDA
# (deploy/bench-panda.py), three ticks: the first creates the events, the
# next two change nothing.
#
# ALARMS=100 alarms per size; BENCH_ARGS=--dry-run leaves the sends out;
# DASHBOARD_INDEXES=1 gives `entry` the dashboard's indexes (see fresh_db);
# KEEP=1 leaves the cluster running under target/bench/ (stop it with
# deploy/local-pg.sh stop target/bench/pg).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
alarms=${ALARMS:-100}

work=target/bench
deploy/local-pg.sh destroy "$work/pg" >/dev/null 2>&1 || true
rm -rf "$work"
mkdir -p "$work"
cargo build --release --quiet
bin=target/release/swf-alarms

port=$(deploy/local-pg.sh start "$work/pg")
[ -n "${KEEP:-}" ] || trap 'deploy/local-pg.sh stop "$work/pg"' EXIT
psql() { "$(deploy/local-pg.sh bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
cat > "$work/config.toml" <<TOML
[engine]
concurrency = 4
alarm_timeout = 3600
tick_timeout = 7200
stuck_after = 150
[db]
statement_timeout = 600
host = "127.0.0.1"
port = $port
name = "swf_bench"
user = "postgres"
[email]
provider = "log"
from = "bench@example.org"
TOML

# Creates database $1 with the engine's tables. With DASHBOARD_INDEXES=1,
# `entry` also gets the indexes the dashboard's Django schema gives it
# (every foreign key, with a pattern-ops twin for each text one, and the
# model's four), as in a database the dashboard created: eleven in all.
fresh_db() {
    psql -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
    "$bin" migrate --config "$2" >/dev/null
    if [ -n "${DASHBOARD_INDEXES:-}" ]; then
        psql -d "$1" -c "
            CREATE INDEX ON entry (id varchar_pattern_ops);
            CREATE INDEX ON entry (context_id);
            CREATE INDEX ON entry (context_id varchar_pattern_ops);
            CREATE INDEX ON entry (parent_id);
            CREATE INDEX ON entry (parent_id varchar_pattern_ops);
            CREATE INDEX ON entry (kind, timestamp_created);
            CREATE INDEX ON entry (context_id, kind, timestamp_created);
            CREATE INDEX ON entry (archived);
            CREATE INDEX ON entry (status);"
    fi
}

# Alarms generating COUNT detections each, keys task:0 … (per alarm).
set_count() {
    psql -d swf_bench -c "UPDATE entry SET data = jsonb_set(data, '{params}',
        jsonb_build_object('generate', jsonb_build_object('count', $1))) WHERE kind = 'alarm'"
}

tick() {
    local size=$1 label=$2 config=${3:-$work/config.toml} wall rss summary phases
    /usr/bin/time -o "$work/$size-$label.time" -f "%e %M" \
        "$bin" run -v --config "$config" ${BENCH_ARGS:-} >"$work/$size-$label.log" 2>&1 || true
    read -r wall rss < "$work/$size-$label.time"
    summary=$(grep -o 'Tick finished.*' "$work/$size-$label.log" | grep -o 'new=[0-9]* cleared=[0-9]*' || true)
    phases=$(grep -o 'Tick phases.*' "$work/$size-$label.log" | grep -o '[a-z]*_ms=[0-9.]*' \
        | awk -F= '{ printf "%s %.0f  ", substr($1, 1, length($1) - 3), $2 }')
    printf '| %9s | %-10s | %7.2f s | %7.1f MiB | %s| %s|\n' \
        "$size" "$label" "$wall" "$(echo "$rss / 1024" | bc -l)" "$summary " "$phases"
}

# The status page over this state (every alarm firing SIZE/ALARMS events),
# as `status --html` writes it: reads from Postgres, renders, replaces.
status_page() {
    local size=$1 wall rss
    local gather render
    /usr/bin/time -o "$work/$size-page.time" -f "%e %M" \
        "$bin" -v status --html "$work/$size-page.html" --config "$work/config.toml" >"$work/$size-page.log" 2>&1 || true
    read -r wall rss < "$work/$size-page.time"
    gather=$(grep -o 'gather_ms=[0-9.]*' "$work/$size-page.log" | cut -d= -f2)
    render=$(grep -o 'render_ms=[0-9.]*' "$work/$size-page.log" | cut -d= -f2)
    printf '  status page over %s active events: render %.1f ms, read from Postgres %.0f ms, %.2f s and %.1f MiB peak RSS in all, %s bytes\n' \
        "$size" "${render:-0}" "${gather:-0}" "$wall" "$(echo "$rss / 1024" | bc -l)" \
        "$(stat -c %s "$work/$size-page.html" 2>/dev/null || echo '?')" >&2
}

# What a continuing or cleared tick cannot go below on this machine:
# Postgres alone (no engine, no look-ups by id) adding one key to `data`
# in every event row, as those ticks must, in two sessions at once (one
# per core), each updating the events of half of the alarms in one
# statement. Run after the size's ticks, on their rows.
write_floor() {
    local size=$1 start end half
    psql -d swf_bench -c checkpoint
    start=$(date +%s.%N)
    for half in 0 1; do
        psql -d swf_bench -c "UPDATE entry SET data = data || '{\"bench_floor\": 1796233232.067845}'
            WHERE kind = 'event' AND (hashtext(data->>'entry_id') & 1) = $half" &
    done
    wait
    end=$(date +%s.%N)
    printf '  floor: Postgres alone adding a key to the data of all %s event rows, two sessions: %.2f s\n' \
        "$size" "$(echo "$end - $start" | bc -l)" >&2
}

echo "swf-alarms tick benchmark: $alarms alarms, $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?')${DASHBOARD_INDEXES:+, entry with the dashboard indexes}"
# A yardstick for comparing runs on different machines (or one shared
# machine on different days): the tick figures are mostly Postgres CPU,
# so they scale with this one.
reference=$(for _ in 1 2 3; do
    psql -d postgres -A -t -c "SELECT round(extract(epoch FROM clock_timestamp() - now()) * 1000)
        FROM (SELECT sum(x) FROM generate_series(1, 10000000) AS x) AS s"
done | sort -n | head -n 1)
echo "machine reference: Postgres sums 10,000,000 integers in $reference ms (best of 3)"
echo
echo "| detections | tick | wall | peak RSS | events | phases, ms (load detect reconcile write send record) |"
echo "|---:|---|---:|---:|---|---|"
for size in "${sizes[@]}"; do
    fresh_db swf_bench "$work/config.toml"
    psql -d swf_bench -c "
    INSERT INTO entry (id, title, content, kind, context_id, name, data, status, archived,
                       timestamp_created, timestamp_modified)
    SELECT gen_random_uuid()::text, 'bench ' || a, 'Benchmark alarm ' || a || '.', 'alarm', 'swf-alarms',
           'alarm_bench_' || a,
           jsonb_build_object('entry_id', 'alarm_bench_' || a, 'detector', 'static_list',
                              'recipients', 'ops@example.org', 'params', '{}'::jsonb),
           'active', false, extract(epoch FROM now()), extract(epoch FROM now())
    FROM generate_series(1, $alarms) AS a"
    set_count $((size / alarms))
    tick "$size" new
    tick "$size" continuing
    status_page "$size"
    set_count 0
    tick "$size" cleared
    psql -d swf_bench -A -t -c "
        SELECT '  run record of the all-new tick: ' || pg_size_pretty(pg_column_size(data)::bigint)
               || ' stored, ' || pg_size_pretty(octet_length(data::text)::bigint) || ' as JSON text'
        FROM entry WHERE kind = 'engine_run' ORDER BY timestamp_created LIMIT 1" >&2
    write_floor "$size"
done

tasks=${PANDA_TASKS:-20000}
panda_port_file="$work/panda.port"
python3 deploy/bench-panda.py "$tasks" >"$panda_port_file" &
panda_pid=$!
if [ -n "${KEEP:-}" ]; then trap 'kill $panda_pid' EXIT; else trap 'kill $panda_pid; deploy/local-pg.sh stop "$work/pg"' EXIT; fi
for _ in $(seq 100); do [ -s "$panda_port_file" ] && break; sleep 0.1; done
sed -e 's/^name = "swf_bench"/name = "swf_bench_panda"/' \
    -e "s|^\[engine\]|[engine]\nservice_base_url = \"http://127.0.0.1:$(cat "$panda_port_file")\"|" \
    "$work/config.toml" >"$work/panda.toml"
fresh_db swf_bench_panda "$work/panda.toml"
psql -d swf_bench_panda -c "
INSERT INTO entry (id, title, content, kind, context_id, name, data, status, archived,
                   timestamp_created, timestamp_modified)
VALUES
  (gen_random_uuid()::text, 'PanDA failure rate (EIC)', 'Tasks failing at 5 % or more.', 'alarm', 'swf-alarms',
   'alarm_panda_failure_rate_eic_all',
   '{\"entry_id\": \"alarm_panda_failure_rate_eic_all\", \"recipients\": \"ops@example.org\",
     \"renotification_window_hours\": 24,
     \"params\": {\"threshold\": 0.05, \"since_days\": 1, \"min_terminal_jobs\": 5}}',
   'active', false, extract(epoch FROM now()), extract(epoch FROM now())),
  (gen_random_uuid()::text, 'PanDA failure rate (Sakib)', 'Tasks failing at 3 % or more.', 'alarm', 'swf-alarms',
   'alarm_panda_failure_rate_sakib',
   '{\"entry_id\": \"alarm_panda_failure_rate_sakib\", \"recipients\": \"ops@example.org\",
     \"renotification_window_hours\": 24,
     \"params\": {\"threshold\": 0.03, \"since_days\": 1, \"username\": \"Sakib Rahman\", \"min_terminal_jobs\": 5}}',
   'active', false, extract(epoch FROM now()), extract(epoch FROM now()))"
echo
echo "PanDA: 2 failure-rate alarms over $tasks running tasks (loopback server)"
echo
echo "| tasks | tick | wall | peak RSS | events | phases, ms (load detect reconcile write send record) |"
echo "|---:|---|---:|---:|---|---|"
tick "$tasks" "new" "$work/panda.toml"
tick "$tasks" "unchanged" "$work/panda.toml"
tick "$tasks" "unchanged" "$work/panda.toml"
psql -d swf_bench_panda -A -t -c "
    SELECT '  active events: ' || count(*) FROM swf_alarms_active_event" >&2

# Replay: 30 days of five-minute Aurora snapshots (8,640 records made from
# the test fixtures, an hour of trouble every six hours) through the
# aurora_ops detector, as `swf-alarms replay` runs it.
history="$work/history"
python3 - "$history" <<'PY'
import datetime, json, os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
def first(name):
    with open(f"tests/fixtures/aurora/ops_monitor_snapshot_{name}.jsonl") as f:
        return json.loads(f.readline())
healthy, degraded = first("healthy"), first("degraded")
start = 1_785_456_000  # 2026-07-31T00:00:00Z
days = {}
for i in range(30 * 288):
    t = start + i * 300 + 2
    r = dict(degraded if i % 72 < 12 else healthy)
    stamp = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    r["time_utc"] = stamp.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    r["snapshot_epoch"] = float(t)
    days.setdefault(stamp.strftime("%Y%m%d"), []).append(json.dumps(r))
for day, lines in days.items():
    with open(f"{out}/ops_monitor_{day}.jsonl", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
psql -d swf_bench_panda -c "
INSERT INTO entry (id, title, content, kind, context_id, name, data, status, archived,
                   timestamp_created, timestamp_modified)
VALUES (gen_random_uuid()::text, 'AURORA', 'Aurora ops rules.', 'alarm', 'swf-alarms', 'alarm_aurora',
        jsonb_build_object('entry_id', 'alarm_aurora', 'detector', 'aurora_ops', 'recipients', 'ops@example.org',
                           'renotification_window_hours', 4,
                           'params', jsonb_build_object('snapshot_dir', '$PWD/$history')),
        'active', false, extract(epoch FROM now()), extract(epoch FROM now()))"
/usr/bin/time -o "$work/replay.time" -f "%e %M" "$bin" replay alarm_aurora \
    --from 2026-07-31T00:00:00Z --to 2026-08-30T00:00:00Z --config "$work/panda.toml" >"$work/replay.log" 2>&1
read -r wall rss < "$work/replay.time"
echo
printf 'Replay: %s snapshot files, 8,640 records (30 days, every 5 min), %s in %.2f s, peak RSS %.1f MiB\n' \
    "$(ls "$history" | wc -l)" "$(du -sh "$history" | cut -f1)" "$wall" "$(echo "$rss / 1024" | bc -l)"
grep -m1 -o 'replayed over [0-9]* snapshot(s)' "$work/replay.log" || { echo "replay failed:"; tail -5 "$work/replay.log"; }
