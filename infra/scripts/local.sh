#!/usr/bin/env bash
# `make local`: builds and runs the local stack (moto, the Google emulator, the API gateway) until Ctrl-C.
# Settings from the environment: API_PORT (3000), EMULATOR_PORT (8085), MOTO_PORT (5000), SEED (a seed file),
# GOOGLE_ADMIN_EMAIL, TABLE_NAME, GOOGLE_KEY_SECRET_ID, AWS_ENDPOINT_URL (use that moto instead of starting one).
# Extra arguments go to the binary (`infra/scripts/local.sh --help`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
cargo build -p local-stack --bin local-stack
exec cargo run -q -p local-stack --bin local-stack -- "$@"
