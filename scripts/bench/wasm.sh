#!/usr/bin/env bash
# Measures the release wasm under Viceroy: CPU per request, origin reads per
# request, Viceroy memory under concurrent segment requests, and module size.
# Prints a Markdown table (figures in BENCHMARKS.md).
#
#   bash scripts/bench/wasm.sh [N] [COLD_RUNS]
#   OUTPUT_CACHE=off bash scripts/bench/wasm.sh …   (package every request)
#   WASM=other.wasm bash scripts/bench/wasm.sh …   (another build, not rebuilt)
#   SET_SUMMARY=off OUTPUT_CACHE=off bash scripts/bench/wasm.sh …
#                                (warm manifests from the indexes, not the
#                                 cached set summary)
#
#   N          sequential requests per warm measurement (default 200)
#   COLD_RUNS  fresh Viceroy processes for the cold manifest (default 5)
#
# Method. Viceroy does not report guest CPU, so the CPU time of the Viceroy
# process (utime + stime from /proc/PID/stat, clock ticks) is read before
# and after N sequential requests of one kind over one keep-alive connection
# and divided by N ("raw"). The same is done for N `/health` requests, which
# run the same wasm entry point and do no packaging; "net" is raw minus that
# baseline, i.e. the cost of the packaging work and of the origin reads it
# makes (Viceroy's HTTP client is host code, so origin I/O is in both).
# Cold = the first request to a fresh Viceroy process (empty edge cache),
# after one /health request so process start-up is not counted.
#
# Memory: the wasm heap is not visible from outside; Viceroy's peak RSS
# growth (VmHWM after clearing it through /proc/PID/clear_refs) while 1 and
# 16 requests run concurrently is reported as an upper bound of what the
# requests hold (it includes wasm instance memory, host buffers and stacks).
#
# Guest share: when `perf` is installed (Debian: linux-perf), each warm
# measurement is repeated under `perf record -e cpu-clock` on the Viceroy
# process, started with `--profile=perfmap` so the JIT-compiled wasm
# functions have names; "wasm ms" is raw CPU × the share of samples in JIT
# code, i.e. the time spent executing the module's own code (memory.copy
# runs in libc's memmove and page faults in the kernel: both are counted
# as host time, so this is a lower bound of what Fastly would charge).
#
# Module time: every answer the module builds in memory (manifests, init
# segments; hits and misses of the output cache) carries `Server-Timing`
# `dur`, taken inside the module with the monotonic clock from its first
# instruction until the answer's head is ready, and `cache` dur, the part
# of it spent in platform cache calls. Without that part it still counts
# the other host calls (request and config reads) and any time the thread
# is descheduled, and not instantiation (the platform's): an upper bound of
# the module's CPU for the request. Median and minimum over N requests
# stay put when other work shares the machine, where the perf share and
# the process ticks move by 2×.
#
# Bounded: every request has a 30 s limit, counts are fixed, and the whole
# script stops itself after 15 minutes. Origin and Viceroy run on loopback
# only and are stopped on exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ -d $HOME/.cargo/bin && :$PATH: != *":$HOME/.cargo/bin:"* ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

N=${1:-200}
COLD_RUNS=${2:-5}
# WASM=path measures another build (e.g. an earlier commit's, for a before
# and after table); by default the release build of this tree.
WASM=${WASM:-}
HZ=$(getconf CLK_TCK)
LONG=long_2h.mp4
ABR=abr/abr.ism
VIDEO_720_BITRATE=1000000 # systemBitrate of video_720.mp4 in abr.ism

