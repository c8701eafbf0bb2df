# shellcheck shell=bash
# Common set-up for scripts/run-local and scripts/test: pinned tools in caches outside the clone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FRONTDESK_CACHE="${FRONTDESK_CACHE:-$HOME/.cache/frontdesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FRONTDESK_CACHE/target}"
mkdir -p "$FRONTDESK_CACHE" "$CARGO_TARGET_DIR"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# A venv per content of requirements.txt, so changing a pin makes a new one.
ensure_venv() {
  local req="$ROOT/scripts/requirements.txt"
  local sum
  sum="$(sha256sum "$req" | cut -c1-12)"
  VENV="$FRONTDESK_CACHE/venv-$sum"
  if [ ! -x "$VENV/bin/moto_server" ] || [ ! -f "$VENV/.complete" ]; then
    log "installing pinned Python tools into $VENV (first run only)"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip >/dev/null
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    touch "$VENV/.complete"
  fi
  export PATH="$VENV/bin:$PATH"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts moto server on a free loopback port; exports AWS_ENDPOINT_URL and dummy credentials.
start_moto() {
  ensure_venv
  local port="${MOTO_PORT:-$(free_port)}"
  local logf="$FRONTDESK_CACHE/moto-$port.log"
  # scripts/moto_server.py: moto with DynamoDB requests serialised (see the file).
  python "$ROOT/scripts/moto_server.py" -H 127.0.0.1 -p "$port" >"$logf" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then cat "$logf" >&2; echo "moto server failed to start" >&2; return 1; fi
    sleep 0.1
  done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_DEFAULT_REGION="$AWS_REGION"
  log "moto server on $AWS_ENDPOINT_URL (pid $MOTO_PID, log $logf)"
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
}
