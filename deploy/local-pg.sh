#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the quickstart and for local poking.
#
#   deploy/local-pg.sh ensure        install the server binaries (apt) when missing
#   deploy/local-pg.sh bindir        print the directory of the server binaries
#   deploy/local-pg.sh start DIR     create (once) and start a cluster in DIR; prints its port
#   deploy/local-pg.sh stop DIR      stop it
#   deploy/local-pg.sh destroy DIR   stop it and delete its data
#
# Trust authentication on 127.0.0.1 only, user "postgres", fsync off: for
# throwaway data, never for production. Works as root too (initdb refuses
# root, so the server runs as the "postgres" user).
set -euo pipefail

bindir() {
    if [ -n "${SWF_PG_BINDIR:-}" ]; then echo "$SWF_PG_BINDIR"; return; fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$found" ] && [ -x "$found/initdb" ]; then echo "$found"; return; fi
    return 1
}

ensure() {
    if bindir >/dev/null; then return; fi
    echo "PostgreSQL server binaries not found; installing them with apt-get." >&2
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    bindir >/dev/null || { echo "installing postgresql did not provide initdb" >&2; exit 1; }
}

as_pg() {
    # From /, which the postgres user can always enter; every path given is absolute.
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The data directory of the cluster kept in DIR. As root, the server runs
# as "postgres", which may not be able to reach DIR (a checkout under a
# home directory with mode 700); then the data lives under /tmp and DIR
# records where.
datadir() {
    local dir=$1
    if [ -f "$dir/datadir" ]; then cat "$dir/datadir"; else echo "$dir/data"; fi
}

start() {
    local dir=$1 bin data
    ensure
    bin=$(bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ] && [ ! -f "$dir/datadir" ] && ! runuser -u postgres -- test -x "$dir"; then
        mktemp -d /tmp/swf-alarms-pg.XXXXXX > "$dir/datadir"
    fi
    data=$(datadir "$dir")
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    if [ ! -f "$data/PG_VERSION" ]; then
        as_pg "$bin/initdb" -A trust -U postgres -E UTF8 --no-sync -D "$data" >/dev/null
    fi
    local port
    port=$(free_port)
    as_pg "$bin/pg_ctl" -D "$data" -l "$data/postgres.log" -w -s \
        -o "-p $port -k '' -c listen_addresses=127.0.0.1 -c fsync=off" start
    echo "$port" > "$dir/port"
    echo "$port"
}

stop() {
    local dir=$1 data
    [ -d "$dir" ] || return 0
    data=$(datadir "$(cd "$dir" && pwd)")
    [ -f "$data/PG_VERSION" ] || return 0
    as_pg "$(bindir)/pg_ctl" -D "$data" -m fast -w -s stop || true
}

destroy() {
    local dir=$1 data
    [ -d "$dir" ] || return 0
    stop "$dir"
    data=$(datadir "$(cd "$dir" && pwd)")
    rm -rf "$data" "$dir"
}

case "${1:-}" in
    ensure) ensure ;;
    bindir) ensure; bindir ;;
    start) start "${2:?usage: local-pg.sh start DIR}" ;;
    stop) stop "${2:?usage: local-pg.sh stop DIR}" ;;
    destroy) destroy "${2:?usage: local-pg.sh destroy DIR}" ;;
    *) echo "usage: $0 ensure | bindir | start DIR | stop DIR | destroy DIR" >&2; exit 2 ;;
esac
