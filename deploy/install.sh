#!/usr/bin/env bash
# Installs swf-alarms for a user or a system, and is safe to run again:
#
#   deploy/install.sh [--prefix DIR] [--config-dir DIR] [--log-dir DIR] [--no-migrate]
#
# - builds the release binary (skipped when SWF_ALARMS_BINARY names one);
# - installs it as PREFIX/bin/swf-alarms, replacing an older one atomically
#   (a tick running from cron keeps its copy), plus PREFIX/bin/swf-alarms-run,
#   which behaves as `swf-alarms run` so an old crontab line keeps working;
# - copies config.toml.example to CONFIG_DIR/config.toml only when absent;
# - creates LOG_DIR;
# - runs `swf-alarms migrate` against the configured database — unless the
#   config was only just created (edit it first) or --no-migrate is given.
#
# Defaults: PREFIX=~/.local, CONFIG_DIR=~/swf-alarms, LOG_DIR=CONFIG_DIR/logs.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${PREFIX:-$HOME/.local}
config_dir=${CONFIG_DIR:-$HOME/swf-alarms}
log_dir=""
migrate=yes
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --config-dir) config_dir=$2; shift 2 ;;
        --log-dir) log_dir=$2; shift 2 ;;
        --no-migrate) migrate=no; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
log_dir=${log_dir:-$config_dir/logs}

binary=${SWF_ALARMS_BINARY:-}
if [ -z "$binary" ]; then
    echo "== Building the release binary"
    cargo build --release --locked --quiet
    binary=target/release/swf-alarms
fi

echo "== Installing into $prefix/bin"
install -d "$prefix/bin"
install -m 0755 "$binary" "$prefix/bin/.swf-alarms.new"
mv -f "$prefix/bin/.swf-alarms.new" "$prefix/bin/swf-alarms"
ln -sfn swf-alarms "$prefix/bin/swf-alarms-run"

config="$config_dir/config.toml"
install -d "$config_dir" "$log_dir"
if [ -e "$config" ]; then
    echo "== Keeping the existing $config"
else
    install -m 0640 config.toml.example "$config"
    echo "== Created $config from config.toml.example: set [db] and [email], then run:"
    echo "   $prefix/bin/swf-alarms migrate --config $config"
    migrate=no
fi

if [ "$migrate" = yes ]; then
    echo "== swf-alarms migrate"
    "$prefix/bin/swf-alarms" migrate --config "$config"
fi
echo "== Done. Schedule it with deploy/crontab.example or deploy/swf-alarms.timer."
