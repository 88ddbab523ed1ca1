#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need when it is
# missing: the PostgreSQL server binaries (apt) and the Python fakes of the
# mail systems (pip); the tests start their own throwaway servers.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/local-pg.sh ensure
if ! python3 -c 'import moto, aiosmtpd, flask' 2>/dev/null; then
    echo "Installing the test fakes (moto's SES server, aiosmtpd) with pip." >&2
    python3 -m pip install --quiet --disable-pip-version-check 'moto[server]' aiosmtpd
fi
exec cargo test --workspace "$@"
