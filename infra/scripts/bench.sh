#!/usr/bin/env bash
# `make bench`: builds the benchmark harness, the Google emulator and every Lambda function for this machine in
# release mode, then runs the harness against a private moto server (infra/scripts/with-moto.sh). The harness
# prints a table per scenario and rewrites docs/benchmarks.md (a `--quick` run writes nothing unless `--docs`).
#
#   make bench                          full run (S1-S5, binary sizes and start-up times)
#   make bench BENCH_ARGS=--quick       smaller scenarios, one start-up run per binary
#   infra/scripts/bench.sh --help       every option (latency, scenarios, concurrency, seed, ...)
#
# Functions' arm64 sizes come from target/lambda/*/bootstrap when `make build` ran before.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

"$root/infra/scripts/venv.sh"

packages=(--package bench --package google-emulator)
skip_binaries=0
for arg in "$@"; do
  case "$arg" in
    --skip-binaries|--help|-h) skip_binaries=1 ;;
  esac
done
if [ "$skip_binaries" -eq 0 ]; then
  for manifest in functions/*/Cargo.toml; do
    [ -f "$manifest" ] || continue
    packages+=(--package "$(basename "$(dirname "$manifest")")")
  done
fi

echo "bench: cargo build --release ${packages[*]}" >&2
started=$(date +%s)
cargo build --release --bins "${packages[@]}"
echo "bench: release build took $(( $(date +%s) - started )) s" >&2

command="make bench"
if [ "$#" -gt 0 ]; then command="make bench BENCH_ARGS='$*'"; fi
exec "$root/infra/scripts/with-moto.sh" "$root/target/release/bench" --command "$command" "$@"