say() { printf 'wasm.sh: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

for f in "fixtures/media/$LONG" "fixtures/media/$ABR"; do
  [[ -f $f ]] || die "$f missing: run bash fixtures/generate.sh"
done
command -v viceroy >/dev/null || die "viceroy not found (scripts/setup.sh installs it)"

# The whole script is bounded: a watchdog ends it after 15 minutes.
main_pid=$$
(sleep 900 && say "time limit reached" && kill -TERM "$main_pid") 2>/dev/null &
watchdog=$!

tmp=$(mktemp -d)
origin_pid=
edge_pid=
cleanup() {
  local pid
  # The watchdog's `sleep` first: left behind, it would hold this script's
  # stdout open for 15 minutes (a pipe reading the table would wait).
  pkill -P "$watchdog" 2>/dev/null || true
  for pid in $edge_pid $origin_pid $watchdog; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

if [[ -z $WASM ]]; then
  WASM=target/wasm32-wasip1/release/edgepack.wasm
  say "building $WASM"
  cargo build --quiet --release --target wasm32-wasip1 --bin edgepack
fi
[[ -f $WASM ]] || die "$WASM missing"

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# --- origin ---------------------------------------------------------------
node origin/server.js --port 0 --root fixtures/media >"$tmp/origin.out" 2>&1 &
origin_pid=$!
for _ in $(seq 100); do
  grep -q '"listening"' "$tmp/origin.out" 2>/dev/null && break
  sleep 0.1
done
origin_url=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$tmp/origin.out" | head -1)
[[ -n $origin_url ]] || die "origin did not start: $(cat "$tmp/origin.out")"
sed "s#^url = \"http://127.0.0.1:8081\"#url = \"$origin_url\"#" fastly.toml >"$tmp/fastly.toml"
grep -q "$origin_url" "$tmp/fastly.toml" || die "could not point fastly.toml at $origin_url"
# OUTPUT_CACHE=off measures packaging on every request (warm = cached
# indexes only); the default measures what fastly.toml configures (warm
# repeats are output-cache hits).
if [[ ${OUTPUT_CACHE:-} == off ]]; then
  sed -i 's/^output_cache = .*/output_cache = "off"/' "$tmp/fastly.toml"
  grep -q '^output_cache = "off"' "$tmp/fastly.toml" || die "fastly.toml has no output_cache line to turn off"
fi
# SET_SUMMARY=off: every manifest from the indexes (src/summary.rs).
if [[ ${SET_SUMMARY:-} == off ]]; then
  sed -i 's/^output_cache = \(.*\)$/output_cache = \1\nset_summary = "off"/' "$tmp/fastly.toml"
  grep -q '^set_summary = "off"' "$tmp/fastly.toml" || die "could not turn set_summary off"
fi

origin_reads() { curl -s --max-time 5 "$origin_url/__log" | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).length))'; }
origin_reset() { curl -s --max-time 5 -X POST "$origin_url/__log/reset" >/dev/null; }

# --- edge -----------------------------------------------------------------
PERF=0
PROFILE=()
if command -v perf >/dev/null && perf record -q -e cpu-clock -o "$tmp/probe.data" -- true >/dev/null 2>&1; then
  PERF=1
  PROFILE=(--profile=perfmap)
