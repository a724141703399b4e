#!/usr/bin/env bash
# `make test`: every test of the workspace, against a private moto server and in-process Google emulators.
# Runs under cargo-nextest (one process per test, parallel across test binaries) at the version pinned below,
# installed from crates.io when this machine lacks it or has another version. Its closing summary line is the last
# thing printed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
CARGO_NEXTEST_VERSION=0.9.143
"$root/infra/scripts/cargo-tool.sh" nextest "$CARGO_NEXTEST_VERSION"
# A failure's panic message names its file and line; a backtrace would push it out of a CI log's view.
export RUST_BACKTRACE=0
"$root/infra/scripts/with-moto.sh" cargo nextest run --workspace --no-fail-fast --failure-output final
