#!/usr/bin/env bash
# The main job: bring up a local Formance Ledger and run a demo programme on it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
loyalty ledger up
exec loyalty demo "$@"
