#!/usr/bin/env bash
# The whole test suite: unit tests and the integration suite against a real
# Formance Ledger + PostgreSQL that the tests bring up themselves.
# Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"

# The Go helper module the ledger build relies on has its own tests.
if command -v go >/dev/null 2>&1; then
  (cd ledger-server/batcher && go test ./...)
else
  echo "error: Go is required (it builds the Formance Ledger server and the Numscript interpreter)" >&2
  exit 2
fi

set +e
python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