fi
edge=
start_edge() {
  local port i
  port=$(free_port)
  edge="http://127.0.0.1:$port"
  viceroy "$WASM" "${PROFILE[@]}" -C "$tmp/fastly.toml" --addr "127.0.0.1:$port" >>"$tmp/viceroy.log" 2>&1 &
  edge_pid=$!
  for i in $(seq 300); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$edge/health") == 200 ]]; then
      return 0
    fi
    kill -0 "$edge_pid" 2>/dev/null || die "viceroy exited: $(tail -5 "$tmp/viceroy.log")"
    sleep 0.1
  done
  die "viceroy did not answer /health"
}
stop_edge() {
  kill "$edge_pid" 2>/dev/null || true
  wait "$edge_pid" 2>/dev/null || true
  edge_pid=
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$edge_pid/stat"; }

# get PATH: body of a 200 answer (fails otherwise).
get() {
  local code
  code=$(curl -s -o "$tmp/body" -w '%{http_code}' --max-time 30 "$edge$1")
  [[ $code == 200 ]] || {
    say "GET $1 -> $code: $(head -c 300 "$tmp/body")"
    return 1
  }
  cat "$tmp/body"
}

# repeat PATH COUNT: COUNT sequential GETs on one connection; prints the
# CPU ticks Viceroy used and the wall seconds.
repeat() {
  local cfg="$tmp/curl.cfg" i t0 t1 c0 c1
  : >"$cfg"
  for ((i = 0; i < $2; i++)); do
    printf 'url = "%s%s"\noutput = "/dev/null"\n' "$edge" "$1" >>"$cfg"
  done
  c0=$(cpu_ticks)
  t0=$(date +%s.%N)
  curl -s --max-time 300 -K "$cfg" -w '%{http_code} %header{server-timing}\n' >"$tmp/codes"
  t1=$(date +%s.%N)
  c1=$(cpu_ticks)
  if grep -qv '^200 ' "$tmp/codes"; then
    say "$1: non-200 answers: $(sort "$tmp/codes" | uniq -c | tr '\n' ' ')"
    return 1
  fi
  echo "$((c1 - c0)) $(echo "$t1 - $t0" | bc -l)"
}

# guest_share PATH COUNT: percentage of CPU samples in JIT-compiled wasm
# code while COUNT sequential GETs of PATH run ("–" without perf).
guest_share() {
  local cfg="$tmp/curl.cfg" i perf_pid
  if [[ $PERF != 1 ]]; then
    echo "–"
    return
  fi
  : >"$cfg"
  for ((i = 0; i < $2; i++)); do
    printf 'url = "%s%s"\noutput = "/dev/null"\n' "$edge" "$1" >>"$cfg"
  done
  perf record -q -e cpu-clock -F 2999 -p "$edge_pid" -o "$tmp/perf.data" >/dev/null 2>&1 &
  perf_pid=$!
  sleep 0.5
  curl -s --max-time 300 -K "$cfg" >/dev/null
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  perf report -i "$tmp/perf.data" --sort dso --stdio 2>/dev/null |
    awk '/\[JIT\]/ {gsub("%", "", $1); s += $1} END {printf "%.1f", s}'
}

ms() { echo "scale=3; $1 * 1000 / $HZ / $2" | bc -l; }
rows=()
# The module's time per request of the last `repeat`, from the
# `Server-Timing` each answer carries (measured inside the module from its
# first instruction to the answer's head): `module_ms 1` the whole of it,
# `module_ms 2` without its `cache` part (time in platform cache calls),
# i.e. the module's own code plus its other host calls. "median [min,
# p90]" in ms, or "–" when the answers carry none (streamed segments).
module_ms() {
  sed -n 's/.*edgepack;[^,]*dur=\([0-9.]*\), cache;dur=\([0-9.]*\).*/\1 \2/p' "$tmp/codes" |
    awk -v own="$1" '{ printf "%.3f\n", (own == 2 ? $1 - $2 : $1) }' | sort -g | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "–"; exit }
      p90 = int(NR * 0.9)
      if (p90 < NR * 0.9) p90++
      printf "%.3f [%.3f, %.3f]", v[int((NR + 1) / 2)], v[1], v[p90]
    }'
}
row() { rows+=("| $1 | $2 | $3 | $4 | $5 | $6 | ${7:-–} | ${8:-–} | ${9:-–} | ${10:-–} |"); }

start_edge
origin_reset

# The URLs: long_2h's playlists and the middle 6 s segment of the 720p
# rendition, taken from the playlists the edge itself writes.
long_master="/$LONG/master.m3u8"
long_mpd="/$LONG/manifest.mpd"
long_smooth="/$LONG/manifest"
long_ts_master="/$LONG/manifest(format=m3u8-aapl)"
master=$(get "$long_master") || die "no master playlist"
media_rel=$(grep -v '^#' <<<"$master" | grep -m1 'Manifest(video' || true)
[[ -n $media_rel ]] || die "no video playlist in $long_master"
long_media="/$LONG/$media_rel"
iframe_rel=$(get "$long_ts_master" | sed -n 's/^#EXT-X-I-FRAME-STREAM-INF:.*URI="\([^"]*\)".*/\1/p' | head -1)
long_iframes="/$LONG/$iframe_rel"
abr_master="/$ABR/manifest(format=m3u8-cmaf)"
abr_media="/$ABR/QualityLevels($VIDEO_720_BITRATE)/Manifest(video,format=m3u8-cmaf).m3u8"
abr_media_body=$(get "$abr_media") || die "no 720p playlist"
frag=$(grep -v '^#' <<<"$abr_media_body" | grep 'Fragments(' | sed -n 3p)
[[ -n $frag ]] || die "no third segment in $abr_media"
seg720="/$ABR/QualityLevels($VIDEO_720_BITRATE)/$frag"
seg720_bytes=$(curl -s -o /dev/null -w '%{size_download}' "$edge$seg720")
frag240=$(get "/$ABR/QualityLevels(250000)/Manifest(video,format=m3u8-cmaf).m3u8" |
  grep -v '^#' | grep 'Fragments(' | sed -n 3p)
