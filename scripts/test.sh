#!/usr/bin/env bash
# edgepack's whole test suite: setup, formatting, lints, native tests, the
# release wasm build, and the black-box tests in wasm-tests/. Every stage runs
# (after setup) so one run reports every failure; the script fails if any did.
# A table of stage durations is printed at the end. The black-box tests run
# twice: under Viceroy (the Fastly build) and under jco (the wasi:http build).
#
#   bash scripts/test.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -d $HOME/.cargo/bin && :$PATH: != *":$HOME/.cargo/bin:"* ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

names=()
times=()
results=()
failed=0
# Microseconds since the epoch (bash 5's EPOCHREALTIME, digits only).
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }
# secs FROM_US: seconds elapsed since FROM_US, with one decimal.
secs() {
  local us=$(($(now_us) - $1))
  printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
}
t_all=$(now_us)

# shellcheck disable=SC2317 # called by the EXIT trap
summary() {
  local i overall=ok
  ((failed == 0)) || overall=FAIL
  echo
  echo "=== test.sh summary"
  for i in "${!names[@]}"; do
    printf '  %-30s %-5s %8ss\n' "${names[i]}" "${results[i]}" "${times[i]}"
  done
  printf '  %-30s %-5s %8ss\n' total "$overall" "$(secs "$t_all")"
  local passed=0 r
  for r in "${results[@]}"; do
    [[ $r == ok ]] && passed=$((passed + 1))
  done
  echo "stages: $passed passed, $((${#results[@]} - passed)) failed"
}
trap summary EXIT

# stage NAME CMD...: runs CMD, records its time and result.
stage() {
  local name=$1 t0 rc=0
  shift
  echo
  echo "=== $name: $*"
  t0=$(now_us)
  "$@" || rc=$?
  names+=("$name")
  times+=("$(secs "$t0")")
  if ((rc == 0)); then
    results+=(ok)
  else
    results+=(FAIL)
    failed=1
    echo "=== $name: FAILED (exit $rc)" >&2
  fi
  return "$rc"
}

# Without the tools nothing below means anything: stop if setup fails.
stage setup bash scripts/setup.sh || exit 1

stage "cargo fmt" cargo fmt --check || true
stage "cargo clippy" cargo clippy --all-targets -- -D warnings || true
# The edge adapter only compiles for wasm32-wasip1, so lint that target too.
stage "cargo clippy (wasm32-wasip1)" cargo clippy --target wasm32-wasip1 --bin edgepack -- -D warnings || true
# And the browser adapter only for wasm32-unknown-unknown.
stage "cargo clippy (wasm32-unknown)" cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings || true
# And the wasi:http adapter only for wasm32-wasip2.
stage "cargo clippy (wasm32-wasip2)" cargo clippy --target wasm32-wasip2 --lib -- -D warnings || true
# The fuzz targets (fuzz/, a crate of its own that the root build never
# compiles): type-checked so an API change cannot leave them broken.
stage "fuzz targets (check)" cargo check --manifest-path fuzz/Cargo.toml --target-dir target/fuzz --bins || true
stage "cargo test" cargo test --release || true
stage "wasm build" cargo build --release --target wasm32-wasip1 --bin edgepack || true
# The browser build (src/browser/): the wasm32-unknown-unknown cdylib and its
# glue for Node (wasm-tests/browser.test.js) and for the web (the service
# worker in wasm-tests/browser-sw.test.js).
# shellcheck disable=SC2317 # called through stage
browser_wasm() {
  local wasm=target/wasm32-unknown-unknown/release/edgepack.wasm
  cargo rustc --release --target wasm32-unknown-unknown --lib --crate-type cdylib &&
    wasm-bindgen --target nodejs --out-dir target/browser-node "$wasm" &&
    wasm-bindgen --target web --out-dir target/browser-web "$wasm"
}
stage "browser wasm" browser_wasm || true
# The wasi:http/proxy component (target/wasm32-wasip2/release/edgepack.wasm),
# served by scripts/wasi-http/serve.mjs (jco).
stage "wasi-http build" cargo rustc --release --target wasm32-wasip2 --lib --crate-type cdylib || true
stage "wasm-tests (fastly)" node --test wasm-tests/ || true
# The same black-box tests against the wasi:http build: every test file that
# starts an edge (the others, browser*.test.js, buckets.test.js and
# origin.test.js, do not depend on the runtime and ran above). The VLC and
# GStreamer suites judge the packaged bytes, which the platform-free core
# writes alike under either runtime (an adapter only fetches and streams);
# they ran above and are not repeated. The suites that exercise fetching and
# streaming (edge, faults, budgets, players, ffmpeg, ...) run again.
mapfile -t edge_tests < <(grep -l 'startEdge' wasm-tests/*.test.js | grep -v -e '/vlc\.test\.js$' -e '/gstreamer\.test\.js$')
stage "wasm-tests (wasi-http)" env EDGEPACK_RUNTIME=wasi-http node --test "${edge_tests[@]}" || true

exit "$failed"
