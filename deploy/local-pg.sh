#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the quickstart and for local poking.
#
#   deploy/local-pg.sh ensure        install the server binaries (apt) when missing
#   deploy/local-pg.sh bindir        print the directory of the server binaries
#   deploy/local-pg.sh start DIR     create (once) and start a cluster in DIR; prints its port
#   deploy/local-pg.sh stop DIR      stop it
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
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
    local dir=$1 bin
    ensure
    bin=$(bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_pg "$bin/initdb" -A trust -U postgres -E UTF8 --no-sync -D "$dir/data" >/dev/null
    fi
    local port
    port=$(free_port)
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -s \
        -o "-p $port -k '' -c listen_addresses=127.0.0.1 -c fsync=off" start
    echo "$port" > "$dir/port"
    echo "$port"
}

stop() {
    local dir=$1
    [ -f "$dir/data/PG_VERSION" ] || return 0
    as_pg "$(bindir)/pg_ctl" -D "$(cd "$dir" && pwd)/data" -m fast -w -s stop || true
}

case "${1:-}" in
    ensure) ensure ;;
    bindir) ensure; bindir ;;
    start) start "${2:?usage: local-pg.sh start DIR}" ;;
    stop) stop "${2:?usage: local-pg.sh stop DIR}" ;;
    *) echo "usage: $0 ensure | bindir | start DIR | stop DIR" >&2; exit 2 ;;
esac
