#!/usr/bin/env bash
# One command for the demo chain: set up, then `storegw demo` (broker, hub, 3 stores selling).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
exec python3 -m hub.cli demo "$@"
