#!/usr/bin/env bash
# Creates/updates the repo-local virtualenv (.venv, git-ignored) from infra/requirements-dev.txt.
# Re-installs only when the requirements file changed. Prints nothing when up to date.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv"
req="$root/infra/requirements-dev.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "venv: installing Python tools into $venv (moto, cfn-lint, aws-sam-cli)" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --disable-pip-version-check -q --upgrade pip >&2
"$venv/bin/pip" install --disable-pip-version-check -q -r "$req" >&2
echo "$want" > "$stamp"
