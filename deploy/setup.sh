#!/usr/bin/env bash
# Installs what storegw needs on a fresh Debian/Ubuntu machine (or a Raspberry Pi OS gateway):
# Mosquitto when missing, and the Python package with its test and demo extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  if command -v apt-get >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq mosquitto >/dev/null
  else
    echo "note: no mosquitto and no apt-get; the demo falls back to its embedded broker" >&2
  fi
fi
PY=${PYTHON:-python3}
$PY -m pip install -q --disable-pip-version-check -e ".[test,demo]"
