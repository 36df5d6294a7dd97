#!/usr/bin/env bash
# Installs what storegw needs on a fresh Debian/Ubuntu machine (or a Raspberry Pi OS gateway):
# Mosquitto when missing, and the Python package with its test and demo extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
want=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || want+=(mosquitto)
# a CJK font for receipt previews (PNG) and e-receipts
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || want+=(fonts-wqy-microhei)
if [ ${#want[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${want[@]}" >/dev/null
  else
    echo "note: cannot install ${want[*]} (no apt-get); the demo falls back to its embedded" \
         "broker and previews draw boxes for Chinese" >&2
  fi
fi
PY=${PYTHON:-python3}
$PY -m pip install -q --disable-pip-version-check -e ".[test,demo]"
