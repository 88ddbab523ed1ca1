#!/usr/bin/env bash
# Tick benchmark: seeds ALARMS static_list alarms with ENTITIES detections
# each into a throwaway Postgres, then times three ticks of the release
# binary — all new, all continuing, all cleared — and reports wall time
# and peak memory of each. Emails go to the log channel (discarded).
#
#   deploy/bench.sh [ALARMS] [ENTITIES]     (default 200 × 50 = 10,000 events)
#
# BENCH_ARGS=--dry-run leaves the sends out; KEEP=1 leaves the cluster
# running under target/bench/ for a closer look (stop it with
# deploy/local-pg.sh stop target/bench/pg).
set -euo pipefail
cd "$(dirname "$0")/.."
alarms=${1:-200}
entities=${2:-50}

work=target/bench
deploy/local-pg.sh destroy "$work/pg" >/dev/null 2>&1 || true
rm -rf "$work"
mkdir -p "$work"
cargo build --release --quiet
bin=target/release/swf-alarms

port=$(deploy/local-pg.sh start "$work/pg")
[ -n "${KEEP:-}" ] || trap 'deploy/local-pg.sh stop "$work/pg"' EXIT
psql() { "$(deploy/local-pg.sh bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
psql -d postgres -c "CREATE DATABASE swf_bench"
cat > "$work/config.toml" <<TOML
[engine]
concurrency = 4
[db]
host = "127.0.0.1"
port = $port
name = "swf_bench"
user = "postgres"
[email]
provider = "log"
from = "bench@example.org"
TOML
$bin migrate --config "$work/config.toml" >/dev/null

psql -d swf_bench -c "
INSERT INTO entry (id, title, content, kind, context_id, name, data, status, archived,
                   timestamp_created, timestamp_modified)
SELECT gen_random_uuid()::text, 'bench ' || a, 'Benchmark alarm ' || a || '.', 'alarm', 'swf-alarms',
       'alarm_bench_' || a,
       jsonb_build_object('entry_id', 'alarm_bench_' || a, 'detector', 'static_list',
                          'recipients', 'ops@example.org', 'params',
                          jsonb_build_object('detections',
                              (SELECT jsonb_agg(jsonb_build_object(
                                          'dedupe_key', 'task:' || e,
                                          'subject', 'Task ' || e || ' failing at ' || (e % 40) || '%',
                                          'body', 'owner: user' || e || E'\nsite: BNL\nfailed ' || e || ' of 400 jobs',
                                          'extra', jsonb_build_object('rate', (e % 40) / 100.0, 'jeditaskid', e)))
                               FROM generate_series(1, $entities) AS e))),
       'active', false, extract(epoch FROM now()), extract(epoch FROM now())
FROM generate_series(1, $alarms) AS a"

tick() {
    local label=$1 wall rss summary
    /usr/bin/time -o "$work/$label.time" -f "%e %M" \
        "$bin" run --config "$work/config.toml" ${BENCH_ARGS:-} >"$work/$label.log" 2>&1 || true
    read -r wall rss < "$work/$label.time"
    summary=$(grep -o 'Tick finished.*' "$work/$label.log" | sed 's/Tick finished\. //; s/run=[^ ]* //')
    printf '%-11s wall %5.2f s   peak RSS %5.1f MiB   %s\n' "$label" "$wall" "$(echo "$rss / 1024" | bc -l)" "$summary"
}

echo "swf-alarms tick benchmark: $alarms alarms × $entities entities = $((alarms * entities)) events, $(nproc) cores"
tick new
tick continuing
psql -d swf_bench -c "UPDATE entry SET data = jsonb_set(data, '{params,detections}', '[]') WHERE kind = 'alarm'"
tick cleared
psql -d swf_bench -A -t -c "SELECT 'rows: ' || count(*) FILTER (WHERE kind = 'event') || ' events, '
                                || count(*) FILTER (WHERE kind = 'engine_run') || ' runs' FROM entry"
