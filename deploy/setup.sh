#!/usr/bin/env bash
# Installs what storegw needs on a fresh Debian/Ubuntu machine (or a Raspberry Pi OS gateway):
# Mosquitto when missing, and the Python package with its dev (everything + test tools) and demo extras into the
# project's own virtual environment `.venv` (made with `python3 -m venv` if missing, reused if
# present), so a fresh machine and a developer's behave alike and no other Python is touched.
# Idempotent. PYTHON picks the interpreter that makes the venv (default python3, ≥ 3.11).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
PY=${PYTHON:-python3}
if ! $PY -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "storegw needs Python >= 3.11 ($PY is $($PY -V 2>&1 || echo missing)); set PYTHON=" >&2
  exit 1
fi
want=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || want+=(mosquitto)
# a CJK font for receipt previews (PNG) and e-receipts
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || want+=(fonts-wqy-microhei)
# the screen tests drive the machine's own headless Chromium (only the test run asks for it)
if [ "${STOREGW_WITH_BROWSER:-0}" = 1 ] && ! command -v chromium >/dev/null; then
  want+=(chromium)
fi
# Debian's python3 makes venvs only with python3-venv (ensurepip)
[ -x .venv/bin/python ] || $PY -c 'import ensurepip' 2>/dev/null || want+=(python3-venv)
if [ ${#want[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${want[@]}" >/dev/null
  else
    echo "note: cannot install ${want[*]} (no apt-get); the demo falls back to its embedded" \
         "broker and previews draw boxes for Chinese" >&2
  fi
fi
# a venv left half-made (no pip) by an interrupted run is made again
if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  rm -rf .venv
  $PY -m venv .venv
fi
# skip pip when nothing changed since the last install (pyproject.toml is what it installs)
stamp=.venv/.storegw-installed
if [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev,demo]"
  touch "$stamp"
fi