seg240="/$ABR/QualityLevels(250000)/$frag240"
seg240_bytes=$(curl -s -o /dev/null -w '%{size_download}' "$edge$seg240")
ts_master="/$ABR/manifest(format=m3u8-aapl)"
ts_code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$edge$ts_master")

# --- cold manifest: one request to a fresh process ----------------------
stop_edge
cold_ticks=0
cold_reads=0
cold_share="–"
for ((r = 0; r < COLD_RUNS; r++)); do
  start_edge
  get /health >/dev/null
  origin_reset
  if [[ $PERF == 1 && $r == 0 ]]; then
    perf record -q -e cpu-clock -F 2999 -p "$edge_pid" -o "$tmp/cold.data" >/dev/null 2>&1 &
    cold_perf=$!
    sleep 0.5
  fi
  c0=$(cpu_ticks)
  get "$long_master" >/dev/null || die "cold manifest failed"
  c1=$(cpu_ticks)
  if [[ $PERF == 1 && $r == 0 ]]; then
    kill -INT "$cold_perf" 2>/dev/null || true
    wait "$cold_perf" 2>/dev/null || true
    cold_share=$(perf report -i "$tmp/cold.data" --sort dso --stdio 2>/dev/null |
      awk '/\[JIT\]/ {gsub("%", "", $1); s += $1} END {printf "%.1f", s}')
  fi
  cold_ticks=$((cold_ticks + c1 - c0))
  cold_reads=$((cold_reads + $(origin_reads)))
  stop_edge
done
start_edge

# --- warm: N sequential requests each ------------------------------------
read -r base_ticks base_wall < <(repeat /health "$N")
base_ms=$(ms "$base_ticks" "$N")
row "/health (baseline)" "$N" "$(ms "$base_ticks" "$N")" "0" \
  "$(echo "scale=3; $base_wall * 1000 / $N" | bc -l)" "0"
cold_ms=$(ms "$cold_ticks" "$COLD_RUNS")
cold_guest="–"
if [[ $cold_share != "–" ]]; then
  cold_guest=$(echo "scale=3; $cold_ms * $cold_share / 100" | bc -l)
  cold_share="$cold_share % (1st run)"
fi
row "cold HLS master, 2 h (fresh process)" "$COLD_RUNS" "$cold_ms" \
  "$(echo "$cold_ms - $base_ms" | bc -l)" "–" \
  "$(echo "scale=1; $cold_reads / $COLD_RUNS" | bc -l)" "$cold_share" "$cold_guest"

warm() { # NAME PATH
  local ticks wall raw reads share guest="–" module own
  get "$2" >/dev/null || return 0
  origin_reset
  read -r ticks wall < <(repeat "$2" "$N") || return 0
  module=$(module_ms 1)
  own=$(module_ms 2)
  reads=$(origin_reads)
  raw=$(ms "$ticks" "$N")
  share=$(guest_share "$2" "$N")
  if [[ $share != "–" ]]; then
    guest=$(echo "scale=3; $raw * $share / 100" | bc -l)
    share="$share %"
  fi
  row "$1" "$N" "$raw" "$(echo "$raw - $base_ms" | bc -l)" \
    "$(echo "scale=3; $wall * 1000 / $N" | bc -l)" "$(echo "scale=2; $reads / $N" | bc -l)" \
    "$share" "$guest" "$module" "$own"
}
warm "warm HLS master, 2 h" "$long_master"
warm "warm HLS media playlist, 2 h video" "$long_media"
warm "warm DASH MPD, 2 h" "$long_mpd"
warm "warm Smooth manifest, 2 h" "$long_smooth"
warm "warm HLS TS master, 2 h" "$long_ts_master"
if [[ -n $iframe_rel ]]; then
  warm "warm HLS I-frame playlist, 2 h video" "$long_iframes"
