#!/usr/bin/env bash
# Runs edgepack locally: the origin bucket (origin/server.js serving
# fixtures/media on 127.0.0.1:8081) and the edge on 127.0.0.1:7676: the release
# wasm under Viceroy, or with --runtime wasi-http the wasi:http component under
# jco (scripts/wasi-http/serve.mjs). Ctrl-C stops both.
#
#   bash scripts/run.sh                       # serves fixtures/media
#   bash scripts/run.sh --media DIR           # serves your own folder of .mp4 / .ism sets
#   bash scripts/run.sh --runtime wasi-http   # fastly (default) or wasi-http; combines with --media
#   bash scripts/run.sh --origin azurite      # local (default), azurite or s3: a private
#                                             # bucket loaded with the media; the edge signs
#
# Origin requests are logged as JSON lines to out/origin.log (--origin local);
# a bucket server's output goes to out/bucket.log, and its URL, settings and
# credentials to out/bucket/bucket.json.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

MEDIA=fixtures/media
RUNTIME=fastly
ORIGIN=local
while (($#)); do
  case $1 in
    --origin)
      [[ $# -ge 2 ]] || { echo "run: --origin needs local, azurite or s3" >&2; exit 2; }
      ORIGIN=$2
      shift 2
      ;;
    --origin=*) ORIGIN=${1#--origin=}; shift ;;
    --media)
      [[ $# -ge 2 ]] || { echo "run: --media needs a folder" >&2; exit 2; }
      MEDIA=$2
      shift 2
      ;;
    --media=*) MEDIA=${1#--media=}; shift ;;
    --runtime)
      [[ $# -ge 2 ]] || { echo "run: --runtime needs fastly or wasi-http" >&2; exit 2; }
      RUNTIME=$2
      shift 2
      ;;
    --runtime=*) RUNTIME=${1#--runtime=}; shift ;;
    -h | --help) sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
case $RUNTIME in
  fastly | wasi-http) ;;
  *) echo "run: --runtime must be fastly or wasi-http, not $RUNTIME" >&2; exit 2 ;;
esac
case $ORIGIN in
  local | azurite | s3) ;;
  *) echo "run: --origin must be local, azurite or s3, not $ORIGIN" >&2; exit 2 ;;
esac

