#!/usr/bin/python3
"""Plays an HLS / DASH / Smooth URL to the end with libvlc and reports what it saw.

    /usr/bin/python3 wasm-tests/lib/vlc_decode.py URL [--timeout S] [--rate R]
        [--max-height H] [--logic L] [--vlc-opt=--some-option ...]

libvlc (python3-vlc), not the `vlc`/`cvlc` programs: those refuse to run as
root, libvlc does not. Video goes to libvlc's memory output (vmem, through
libvlc_video_set_callbacks: every picture displayed is counted; the
decoder's size is kept, I420) and audio to its memory output (amem, S16 at
48 kHz: every sample played is counted). The input's own decoded_* counters
are not frame counts in libvlc 3.0 (about twice the frames decoded), so
they are reported but not used. Late frames are not dropped
(--no-drop-late-frames, --no-skip-frames, --avcodec-skip-frame=0,
--no-avcodec-hurry-up), so playing at --rate R (default 2) still shows every
frame; audio at rate R is resampled to 1/R of its samples (no time
stretching), so seconds played = samples × R / 48000. The adaptive module
(VLC's HLS, DASH and Smooth client) picks the rendition: --logic
(adaptive-logic, e.g. highest / lowest) and --max-height
(adaptive-maxheight) force one.

Prints one JSON object on stdout:

  version        libvlc version
  state          final player state (Ended / Error / … ; timed_out when cut)
  ended, error_event, timed_out, wall_s
  stats          media.get_stats(): decoded_video, decoded_audio (blocks),
                 displayed_pictures, lost_pictures, played_abuffers,
                 lost_abuffers, demux_corrupted, demux_discontinuity, read_bytes
  length_s, last_time_s   media length and the last player time seen
  pictures       distinct pictures displayed (a redisplay of the same picture
                 is not counted); displays: every display call
  video_formats  the sizes the output was set up for
  audio_samples, audio_buffers   what the audio output played
  messages       every log message at warning level or above:
                 [{ level: "warning"|"error", module, text }]
  flagged        messages at ANY level (debug included) that name a
                 discontinuity, a duplicate packet, a lost or corrupted
                 packet or picture: the signs of a broken stream
  hw_probe       hardware chromas the output refused (VLC offers VA-API and
                 VDPAU first) and the errors VLC logged for each refusal:
                 exactly those, nothing else, are left out of `messages`
  modules        modules that logged anything (shows which demux ran)
  rate           the playback rate
"""

import argparse
import ctypes
import json
import re
import sys
import threading
import time
import zlib

import vlc

