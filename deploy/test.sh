#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need when it is
# missing: the PostgreSQL server binaries and chromium (apt) and the Python fakes of the
# mail systems (pinned in tests/fakes/requirements.txt) in a virtual
# environment under target/, never into the system Python (Debian's is
# externally managed). The tests start their own throwaway servers.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/local-pg.sh ensure

# The status page test opens the page in a real headless browser.
if ! command -v chromium >/dev/null 2>&1; then
    echo "chromium is missing; installing it with apt-get (the status page test opens the page in it)." >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

venv="${CARGO_TARGET_DIR:-target}/test-venv"
requirements=tests/fakes/requirements.txt
if ! cmp -s "$requirements" "$venv/requirements.txt" \
    || ! "$venv/bin/python" -c 'import moto, aiosmtpd, flask' 2>/dev/null; then
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        echo "python3 cannot create virtual environments; installing python3 and python3-venv with apt-get." >&2
        sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    echo "Installing the test fakes (moto's SES server, aiosmtpd) into $venv." >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/requirements.txt"
fi
SWF_TEST_VENV="$(cd "$venv" && pwd)"
export SWF_TEST_VENV
exec cargo test --workspace "$@"
