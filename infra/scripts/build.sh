#!/usr/bin/env bash
# `make build`: cross-compiles every Lambda function (one crate per binary under functions/) for arm64 with
# cargo-lambda (zig as the linker, both from the repo-local .venv; no Docker), then runs `sam build` so the
# deployable template and artefacts land in target/sam (what `make deploy` uploads).
#
#   target/lambda/<function>/bootstrap   one arm64 Linux executable per function (cargo lambda build)
#   target/sam/template.yaml             template.yaml with CodeUri pointing at target/sam/<LogicalId>/bootstrap
#
# `sam build` uses the template's `BuildMethod: rust-cargolambda`: for each function it runs
# `cargo lambda build --release --arm64 --bin <Binary>` in the workspace root, which finds the binaries built
# here up to date, and copies target/lambda/<Binary>/bootstrap. Set SKIP_SAM_BUILD=1 to stop after cargo-lambda.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

"$root/infra/scripts/venv.sh"
# cargo-lambda (and sam, which calls it) find `cargo-lambda` and zig (ziglang's python -m ziglang) on PATH.
export PATH="$root/.venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0

target=aarch64-unknown-linux-gnu
if command -v rustup >/dev/null 2>&1; then
  if ! rustup target list --installed | grep -qx "$target"; then
    echo "build: adding the Rust target $target" >&2
    rustup target add "$target"
  fi
else
  echo "build: rustup not found; assuming the $target standard library is installed" >&2
fi

functions=()
for manifest in functions/*/Cargo.toml; do
  [ -f "$manifest" ] || continue
  functions+=("$(basename "$(dirname "$manifest")")")
done
if [ "${#functions[@]}" -eq 0 ]; then
  echo "build: no function crates under functions/" >&2
  exit 1
fi

# Selected with --bin at the workspace root, exactly as `sam build` selects each function, so both resolve the same
# dependency features and sam's per-function builds find these binaries up to date.
bins=()
for name in "${functions[@]}"; do bins+=(--bin "$name"); done
echo "build: cargo lambda build --release --arm64 for ${functions[*]}" >&2
cargo lambda build --release --arm64 "${bins[@]}"

missing=0
for name in "${functions[@]}"; do
  bootstrap="target/lambda/$name/bootstrap"
  if [ ! -x "$bootstrap" ]; then
    echo "build: $bootstrap was not produced" >&2
    missing=1
  fi
done
[ "$missing" -eq 0 ] || exit 1
echo "build: $(printf 'target/lambda/%s/bootstrap ' "${functions[@]}")" >&2

if [ "${SKIP_SAM_BUILD:-0}" = "1" ]; then
  exit 0
fi
sam build --template-file template.yaml --build-dir target/sam
echo "build: SAM artefacts and template in target/sam; deploy with \`make deploy\`" >&2