LEVELS = {0: "debug", 2: "notice", 3: "warning", 4: "error"}
# Messages, at any level, that mean the stream is broken: VLC's TS demuxer
# reports continuity-counter breaks ("discontinuity received 0x3 instead of
# 0x7 (pid=256)") and duplicates, the mp4 demuxer fragment sequence gaps,
# decoders and outputs lost, corrupted or dropped data.
FLAG = re.compile(
    r"discontinuity|duplicate|continuity|corrupt|lost|dropp|too late|late picture|gap",
    re.I,
)
# Not a stream defect: VLC's mp4 demuxer starts its expected mfhd sequence
# number at 0 (UINT32_MAX + 1), so each new mp4 demuxer notes "N != 0" on the
# first fragment it sees: "1 != 0" for any stream numbered from 1 as ISO/IEC
# 14496-12 §8.8.5 has it (ffmpeg's, GPAC's and Bento4's output alike), "k
# != 0" when the adaptive module switches rendition at fragment k. A gap
# inside a rendition ("5 != 4") is still flagged.
NOT_FLAGGED = re.compile(r"^Fragment sequence discontinuity detected \d+ != 0$")
MAX_MESSAGES = 400
AOUT_RATE = 48000
# libvlc_video_format_cb / libvlc_video_cleanup_cb with a writable chroma
# (python-vlc declares it c_char_p, which cannot be written through).
FORMAT_CB = ctypes.CFUNCTYPE(
    ctypes.c_uint,
    ctypes.POINTER(ctypes.c_void_p),
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint),
    ctypes.POINTER(ctypes.c_uint),
    ctypes.POINTER(ctypes.c_uint),
    ctypes.POINTER(ctypes.c_uint),
)
CLEANUP_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
# Opaque hardware-surface chromas (VLC 3 vlc_fourcc.h): VA-API, VDPAU, DXVA2,
# D3D11, VideoToolbox, MMAL, Android.
# What VLC logs, once each, after the output refuses a hardware chroma.
HW_PROBE_ERRORS = {
    ("vmem", "video format setup failure (no pictures)"),
    ("main", "video output creation failed"),
    ("main", "failed to create video output"),
}
HW_CHROMAS = {b"VAOP", b"VDV0", b"VDV2", b"VDV4", b"VDR0", b"DXA9", b"DX10", b"DX11", b"DXR0", b"CVPX", b"MMAL", b"ANOP"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--rate", type=float, default=2.0)
    ap.add_argument("--max-height", type=int, default=0)
    ap.add_argument("--logic", default="")
    ap.add_argument("--vlc-opt", action="append", default=[], help="extra libvlc option (repeatable)")
    args = ap.parse_args()

    opts = [
        "--intf=dummy",
        "--vout=vdummy",
        "--aout=adummy",
        "--no-video-title-show",
        "--no-osd",
        "--text-renderer=none",
        "--no-spu",
        "--no-sub-autodetect-file",
        "--no-lua",
        "--no-drop-late-frames",
        "--no-skip-frames",
        "--avcodec-skip-frame=0",
        "--no-avcodec-hurry-up",
        "--avcodec-hw=none",
        "--no-audio-time-stretch",
        "--stats",
    ]
    opts += args.vlc_opt
    if args.logic:
        opts.append(f"--adaptive-logic={args.logic}")
    if args.max_height:
        opts.append(f"--adaptive-maxheight={args.max_height}")

    started = time.monotonic()
    instance = vlc.Instance(opts)
    if instance is None:
        print(json.dumps({"fatal": "libvlc_new failed (options: %s)" % " ".join(opts)}))
        return 2

    lock = threading.Lock()
    messages, flagged, modules = [], [], {}
    probe = {"refused": [], "budget": 0, "messages": []}

    libc = ctypes.CDLL(None)
    vsnprintf = libc.vsnprintf
    vsnprintf.restype = ctypes.c_int
    vsnprintf.argtypes = (ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p)

    @vlc.CallbackDecorators.LogCb
    def on_log(_data, level, ctx, fmt, va):
        buf = ctypes.create_string_buffer(2048)
        vsnprintf(buf, len(buf), fmt, va)
        text = buf.value.decode("utf-8", "replace").strip()
        try:
            module = (vlc.libvlc_log_get_context(ctx)[0] or b"").decode()
        except Exception:  # noqa: BLE001 - the context is best effort
            module = ""
        lvl = LEVELS.get(level, str(level))
        with lock:
            modules[module] = modules.get(module, 0) + 1
            if level == 4 and probe["budget"] > 0 and (module, text) in HW_PROBE_ERRORS:
                probe["budget"] -= 1
                probe["messages"].append(text)
                return
            if level >= 3 and len(messages) < MAX_MESSAGES:
                messages.append({"level": lvl, "module": module, "text": text})
            if FLAG.search(text) and not NOT_FLAGGED.search(text) and len(flagged) < MAX_MESSAGES:
                flagged.append({"level": lvl, "module": module, "text": text})

    instance.log_set(on_log, None)

    player = instance.media_player_new()
    media = instance.media_new(args.url)
    player.set_media(media)

    # Every picture the video output displays and every audio buffer it
    # plays, counted through libvlc's memory outputs (vmem / amem): the
    # input's decoded_* counters are not frame counts (libvlc 3.0.x reports
    # about twice the frames decoded).
    counts = {"pictures": 0, "displays": 0, "last_crc": None, "audio_samples": 0, "audio_buffers": 0, "formats": []}
    # The video format callback accepts the decoder's size (no scaling) and
    # asks for I420, so the memory output needs at most a chroma conversion.
    frame = {"buf": None, "planes": []}

    @FORMAT_CB
    def on_format(_opaque, chroma, width, height, pitches, lines):
        got = ctypes.string_at(chroma, 4)
        if got in HW_CHROMAS:
            # ffmpeg offers VAAPI/VDPAU first and VLC opens an output for
            # it before probing the device; refusing it here sends the
            # decoder to software decoding without a chain of "Failed to
            # create video converter" errors.
            with lock:
                probe["refused"].append(got.decode("latin1"))
                probe["budget"] += len(HW_PROBE_ERRORS)
            return 0
        ctypes.memmove(chroma, b"I420", 4)
        w, h = width[0], height[0]
        p0, l0 = (w + 31) // 32 * 32, (h + 15) // 16 * 16
        sizes = [(p0, l0), (p0 // 2, l0 // 2), (p0 // 2, l0 // 2)]
        buf = ctypes.create_string_buffer(sum(p * n for p, n in sizes))
        base = ctypes.addressof(buf)
        planes, off = [], 0
        for i, (p, n) in enumerate(sizes):
            pitches[i], lines[i] = p, n
            planes.append(base + off)
            off += p * n
        frame["buf"], frame["planes"], frame["luma"] = buf, planes, p0 * h
        counts["formats"].append(f"{w}x{h}")
        return 1

    @CLEANUP_CB
    def on_cleanup(_opaque):
        pass

    @vlc.CallbackDecorators.VideoLockCb
    def on_lock(_opaque, planes):
        for i, addr in enumerate(frame["planes"]):
            planes[i] = addr
        return None

    @vlc.CallbackDecorators.VideoUnlockCb
    def on_unlock(_opaque, _picture, _planes):
        pass

    @vlc.CallbackDecorators.VideoDisplayCb
    def on_display(_opaque, _picture):
        # The output shows the last picture again while no new one is due
        # (VLC's 80 ms redisplay, at the end of the stream and whenever
        # decoding stalls): count a picture once, by its luma plane. The
        # test media (testsrc2) has no two identical consecutive frames.
        counts["displays"] += 1
        crc = zlib.crc32(ctypes.string_at(frame["planes"][0], frame["luma"]))
        if crc != counts["last_crc"]:
            counts["pictures"] += 1
            counts["last_crc"] = crc

    @vlc.CallbackDecorators.AudioPlayCb
    def on_play(_opaque, _samples, count, _pts):
        counts["audio_samples"] += count
        counts["audio_buffers"] += 1

    player.video_set_callbacks(on_lock, on_unlock, on_display, None)
    set_format_callbacks = vlc.dll.libvlc_video_set_format_callbacks
    set_format_callbacks.argtypes = (ctypes.c_void_p, FORMAT_CB, CLEANUP_CB)
    set_format_callbacks.restype = None
    set_format_callbacks(player._as_parameter_, on_format, on_cleanup)
    player.audio_set_callbacks(on_play, None, None, None, None, None)
    player.audio_set_format("S16N", AOUT_RATE, 2)
    done = threading.Event()
    events = {"ended": False, "error": False}

    def on_end(_ev):
        events["ended"] = True
        done.set()

    def on_error(_ev):
        events["error"] = True
        done.set()

    em = player.event_manager()
    em.event_attach(vlc.EventType.MediaPlayerEndReached, on_end)
    em.event_attach(vlc.EventType.MediaPlayerEncounteredError, on_error)

    stats = vlc.MediaStats()
    best = {}
    last_time = 0

    def sample():
        nonlocal last_time
        if media.get_stats(stats):
            cur = {name: getattr(stats, name) for name, _ in stats._fields_}
            # Counters only grow; keep the largest seen (they read 0 once the
            # input thread has gone).
            for k, v in cur.items():
                if isinstance(v, int) and v >= best.get(k, 0):
                    best[k] = v
        t = player.get_time()
        if t and t > last_time:
            last_time = t

    player.play()
    player.set_rate(args.rate)
    deadline = started + args.timeout
    timed_out = False
    while not done.wait(0.2):
        sample()
        if player.get_rate() != args.rate and player.get_state() == vlc.State.Playing:
            player.set_rate(args.rate)
        if time.monotonic() > deadline:
            timed_out = True
            break
    sample()
    state = str(player.get_state()).replace("State.", "")
    length = media.get_duration()
    player.stop()
    sample()
    player.release()
    instance.log_unset()
    time.sleep(0.1)

    counts["formats"] = sorted(set(counts["formats"]), key=counts["formats"].index)
    report = {
        "url": args.url,
        "version": vlc.libvlc_get_version().decode(),
        "options": opts,
        "rate": args.rate,
        "state": "timed_out" if timed_out else state,
        "ended": events["ended"],
        "error_event": events["error"],
        "timed_out": timed_out,
        "pictures": counts["pictures"],
        "displays": counts["displays"],
        "video_formats": counts["formats"],
        "audio_samples": counts["audio_samples"],
        "audio_buffers": counts["audio_buffers"],
        "stats": {k: v for k, v in best.items() if not k.endswith("bitrate")},
        "length_s": length / 1000 if length and length > 0 else None,
        "last_time_s": last_time / 1000,
        "messages": messages,
        "flagged": flagged,
        "hw_probe": {"refused": probe["refused"], "errors": probe["messages"]},
        "modules": sorted(m for m in modules if m),
        "wall_s": round(time.monotonic() - started, 2),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