fi
warm "warm HLS master, ABR .ism" "$abr_master"
warm "warm 6 s 720p segment ($seg720_bytes B)" "$seg720"
warm "warm 6 s 240p segment ($seg240_bytes B)" "$seg240"
if [[ $ts_code == 200 ]]; then
  ts_media=$(get "$ts_master" | grep -v '^#' | grep -m1 'QualityLevels(1000000)' || true)
  if [[ -n $ts_media ]]; then
    ts_seg=$(get "/$ABR/$ts_media" | grep -v '^#' | sed -n 3p)
    ts_path="/$ABR/QualityLevels($VIDEO_720_BITRATE)/$ts_seg"
    ts_bytes=$(curl -s -o /dev/null -w '%{size_download}' "$edge$ts_path")
    warm "warm 6 s 720p TS segment, video only ($ts_bytes B)" "$ts_path"
  fi
else
  row "warm TS segment (format=m3u8-aapl)" "–" "answers $ts_code: skipped" "" "" "" "" ""
fi

# --- memory: Viceroy peak RSS growth under concurrent requests ------------
status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$edge_pid/status"; }
concurrent() { # PATH COUNT: peak RSS growth in KB while COUNT run at once
  local cfg="$tmp/par.cfg" i before
  : >"$cfg"
  for ((i = 0; i < $2; i++)); do
    printf 'url = "%s%s"\noutput = "/dev/null"\n' "$edge" "$1" >>"$cfg"
  done
  echo 5 >"/proc/$edge_pid/clear_refs"
  before=$(status_kb VmRSS)
  curl -s --no-progress-meter --max-time 120 --parallel --parallel-immediate --parallel-max "$2" -K "$cfg" >/dev/null 2>&1
  echo $(($(status_kb VmHWM) - before))
}
mem_rows=()
for spec in "720p segment:$seg720" "240p segment:$seg240" "2 h HLS master (warm):$long_master"; do
  name=${spec%%:*}
  path=${spec#*:}
  one=$(concurrent "$path" 1)
  sixteen=$(concurrent "$path" 16)
  mem_rows+=("| $name | $((one / 1024)) MB | $((sixteen / 1024)) MB | $(((sixteen / 16) / 1024)) MB |")
done
rss_idle=$(status_kb VmRSS)

# --- sizes ----------------------------------------------------------------
size() { stat -c %s "$1"; }
wasm_size=$(size "$WASM")
strip_size="(wasm-strip not installed)"
opt_size="(wasm-opt not installed)"
if command -v wasm-strip >/dev/null; then
  cp "$WASM" "$tmp/stripped.wasm"
  wasm-strip "$tmp/stripped.wasm"
  strip_size=$(size "$tmp/stripped.wasm")
fi
if command -v wasm-opt >/dev/null; then
  # --enable-bulk-memory etc.: the features rustc's wasm32-wasip1 target emits.
  if wasm-opt -Oz --strip-debug --strip-producers --all-features "$WASM" -o "$tmp/opt.wasm" 2>"$tmp/opt.err"; then
    opt_size=$(size "$tmp/opt.wasm")
  else
    opt_size="(wasm-opt failed: $(head -c 120 "$tmp/opt.err"))"
  fi
fi

# --- report ---------------------------------------------------------------
cat <<EOF

## wasm under Viceroy ($(viceroy --version 2>/dev/null), $(nproc) CPUs, CLK_TCK $HZ)

CPU = Viceroy process utime+stime per request; net = raw − /health baseline.
Tick resolution is $((1000 / HZ)) ms over the whole run (±$(echo "scale=3; 1000 / $HZ / $N" | bc -l) ms per request at N=$N; ±$((1000 / HZ / COLD_RUNS)) ms for the cold row).

| request | n | CPU raw ms/req | CPU net ms/req | wall ms/req | origin reads/req | in wasm code | wasm ms/req | module ms (Server-Timing) median [min, p90] | same without cache calls |
|---|---|---|---|---|---|---|---|---|---|
EOF
printf '%s\n' "${rows[@]}"
cat <<EOF

Viceroy peak RSS growth (VmHWM − VmRSS before; upper bound of the requests' memory). Idle RSS after the runs: $((rss_idle / 1024)) MB.

| requests | 1 at a time | 16 concurrent | 16 concurrent ÷ 16 |
|---|---|---|---|
EOF
printf '%s\n' "${mem_rows[@]}"
cat <<EOF

| wasm module | bytes |
|---|---|
| release ($WASM) | $wasm_size |
| after wasm-strip | $strip_size |
| after wasm-opt -Oz (strip debug, producers) | $opt_size |
EOF