if [[ -d $HOME/.cargo/bin && :$PATH: != *":$HOME/.cargo/bin:"* ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

ORIGIN_ADDR=127.0.0.1:8081 # must match [local_server.backends.origin] in fastly.toml
EDGE_ADDR=127.0.0.1:7676
if [[ $RUNTIME == wasi-http ]]; then
  WASM=target/wasm32-wasip2/release/edgepack.wasm
else
  WASM=target/wasm32-wasip1/release/edgepack.wasm
fi
ORIGIN_LOG=out/origin.log
BUCKET_LOG=out/bucket.log
BUCKET_OUT=out/bucket

say() { printf 'run: %s\n' "$*"; }
die() {
  printf 'run: error: %s\n' "$*" >&2
  exit 1
}

# port_busy HOST:PORT: succeeds when something already listens there.
port_busy() { (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }

# wait_for_port HOST:PORT PID NAME: waits until the port answers (up to 15 s).
wait_for_port() {
  local i
  for ((i = 0; i < 150; i++)); do
    port_busy "$1" && return 0
    kill -0 "$2" 2>/dev/null || die "$3 exited before listening on $1"
    sleep 0.1
  done
  die "$3 did not listen on $1 within 15 s"
}

bash scripts/setup.sh
[[ -d $MEDIA ]] || die "$MEDIA is not a folder"
MEDIA=$(cd "$MEDIA" && pwd)

say "building $WASM"
if [[ $RUNTIME == wasi-http ]]; then
  cargo rustc --release --target wasm32-wasip2 --lib --crate-type cdylib
else
  cargo build --release --target wasm32-wasip1 --bin edgepack
fi

# A bucket server takes a free port of its own; only the local origin needs 8081.
addrs=("$EDGE_ADDR")
[[ $ORIGIN != local ]] || addrs+=("$ORIGIN_ADDR")
for addr in "${addrs[@]}"; do
  if port_busy "$addr"; then
    die "$addr is already in use (another scripts/run.sh?)"
  fi
done

origin_pid=
edge_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  trap - INT TERM EXIT
  local pid
  for pid in $edge_pid $origin_pid; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $edge_pid $origin_pid; do
    wait "$pid" 2>/dev/null || true
  done
  say "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$(dirname "$ORIGIN_LOG")"
CONFIG=fastly.toml
if [[ $ORIGIN == local ]]; then
  say "origin: http://$ORIGIN_ADDR ($MEDIA; request log: $ORIGIN_LOG)"
  node origin/server.js --port "${ORIGIN_ADDR#*:}" --root "$MEDIA" >>"$ORIGIN_LOG" 2>&1 &
  origin_pid=$!
  wait_for_port "$ORIGIN_ADDR" "$origin_pid" origin
else
  # scripts/bucket.js starts the server, uploads $MEDIA and writes the edge's
  # config (fastly.toml with the Secret Store, wasi-http.env) to $BUCKET_OUT;
  # bucket.json appears last, once everything is ready.
  say "origin: $ORIGIN bucket loaded with $MEDIA (log: $BUCKET_LOG)"
  rm -f "$BUCKET_OUT/bucket.json" # a previous run's
  node scripts/bucket.js --origin "$ORIGIN" --media "$MEDIA" --out "$BUCKET_OUT" >>"$BUCKET_LOG" 2>&1 &
  origin_pid=$!
  for ((i = 0; i < 1800; i++)); do
    [[ -f $BUCKET_OUT/bucket.json ]] && break
    kill -0 "$origin_pid" 2>/dev/null || die "the $ORIGIN bucket exited before it was ready (see $BUCKET_LOG)"
    sleep 0.1
  done
  [[ -f $BUCKET_OUT/bucket.json ]] || die "the $ORIGIN bucket was not ready within 180 s (see $BUCKET_LOG)"
  CONFIG=$BUCKET_OUT/fastly.toml
  bucket_field() { node -p "const b = require('./$BUCKET_OUT/bucket.json'); $1"; }
  ORIGIN_URL=$(bucket_field b.url)
  say "origin: $ORIGIN on $ORIGIN_URL ($(bucket_field 'b.files') files in $(bucket_field 'b.ms') ms); settings and credentials: $BUCKET_OUT/bucket.json"
  ORIGIN_OBJECT="$(bucket_field b.sampleObjectUrl) (private: the edge signs, origin_auth=$(bucket_field b.settings.origin_auth))"
fi

if [[ $RUNTIME == wasi-http ]]; then
  # The component reads environment variables instead of fastly.toml's config
  # store: the same settings, as EDGEPACK_* (scripts/wasi-http/settings.js).
  settings=()
  if [[ $ORIGIN == local ]]; then
    settings_text=$(node scripts/wasi-http/settings.js) || die "cannot read the settings in fastly.toml"
    [[ -z $settings_text ]] || mapfile -t settings <<<"$settings_text"
    settings+=("EDGEPACK_ORIGIN=http://$ORIGIN_ADDR")
  else
    # The settings, the signing settings and credentials, and EDGEPACK_ORIGIN.
    mapfile -t settings <"$BUCKET_OUT/wasi-http.env"
  fi
  say "edge: jco (scripts/wasi-http/serve.mjs) $WASM on http://$EDGE_ADDR"
  env "${settings[@]}" node scripts/wasi-http/serve.mjs --addr "$EDGE_ADDR" --component "$WASM" &
  edge_pid=$!
  wait_for_port "$EDGE_ADDR" "$edge_pid" "the wasi:http edge"
else
  say "edge: viceroy $WASM on http://$EDGE_ADDR ($CONFIG)"
  viceroy "$WASM" -C "$CONFIG" --addr "$EDGE_ADDR" &
  edge_pid=$!
  wait_for_port "$EDGE_ADDR" "$edge_pid" viceroy
fi

base="http://$EDGE_ADDR"
if [[ $MEDIA != "$(pwd)/fixtures/media" ]]; then
  echo
  echo "edgepack is serving $MEDIA. Try (first 20 files and sets):"
  (cd "$MEDIA" && find . -maxdepth 3 \( -name '*.mp4' -o -name '*.ism' \) | sed 's|^\./||' | sort | head -20) |
    while read -r f; do
      printf '  %s\n    HLS   %s/%s/manifest(format=m3u8-cmaf)\n    DASH  %s/%s/manifest(format=mpd-time-cmaf)\n' \
        "$f" "$base" "$f" "$base" "$f"
    done
  echo "  player  $base/player"
  echo
  echo "Ctrl-C stops both."
else
  cat <<EOF

edgepack is running. Try:
  player          $base/player
  HLS (CMAF)      $base/abr/abr.ism/manifest(format=m3u8-cmaf)
  DASH (CMAF)     $base/abr/abr.ism/manifest(format=mpd-time-cmaf)
  HLS, one .mp4   $base/muxed_moov_end.mp4/master.m3u8
  DASH, one .mp4  $base/muxed_moov_end.mp4/manifest.mpd
  HLS (MPEG-TS)   $base/abr/abr.ism/manifest(format=m3u8-aapl)
  Smooth          $base/abr/abr.ism/manifest
  origin bucket   ${ORIGIN_OBJECT:-http://$ORIGIN_ADDR/abr/abr.ism}

Ctrl-C stops both.
EOF
fi

# Returns when either process exits (or on Ctrl-C); the EXIT trap stops the other.
status=0
wait -n "$origin_pid" "$edge_pid" || status=$?
say "a process exited (status $status); stopping"
exit "$status"
