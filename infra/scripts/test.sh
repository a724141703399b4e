#!/usr/bin/env bash
# `make test`: every test of the workspace, against a private moto server and in-process Google emulators.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
run_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast --failure-output final
  else
    cargo test --workspace --no-fail-fast
  fi
  cargo test --workspace --doc
}
"$root/infra/scripts/with-moto.sh" bash -c "$(declare -f run_tests); run_tests"
