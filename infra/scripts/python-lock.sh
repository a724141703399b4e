#!/usr/bin/env bash
# Regenerates infra/requirements-dev.lock from infra/requirements-dev.txt: every package the Python tools need,
# transitively, pinned with `==` and the sha256 of each of its files on PyPI, which infra/scripts/venv.sh installs
# with `pip install --require-hashes`. Run it after editing requirements-dev.txt, then commit both files. Pins
# already in the lock are kept unless the top-level list needs otherwise; `infra/scripts/python-lock.sh --upgrade`
# takes the newest version of every indirect dependency instead (arguments go to pip-compile).
#
# pip-compile (pip-tools, pinned here) runs in a throw-away virtualenv with this machine's python3, so the lock
# resolves for the Python the project's .venv uses.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

PIP_TOOLS_VERSION=7.7.0

tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install --disable-pip-version-check -q "pip-tools==$PIP_TOOLS_VERSION" >&2
# --allow-unsafe pins setuptools and the like too (--require-hashes refuses anything unpinned);
# --no-emit-find-links keeps a machine's own pip settings (PIP_FIND_LINKS) out of the file.
CUSTOM_COMPILE_COMMAND="infra/scripts/python-lock.sh" "$tools/bin/pip-compile" --quiet --generate-hashes \
  --allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url \
  --output-file infra/requirements-dev.lock "$@" infra/requirements-dev.txt
echo "python-lock: wrote infra/requirements-dev.lock" >&2
