#!/usr/bin/env bash
# `make lint`'s checks of the Rust dependencies (docs/deploy.md, "Supply chain"):
#
# 1. No Lambda function links a crate banned from them: today `rsa`, whose timing side channel (RUSTSEC-2023-0071)
#    has no fixed release; jsonwebtoken signs with aws-lc-rs instead. Checked with `cargo tree` of each crate under
#    functions/, normal dependencies only, for the Lambda target: the Google emulator and the tests may keep using
#    rsa to make throw-away keys, a function may not. (A cargo-deny ban cannot say this: it sees one graph for the
#    whole workspace, where the common crate's dev-dependencies and the emulator pull rsa in.)
# 2. cargo-deny, at the version pinned below (installed by infra/scripts/cargo-tool.sh when missing), with deny.toml:
#    licences, bans, sources (crates.io only) and the RustSec advisories.
#
# The RustSec advisory database is a git repository on GitHub. It is published on none of the package registries
# that CI reaches (crates.io, PyPI, npm, Debian), and CI cannot reach GitHub, so the advisories are checked
#   - against a freshly fetched database where GitHub is reachable (a developer's machine): any advisory fails;
#   - against the copy fetched last time where it is not, if there is one (cargo-deny refuses a copy older than
#     its maximum staleness, 90 days);
#   - not at all where there is none (CI): a warning says so on every run. Set SUPPLY_CHAIN_REQUIRE_ADVISORIES=1 to
#     make that an error instead (e.g. on a release machine).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

CARGO_DENY_VERSION=0.20.2
LAMBDA_TARGET=aarch64-unknown-linux-gnu
BANNED_IN_FUNCTIONS=(rsa)

"$root/infra/scripts/cargo-tool.sh" deny "$CARGO_DENY_VERSION"

status=0

# 1. Crates no Lambda function may link.
for manifest in functions/*/Cargo.toml; do
  linked="$(cargo tree --locked --edges normal --target "$LAMBDA_TARGET" --manifest-path "$manifest" \
    --prefix none --format '{p}')"
  for crate in "${BANNED_IN_FUNCTIONS[@]}"; do
    if grep -q "^$crate v" <<<"$linked"; then
      echo "supply-chain: $(dirname "$manifest") links $crate, which no Lambda function may link;" \
        "\`cargo tree -e normal -i $crate --manifest-path $manifest\` shows through what" >&2
      status=1
    fi
  done
done
if [ "$status" -eq 0 ]; then
  echo "supply-chain: no function under functions/ links ${BANNED_IN_FUNCTIONS[*]}" >&2
fi

# 2. cargo-deny.
deny() { cargo deny --locked "$@"; }
db_root="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
fetch_log="$(mktemp)"
trap 'rm -f "$fetch_log"' EXIT
if timeout 300 cargo deny fetch db >"$fetch_log" 2>&1; then
  deny check advisories bans licenses sources || status=1
elif compgen -G "$db_root/advisory-db-*/crates" >/dev/null; then
  echo "supply-chain: cannot fetch the RustSec advisory database; checking against the copy fetched earlier" >&2
  # --offline also keeps cargo-deny's `cargo metadata` from downloading: have every locked crate here first.
  cargo fetch --locked
  deny --offline check advisories bans licenses sources || status=1
else
  cat >&2 <<EOF
supply-chain: !!! RustSec advisories NOT checked !!!
supply-chain: the advisory database (a git repository on GitHub, published on no package registry) cannot be
supply-chain: fetched from this machine, and none was fetched here before:
$(grep -v '^\s*$' "$fetch_log" | tail -n 3 | sed 's/^/supply-chain:   /')
supply-chain: run \`make lint\` on a machine that reaches GitHub to check them. Licences, bans and sources are
supply-chain: checked below all the same.
EOF
  if [ "${SUPPLY_CHAIN_REQUIRE_ADVISORIES:-0}" = "1" ]; then
    echo "supply-chain: SUPPLY_CHAIN_REQUIRE_ADVISORIES=1: failing for the unchecked advisories" >&2
    status=1
  fi
  deny check bans licenses sources || status=1
fi
exit "$status"
