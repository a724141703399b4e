#!/usr/bin/env bash
# API fuzzing: schemathesis (pinned in infra/requirements-dev.txt, installed into .venv) against a running API,
# driven by the checked-in OpenAPI document docs/openapi.json. Fails on any 5xx and on any response (status, content
# type, headers, body) that does not conform to the document. Bounded: SCHEMATHESIS_MAX_EXAMPLES test cases per
# operation and phase (default 20); the stateful phase is left out so the run length does not depend on the data.
#
#   infra/scripts/schemathesis.sh [BASE_URL] [more schemathesis options]
#
# BASE_URL defaults to `make local`'s gateway (http://127.0.0.1:3000). `make test` runs it against a local stack of
# its own (tests/tests/api_fuzz_schemathesis.rs). Path parameters come from SCHEMATHESIS_SYNC_ID, SCHEMATHESIS_RUN_ID
# and SCHEMATHESIS_USER (infra/scripts/schemathesis.toml); hooks: infra/scripts/schemathesis_hooks.py.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

url="${1:-http://127.0.0.1:3000}"
if [ "$#" -gt 0 ]; then shift; fi

"$root/infra/scripts/venv.sh"
export SCHEMATHESIS_HOOKS=schemathesis_hooks
export PYTHONPATH="$root/infra/scripts${PYTHONPATH:+:$PYTHONPATH}"
export NO_COLOR=1 PYTHONUNBUFFERED=1
export SCHEMATHESIS_SYNC_ID="${SCHEMATHESIS_SYNC_ID:-01J0000000000000000000NONE}"
export SCHEMATHESIS_RUN_ID="${SCHEMATHESIS_RUN_ID:-01J0000000000000000000NONE}"
export SCHEMATHESIS_USER="${SCHEMATHESIS_USER:-nobody@example.com}"

# Its caches and crash files (for `schemathesis replay`) go under target/, not the work tree.
mkdir -p "$root/target/schemathesis"
cd "$root/target/schemathesis"
exec "$root/.venv/bin/schemathesis" --config-file "$root/infra/scripts/schemathesis.toml" run "$root/docs/openapi.json" \
  --url "$url" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-20}" \
  --phases examples,coverage,fuzzing \
  --workers 1 \
  --seed "${SCHEMATHESIS_SEED:-20240601}" \
  --request-timeout 30 \
  --no-shrink \
  --generation-database none \
  --report-dir "$root/target/schemathesis" \
  "$@"
