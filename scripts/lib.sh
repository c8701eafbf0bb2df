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

# ---------------------------------------------------------------------------------------------
# Vendor mocks: one Prism (validating mock of the vendor's official OpenAPI spec) per vendor,
# each behind a frontdesk-recorder (recording reverse proxy with fault injection). See
# docs/local.md, "Vendor mocks".

PRISM_VERSION="5.16.0"
FRONTDESK_SPECS_DIR="${FRONTDESK_SPECS_DIR:-$ROOT/../shared/specs}"

# Installs @stoplight/prism-cli@$PRISM_VERSION into a cache directory per pinned version;
# sets PRISM to its executable.
ensure_prism() {
  local sum
  sum="$(printf '%s' "@stoplight/prism-cli@$PRISM_VERSION" | sha256sum | cut -c1-12)"
  PRISM_DIR="$FRONTDESK_CACHE/node-$sum"
  PRISM="$PRISM_DIR/node_modules/.bin/prism"
  if [ ! -x "$PRISM" ] || [ ! -f "$PRISM_DIR/.complete" ]; then
    command -v npm >/dev/null 2>&1 || { echo "npm not found: the vendor mocks need Node.js (18 or later) and npm" >&2; return 1; }
    log "installing @stoplight/prism-cli@$PRISM_VERSION into $PRISM_DIR (first run only)"
    rm -rf "$PRISM_DIR"
    mkdir -p "$PRISM_DIR"
    printf '{"name": "frontdesk-prism", "private": true}\n' >"$PRISM_DIR/package.json"
    if ! (cd "$PRISM_DIR" && npm install --no-audit --no-fund "@stoplight/prism-cli@$PRISM_VERSION" >"$PRISM_DIR/npm-install.log" 2>&1); then
      cat "$PRISM_DIR/npm-install.log" >&2
      echo "installing prism failed (log above)" >&2
      return 1
    fi
    touch "$PRISM_DIR/.complete"
  fi
}

# Writes ElevenLabs' spec with the register-call overlay merged in (Prism takes one document)
# to $FRONTDESK_CACHE/specs/, once per content of the two files; prints the path.
# The overlay's paths are added (operation-level `security` from the overlay's top level);
# its schemas are added, except that one whose name exists in the main spec with different
# content is renamed `<name>__overlay` (and the overlay's refs follow), so the main spec's
# operations keep their own schemas.
elevenlabs_spec() {
  local main="$FRONTDESK_SPECS_DIR/elevenlabs_openapi_2025-08.json"
  local overlay="$FRONTDESK_SPECS_DIR/elevenlabs_register_call_overlay.json"
  local sum out
  sum="$(cat "$main" "$overlay" | sha256sum | cut -c1-12)"
  out="$FRONTDESK_CACHE/specs/elevenlabs-merged-$sum.json"
  if [ ! -s "$out" ]; then
    mkdir -p "$FRONTDESK_CACHE/specs"
    python3 - "$main" "$overlay" "$out.tmp" <<'PY' || return 1
import json, sys
main_path, overlay_path, out = sys.argv[1:4]
spec = json.load(open(main_path))
overlay = json.load(open(overlay_path))
prefix = "#/components/schemas/"
schemas = spec.setdefault("components", {}).setdefault("schemas", {})
renames = {
    name: name + "__overlay"
    for name, schema in overlay.get("components", {}).get("schemas", {}).items()
    if name in schemas and schemas[name] != schema
}
def rewrite(v):
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k == "$ref" and isinstance(x, str) and x.startswith(prefix) and x[len(prefix):] in renames:
                out[k] = prefix + renames[x[len(prefix):]]
            else:
                out[k] = rewrite(x)
        return out
    if isinstance(v, list):
        return [rewrite(x) for x in v]
    return v
overlay = rewrite(overlay)
for kind, entries in overlay.get("components", {}).items():
    target = spec["components"].setdefault(kind, {})
    for name, value in entries.items():
        target[renames.get(name, name) if kind == "schemas" else name] = value
security = overlay.get("security")
for path, item in overlay.get("paths", {}).items():
    target = spec.setdefault("paths", {}).setdefault(path, {})
    for method, op in item.items():
        if isinstance(op, dict) and security is not None and "operationId" in op:
            op.setdefault("security", security)
        target[method] = op
json.dump(spec, open(out, "w"))
PY
    mv "$out.tmp" "$out" || return 1
  fi
  printf '%s\n' "$out"
}

