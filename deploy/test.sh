#!/usr/bin/env bash
# One command for the tests: set up, then the whole suite on real parts (Mosquitto started by
# the tests, SQLite files, PostgreSQL when STOREGW_TEST_PG_URL is set), in the project's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
STOREGW_WITH_BROWSER=1 bash deploy/setup.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -n 2 -q "$@"
