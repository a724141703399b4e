#!/usr/bin/env bash
# Creates/updates the repo-local virtualenv (.venv, git-ignored) from infra/requirements-dev.lock: every Python
# package pinned with its hashes (generated from infra/requirements-dev.txt by infra/scripts/python-lock.sh) and
# installed with `pip install --require-hashes`, so what runs is exactly what the lock names. Rebuilds the
# virtualenv from scratch when the lock changed, and only then. Prints nothing when up to date.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv"
lock="$root/infra/requirements-dev.lock"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$lock" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "venv: installing Python tools into $venv (moto, cfn-lint, aws-sam-cli, ...) from $(basename "$lock")" >&2
# --clear: nothing left over from an earlier lock.
python3 -m venv --clear "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
# First the lock's pip (its entry: the `pip==` line and the hash lines under it), since the pip a new virtualenv
# brings can be too old to install the rest of the lock in hash-checking mode; then everything with it.
pip_entry="$venv/pip-requirement.txt"
awk '/^pip==/ { entry = 1; print; next } entry && /^ / { print; next } { entry = 0 }' "$lock" >"$pip_entry"
"${pip[@]}" install --require-hashes --no-deps -r "$pip_entry" >&2
"${pip[@]}" install --require-hashes -r "$lock" >&2
echo "$want" > "$stamp"
