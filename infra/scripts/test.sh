#!/usr/bin/env bash
# `make test`: every test of the workspace, against a private moto server and in-process Google emulators.
# Runs under cargo-nextest (one process per test, parallel across test binaries); installs it from crates.io if
# this machine lacks it. Its closing summary line is the last thing printed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "test: installing cargo-nextest" >&2
  cargo install --locked cargo-nextest >&2
fi
# A failure's panic message names its file and line; a backtrace would push it out of a CI log's view.
export RUST_BACKTRACE=0
"$root/infra/scripts/with-moto.sh" cargo nextest run --workspace --no-fail-fast --failure-output final
