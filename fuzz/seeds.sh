#!/usr/bin/env bash
# Makes the seed corpus for the fuzz targets (corpus/ is gitignored): the
# committed fixtures/small files plus a few tiny MP4s (progressive and
# fragmented) (a few KB, so libFuzzer's
# mutations land in the moov rather than in megabytes of mdat), and index
# blobs built from them for the index_blob target.
#
# The text targets (ism, url, http, locator, webvtt, filter, licence, cpix) and
# the codec targets (av1_frame, hevc_slice: an av1C/hvcC and samples of
# fixtures/small/{av1,hevc}.mp4, framed as src/codec.rs says; `drive
# codec-seeds` rewrites them) are seeded from the committed seeds/<target>/
# files instead (the stable
# driver reads them directly; for libFuzzer they are copied to
# corpus/<target>/ below). seeds/url/tk-*
# carry tokens signed with the url target's key: `drive seeds` rewrites them.
#
#   bash fuzz/seeds.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
main=corpus/parse_index_segment
mkdir -p "$main" corpus/index_blob
cp ../fixtures/small/*.mp4 "$main/"
FF=(ffmpeg -hide_banner -nostdin -loglevel error -y)
src="testsrc=size=32x32:rate=24:duration=0.5"
tone="sine=frequency=440:sample_rate=48000:duration=0.5"
X264=(-c:v libx264 -pix_fmt yuv420p -g 6 -keyint_min 6 -sc_threshold 0)
"${FF[@]}" -f lavfi -i "$src" -f lavfi -i "$tone" "${X264[@]}" -c:a aac -ac 1 \
  -movflags +faststart "$main/tiny_muxed.mp4"
"${FF[@]}" -f lavfi -i "$src" -f lavfi -i "$tone" "${X264[@]}" -c:a aac -ac 1 \
  "$main/tiny_moov_end.mp4"
"${FF[@]}" -f lavfi -i "$src" "${X264[@]}" -bf 0 -an "$main/tiny_no_bframes.mp4"
"${FF[@]}" -f lavfi -i "$tone" -c:a aac -ac 2 "$main/tiny_aac.mp4"
# Fragmented (moof/trun parsing, base-offset rules, mfra): explicit base
# offsets with several fragments per GOP, CMAF-like, ISMV; and the hostile
# fragmented files of fixtures/hostile.py.
"${FF[@]}" -f lavfi -i "$src" -f lavfi -i "$tone" "${X264[@]}" -c:a aac -ac 1 \
  -movflags empty_moov -frag_duration 100000 "$main/tiny_frag.mp4"
"${FF[@]}" -f lavfi -i "$src" -f lavfi -i "$tone" "${X264[@]}" -c:a aac -ac 1 \
  -movflags frag_keyframe+delay_moov+default_base_moof "$main/tiny_cmaf.mp4"
"${FF[@]}" -f lavfi -i "$src" "${X264[@]}" -an -f ismv "$main/tiny_ismv.mp4"
cp ../fixtures/hostile/frag_*.mp4 "$main/"
if ffmpeg -hide_banner -encoders 2>/dev/null | grep -q libx265; then
  "${FF[@]}" -f lavfi -i "testsrc=size=32x32:rate=24:duration=0.25" -c:v libx265 \
    -x265-params log-level=none -tag:v hvc1 -an "$main/tiny_hevc.mp4"
fi
# Index blobs for index_blob: the index of each seed above.
cargo run --quiet --release --bin drive -- blobs
for t in ism url http locator webvtt filter licence cpix av1_frame hevc_slice; do
  mkdir -p "corpus/$t"
  cp seeds/$t/* "corpus/$t/"
done
ls -l "$main"