# Starts the vendor mocks (default: twilio elevenlabs) and exports, per vendor,
# <VENDOR>_API_BASE (the recorder: what the code under test should call) and
# <VENDOR>_PRISM_URL (Prism itself, unrecorded). Needs the frontdesk-recorder binary
# ($CARGO_TARGET_DIR/debug, built here when missing). Prism logs: $FRONTDESK_CACHE/prism-<port>.log;
# recorder logs: $FRONTDESK_CACHE/recorder-<vendor>-<port>.log. FRONTDESK_MOCK_TIMEOUT: seconds
# to wait for the mocks (default 180; Prism takes ~25 s to load Twilio's spec).
start_vendor_mocks() {
  local vendors=("$@") vendor
  [ "${#vendors[@]}" -gt 0 ] || vendors=(twilio elevenlabs)
  for vendor in "${vendors[@]}"; do
    case "$vendor" in
      twilio | elevenlabs) ;;
      *) echo "start_vendor_mocks: unknown vendor $vendor (twilio, elevenlabs)" >&2; return 1 ;;
    esac
  done
  ensure_prism
  local recorder="$CARGO_TARGET_DIR/debug/frontdesk-recorder"
  if [ ! -x "$recorder" ]; then
    log "building frontdesk-recorder"
    (cd "$ROOT" && cargo build --locked --quiet -p frontdesk-localstack --bin frontdesk-recorder)
  fi
  local spec var port rport prism_pid rec_pid logf rlogf pfile
  local -a names=() vars=() ports=() prism_pids=() rec_pids=() pfiles=()
  for vendor in "${vendors[@]}"; do
    case "$vendor" in
      twilio) spec="$FRONTDESK_SPECS_DIR/twilio_api_v2010.json"; var=TWILIO ;;
      elevenlabs) spec="$(elevenlabs_spec)" || { stop_vendor_mocks; return 1; }; var=ELEVENLABS ;;
    esac
    [ -f "$spec" ] || { echo "start_vendor_mocks: $spec not found (FRONTDESK_SPECS_DIR=$FRONTDESK_SPECS_DIR)" >&2; stop_vendor_mocks; return 1; }
    port="$(free_port)"
    logf="$FRONTDESK_CACHE/prism-$port.log"
    "$PRISM" mock -h 127.0.0.1 -p "$port" "$spec" >"$logf" 2>&1 &
    prism_pid=$!
    pfile="$FRONTDESK_CACHE/recorder-$vendor-$port.port"
    rlogf="$FRONTDESK_CACHE/recorder-$vendor-$port.log"
    rm -f "$pfile"
    "$recorder" --listen 127.0.0.1:0 --upstream "http://127.0.0.1:$port" --name "$vendor" \
      --port-file "$pfile" >"$rlogf" 2>&1 &
    rec_pid=$!
    VENDOR_MOCK_PIDS="${VENDOR_MOCK_PIDS:-} $prism_pid $rec_pid"
    names+=("$vendor"); vars+=("$var"); ports+=("$port"); prism_pids+=("$prism_pid")
    rec_pids+=("$rec_pid"); pfiles+=("$pfile")
  done
  local timeout="${FRONTDESK_MOCK_TIMEOUT:-180}" i code started=$SECONDS
  log "starting vendor mocks (${names[*]}): Prism $PRISM_VERSION loads the specs (~25 s for Twilio)"
  for i in "${!names[@]}"; do
    port="${ports[$i]}"
    while :; do
      # Any HTTP answer (Prism says 404 to an unknown path) means the spec is loaded.
      code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/__frontdesk_ready" 2>/dev/null || true)"
      [ -n "$code" ] && [ "$code" != "000" ] && break
      if ! kill -0 "${prism_pids[$i]}" 2>/dev/null; then
        tail -n 30 "$FRONTDESK_CACHE/prism-$port.log" >&2
        echo "prism for ${names[$i]} exited during start-up (log $FRONTDESK_CACHE/prism-$port.log)" >&2
        stop_vendor_mocks; return 1
      fi
      if [ $((SECONDS - started)) -ge "$timeout" ]; then
        echo "prism for ${names[$i]} did not answer within ${timeout} s (log $FRONTDESK_CACHE/prism-$port.log)" >&2
        stop_vendor_mocks; return 1
      fi
      sleep 0.5
    done
    while [ ! -s "${pfiles[$i]}" ]; do
      if ! kill -0 "${rec_pids[$i]}" 2>/dev/null; then
        cat "$FRONTDESK_CACHE/recorder-${names[$i]}-$port.log" >&2
        echo "the recorder for ${names[$i]} exited during start-up" >&2
        stop_vendor_mocks; return 1
      fi
      sleep 0.1
    done
    rport="$(tr -d '[:space:]' <"${pfiles[$i]}")"
    export "${vars[$i]}_API_BASE=http://127.0.0.1:$rport"
    export "${vars[$i]}_PRISM_URL=http://127.0.0.1:$port"
    log "${names[$i]} mock: http://127.0.0.1:$rport (recorder, \$${vars[$i]}_API_BASE) -> prism http://127.0.0.1:$port (log $FRONTDESK_CACHE/prism-$port.log)"
  done
}

# Stops every Prism and recorder start_vendor_mocks started.
stop_vendor_mocks() {
  local pid
  for pid in ${VENDOR_MOCK_PIDS:-}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${VENDOR_MOCK_PIDS:-}; do wait "$pid" 2>/dev/null || true; done
  VENDOR_MOCK_PIDS=""
}
