#!/usr/bin/env bash
# `make demo`: builds the local stack, starts it on free ports and plays the sample scenario through the HTTP
# API, checking every step. Exits non-zero if a check fails; stops everything it started either way.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
echo "Building the local stack (the first build takes a few minutes)…"
cargo build -p local-stack --bin demo
exec cargo run -q -p local-stack --bin demo
