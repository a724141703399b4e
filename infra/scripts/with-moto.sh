#!/usr/bin/env bash
# Runs a command with a private moto server (DynamoDB, Secrets Manager, Lambda stand-in) on a free loopback port.
# Exports AWS_ENDPOINT_URL and dummy credentials for the command, and stops moto by its PID however the command
# ends. Usage: infra/scripts/with-moto.sh <command> [args...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$root/infra/scripts/venv.sh"

port="${MOTO_PORT:-$("$root/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')}"
log="$root/target/moto-$port.log"
mkdir -p "$root/target"
# moto_server.py: moto with each DynamoDB request atomic, as in DynamoDB (see the script).
"$root/.venv/bin/python" "$root/infra/scripts/moto_server.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
cleanup() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do
  if "$root/.venv/bin/python" - "$port" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
PY
  if ! kill -0 "$moto_pid" 2>/dev/null; then echo "moto failed to start; see $log" >&2; exit 1; fi
  sleep 0.2
done
echo "moto: listening on http://127.0.0.1:$port (pid $moto_pid)" >&2

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE
"$@"
