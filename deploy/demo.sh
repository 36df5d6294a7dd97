#!/usr/bin/env bash
# One command for the demo chain: set up (.venv), then `storegw demo` (broker, hub, 3 stores
# selling, members earning points); Ctrl-C stops it and removes its temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
exec .venv/bin/python -m storegw.cli demo "$@"
