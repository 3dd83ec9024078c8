#!/usr/bin/env bash
# Set everything up on a fresh machine and run the main job: `quantgate demo` on embedded defaults.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
exec "$VENV/bin/quantgate" demo "$@"
