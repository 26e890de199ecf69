#!/usr/bin/env bash
# Installs what edgepack's build and tests need, and only what is missing:
# Rust targets and components, Viceroy, ffmpeg and Chromium (Debian), the npm
# packages (jco among them, for the wasi:http build), then the generated
# fixtures. Each step checks first, so a run on a ready machine takes a second
# or two.
#
#   bash scripts/setup.sh
#
# EDGEPACK_SKIP_VICEROY=1 skips the Viceroy step (e.g. while one is being built);
# EDGEPACK_SKIP_WASM_BINDGEN=1 the wasm-bindgen-cli one.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VICEROY_VERSION=0.22.0
RUST_TARGETS=(wasm32-wasip1 wasm32-wasip2 wasm32-unknown-unknown)
RUST_COMPONENTS=(rustfmt clippy)

if [[ -d $HOME/.cargo/bin && :$PATH: != *":$HOME/.cargo/bin:"* ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

say() { printf 'setup: %s\n' "$*"; }
die() {
  printf 'setup: error: %s\n' "$*" >&2
  exit 1
}

# as_root CMD...: runs CMD as root (directly, or through sudo).
as_root() {
  if [[ $(id -u) == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root for: $*"
  fi
}

# --- Rust ---------------------------------------------------------------------
command -v rustup >/dev/null || die "rustup not found; install the Rust toolchain first"
command -v cargo >/dev/null || die "cargo not found; install the Rust toolchain first"

installed_targets=$(rustup target list --installed)
for target in "${RUST_TARGETS[@]}"; do
  if grep -qx "$target" <<<"$installed_targets"; then
    say "rust target $target: present"
  else
    say "rust target $target: installing"
    rustup target add "$target"
  fi
done

installed_components=$(rustup component list --installed)
for component in "${RUST_COMPONENTS[@]}"; do
  if grep -q "^$component\(-\|$\)" <<<"$installed_components"; then
    say "rust component $component: present"
  else
    say "rust component $component: installing"
    rustup component add "$component"
  fi
done

# --- Viceroy (local Fastly Compute runtime) ------------------------------------
if [[ ${EDGEPACK_SKIP_VICEROY:-0} == 1 ]]; then
  say "viceroy: skipped (EDGEPACK_SKIP_VICEROY=1)"
elif command -v viceroy >/dev/null; then
  say "viceroy: present ($(viceroy --version 2>/dev/null || echo 'version unknown'))"
else
  say "viceroy: installing $VICEROY_VERSION with cargo (takes several minutes)"
  cargo install viceroy --locked --version "$VICEROY_VERSION"
fi

# --- wasm-bindgen-cli (JS glue for the browser build, src/browser/) -----------
# Its version must equal the wasm-bindgen crate's in Cargo.lock exactly, or the
# glue it writes does not match the module.
wasm_bindgen_version=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[[ -n $wasm_bindgen_version ]] || die "no wasm-bindgen package in Cargo.lock"
if [[ ${EDGEPACK_SKIP_WASM_BINDGEN:-0} == 1 ]]; then
  say "wasm-bindgen-cli: skipped (EDGEPACK_SKIP_WASM_BINDGEN=1)"
elif [[ $(wasm-bindgen --version 2>/dev/null) == "wasm-bindgen $wasm_bindgen_version" ]]; then
  say "wasm-bindgen-cli: present ($wasm_bindgen_version)"
else
  say "wasm-bindgen-cli: installing $wasm_bindgen_version with cargo (takes 5-10 minutes)"
  # --locked first; if a locked dependency version is not in the registry
  # (0.2.130's pins webpki-roots 1.0.11, which our registry lacked), resolve afresh.
  cargo install wasm-bindgen-cli --locked --version "$wasm_bindgen_version" ||
    cargo install wasm-bindgen-cli --version "$wasm_bindgen_version"
fi

# --- Debian packages -----------------------------------------------------------
apt_missing=()
command -v ffmpeg >/dev/null || apt_missing+=(ffmpeg)
command -v chromium >/dev/null || apt_missing+=(chromium)
command -v node >/dev/null || apt_missing+=(nodejs)
command -v npm >/dev/null || apt_missing+=(npm)
if ((${#apt_missing[@]})); then
  say "apt: installing ${apt_missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${apt_missing[@]}"
else
  say "apt: ffmpeg, chromium, node and npm present"
fi

# GStreamer (adaptive demuxers hlsdemux2/dashdemux2/mssdemux2 are in -good
# since 1.22; the v1 ones in -bad) and libvlc with its Python bindings, for
# wasm-tests/gstreamer.test.js and vlc.test.js. Their drivers run with the
# system Python (/usr/bin/python3), which is where python3-gi and python3-vlc
# install. The lock timeout waits for another apt run instead of failing.
PLAYER_PACKAGES=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-libav python3-gi gir1.2-gstreamer-1.0
  gir1.2-gst-plugins-base-1.0 vlc-bin vlc-plugin-base python3-vlc
)
player_missing=()
for pkg in "${PLAYER_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || player_missing+=("$pkg")
done
if ((${#player_missing[@]})); then
  say "apt: installing ${player_missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${player_missing[@]}"
else
  say "apt: gstreamer and vlc present"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "node $(node --version) is too old; the tests need node 20 or newer"

# --- npm packages --------------------------------------------------------------
# npm writes node_modules/.package-lock.json on every install: older than the
# lockfile means the lockfile changed since. The bucket servers of
# wasm-tests/lib/buckets.js (azurite, @20minutes/s3rver) and the SDKs that load
# them are devDependencies: plain JS, nothing to compile, nothing else to
# install; --include=dev keeps them when NODE_ENV=production is set.
if [[ ! -f node_modules/.package-lock.json ]]; then
  say "npm: node_modules missing, running npm ci"
  npm ci --include=dev --no-audit --no-fund
elif [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "npm: package-lock.json changed, running npm ci"
  npm ci --include=dev --no-audit --no-fund
else
  say "npm: node_modules up to date"
fi

# --- fixtures ------------------------------------------------------------------
say "fixtures: fixtures/generate.sh"
bash fixtures/generate.sh
say "done"
