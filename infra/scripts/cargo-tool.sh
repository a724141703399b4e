#!/usr/bin/env bash
# Makes sure the cargo subcommand `cargo <tool>` is installed at exactly <version>: installs the crate cargo-<tool>
# from crates.io (`cargo install --locked`, into cargo's bin directory) when it is missing or at another version,
# and fails if `cargo <tool>` still is not that version afterwards. Prints nothing when it already is.
#
#   infra/scripts/cargo-tool.sh nextest 0.9.143
set -euo pipefail
if [ "$#" -ne 2 ]; then
  echo "usage: $0 <tool> <version>   (e.g. $0 deny 0.20.2)" >&2
  exit 2
fi
tool="$1"
version="$2"

# `cargo <tool> --version` prints "cargo-<tool> <version> ..." on its first line.
installed_version() {
  cargo "$tool" --version 2>/dev/null | awk 'NR == 1 { print $2 }'
}

found="$(installed_version || true)"
if [ "$found" = "$version" ]; then
  exit 0
fi
echo "cargo-tool: installing cargo-$tool $version (found: ${found:-none})" >&2
cargo install --locked --force "cargo-$tool@$version" >&2
found="$(installed_version || true)"
if [ "$found" != "$version" ]; then
  echo "cargo-tool: \`cargo $tool\` is still ${found:-missing} after installing $version;" \
    "is another cargo-$tool earlier on PATH? ($(command -v "cargo-$tool" || echo 'not on PATH'))" >&2
  exit 1
fi
