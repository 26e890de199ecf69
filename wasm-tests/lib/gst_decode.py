#!/usr/bin/python3
"""Decodes an HLS / DASH / Smooth URL with GStreamer and reports what it saw.

    /usr/bin/python3 wasm-tests/lib/gst_decode.py URL [--timeout S]
        [--max-bitrate BPS] [--connection-bitrate BPS]

Plays URL through uridecodebin3 (which picks GStreamer's adaptive demuxer:
hlsdemux2 / dashdemux2 / mssdemux2 when installed, else the v1 elements),
every decoded stream into `fakesink sync=false`, headless, as fast as it
decodes. Prints one JSON object on stdout:

  demuxers      adaptive demuxer elements that were created (e.g. ["hlsdemux2"])
  elements      factory names of every element created (decoders, parsers…)
  eos, timed_out, wall_s
  errors, warnings   every ERROR / WARNING message on the bus:
                     [{ "src": element path, "message", "debug" }]
  position_s, duration_s    pipeline position / duration queried at the end
  collection   the streams the demuxer offered: [{ id, type, caps, language }]
  streams      per decoded stream:
      kind ("video"|"audio"), buffers, first_s, end_s (stream time),
      video: frames, frame_s, sizes (every WxH seen, in order)
      audio: samples, rate, channels, decoded_s (samples / rate)
      holes: [{ at_s, gap_s }]  a PTS jump > 1.5 frame durations (video) or
             > 50 ms past the previous buffer's end (audio); overlaps alike
      language: from the stream's tags

Runs with the system Python (python3-gi, gir1.2-gstreamer-1.0).
--max-bitrate caps the variant the adaptive demuxer may pick (and
--connection-bitrate fixes its bandwidth estimate), so a test can force a
rendition. One stream per type is decoded: the default selection (the
collection lists every audio language; with GStreamer 1.22's adaptivedemux2 a
select-streams event asking for all of them is accepted but changes nothing).
"""

import argparse
import json
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

ADAPTIVE = ("hlsdemux", "dashdemux", "mssdemux")
VIDEO_HOLE_FRAMES = 1.5
AUDIO_HOLE_S = 0.050
MAX_LISTED = 20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--max-bitrate", type=int, default=0)
    ap.add_argument("--connection-bitrate", type=int, default=0)
    ap.add_argument("--demux-prop", action="append", default=[], help="NAME=VALUE set on the adaptive demuxer (repeatable)")
    args = ap.parse_args()

    Gst.init(None)
    started = time.monotonic()
    pipeline = Gst.Pipeline.new("p")
    dec = Gst.ElementFactory.make("uridecodebin3", "dec")
    if dec is None:
        print(json.dumps({"fatal": "no uridecodebin3 element (gstreamer1.0-plugins-base)"}))
        return 2
    dec.set_property("uri", args.url)
    pipeline.add(dec)

    lock = threading.Lock()
    report = {
        "url": args.url,
        "demuxers": [],
        "elements": [],
        "eos": False,
        "timed_out": False,
        "errors": [],
        "warnings": [],
        "collection": [],
        "streams": [],
    }

    def on_element(_bin, _sub, element):
        factory = element.get_factory()
        name = factory.get_name() if factory else type(element).__name__
        with lock:
            if name not in report["elements"]:
                report["elements"].append(name)
        if name.startswith(ADAPTIVE):
            with lock:
                report["demuxers"].append(name)
            if args.max_bitrate:
                element.set_property("max-bitrate", args.max_bitrate)
            if args.connection_bitrate:
                element.set_property("connection-bitrate", args.connection_bitrate)
            for prop in args.demux_prop:
                key, _, value = prop.partition("=")
                Gst.util_set_object_arg(element, key, value)

    pipeline.connect("deep-element-added", on_element)

    def on_pad(_dec, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_name() if caps and caps.get_size() else ""
        kind = "video" if name.startswith("video/") else "audio" if name.startswith("audio/") else name or "other"
        st = {
            "pad": pad.get_name(),
            "kind": kind,
            "buffers": 0,
            "first_s": None,
            "end_s": None,
            "holes": [],
            "overlaps": [],
            "language": None,
            "_segment": None,
            "_prev_pts": None,
            "_prev_end": None,
        }
        if kind == "video":
            st.update(frames=0, frame_s=None, sizes=[])
        elif kind == "audio":
            st.update(samples=0, rate=None, channels=None, decoded_s=0.0, _bpf=None)
        with lock:
            report["streams"].append(st)
        sink = Gst.ElementFactory.make("fakesink", None)
        sink.set_property("sync", False)
        sink.set_property("async", False)
        pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))
        sink.get_static_pad("sink").add_probe(
            Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM, probe, st
        )

    def probe(_pad, info, st):
        if info.type & Gst.PadProbeType.EVENT_DOWNSTREAM:
            ev = info.get_event()
            if ev.type == Gst.EventType.SEGMENT:
                st["_segment"] = ev.parse_segment().copy()
            elif ev.type == Gst.EventType.CAPS:
                s = ev.parse_caps().get_structure(0)
                if st["kind"] == "video":
                    ok_w, w = s.get_int("width")
                    ok_h, h = s.get_int("height")
                    size = f"{w}x{h}"
                    if not st["sizes"] or st["sizes"][-1] != size:
                        st["sizes"].append(size)
                    ok_f, num, den = s.get_fraction("framerate")
                    if ok_f and num > 0:
                        st["frame_s"] = den / num
                elif st["kind"] == "audio":
                    _, rate = s.get_int("rate")
                    _, channels = s.get_int("channels")
                    fmt = s.get_string("format") or "S16LE"
                    bits = int("".join(c for c in fmt if c.isdigit()) or 16)
                    st["rate"], st["channels"] = rate, channels
                    st["_bpf"] = max(1, channels * bits // 8)
            elif ev.type == Gst.EventType.TAG:
                ok, lang = ev.parse_tag().get_string("language-code")
                if ok and lang:
                    st["language"] = lang
            return Gst.PadProbeReturn.OK
        buf = info.get_buffer()
        st["buffers"] += 1
        pts = buf.pts
        if pts == Gst.CLOCK_TIME_NONE:
            return Gst.PadProbeReturn.OK
        seg = st["_segment"]
        if seg is not None:
            stream_time = seg.to_stream_time(Gst.Format.TIME, pts)
            if stream_time != Gst.CLOCK_TIME_NONE and stream_time >= 0:
                pts = stream_time
        t = pts / Gst.SECOND
        if st["kind"] == "video":
            st["frames"] += 1
            dur = st["frame_s"] or (buf.duration / Gst.SECOND if buf.duration != Gst.CLOCK_TIME_NONE else 1 / 24)
            end = t + dur
            if st["_prev_pts"] is not None:
                step = t - st["_prev_pts"]
                if step > VIDEO_HOLE_FRAMES * dur:
                    add(st["holes"], st["_prev_end"], step - dur)
                elif step <= 0:
                    add(st["overlaps"], t, -step + dur)
        elif st["kind"] == "audio":
            n = buf.get_size() // (st["_bpf"] or 4)
            st["samples"] += n
            dur = n / st["rate"] if st["rate"] else 0
            end = t + dur
            if st["_prev_end"] is not None:
                gap = t - st["_prev_end"]
                if gap > AUDIO_HOLE_S:
                    add(st["holes"], st["_prev_end"], gap)
                elif gap < -AUDIO_HOLE_S:
                    add(st["overlaps"], t, -gap)
        else:
            end = t
        if st["first_s"] is None:
            st["first_s"] = t
        st["_prev_pts"] = t
        st["_prev_end"] = end
        st["end_s"] = end if st["end_s"] is None else max(st["end_s"], end)
        return Gst.PadProbeReturn.OK

    def add(lst, at, size):
        if len(lst) < MAX_LISTED:
            lst.append({"at_s": round(at, 4), "gap_s": round(size, 4)})

    dec.connect("pad-added", on_pad)

    loop = GLib.MainLoop()
    bus = pipeline.get_bus()
    bus.add_signal_watch()

    def on_message(_bus, msg):
        src = msg.src.get_path_string() if msg.src else ""
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            report["errors"].append({"src": src, "message": err.message, "debug": debug})
            loop.quit()
        elif msg.type == Gst.MessageType.WARNING:
            err, debug = msg.parse_warning()
            report["warnings"].append({"src": src, "message": err.message, "debug": debug})
        elif msg.type == Gst.MessageType.EOS:
            report["eos"] = True
            ok, pos = pipeline.query_position(Gst.Format.TIME)
            report["position_s"] = pos / Gst.SECOND if ok else None
            loop.quit()
        elif msg.type == Gst.MessageType.STREAM_COLLECTION:
            coll = msg.parse_stream_collection()
            streams = []
            for i in range(coll.get_size()):
                s = coll.get_stream(i)
                caps = s.get_caps()
                tags = s.get_tags()
                lang = tags.get_string("language-code")[1] if tags else None
                streams.append({
                    "id": s.get_stream_id(),
                    "type": Gst.stream_type_get_name(s.get_stream_type()),
                    "caps": caps.to_string()[:120] if caps else None,
                    "language": lang,
                })
            report["collection"] = streams
        elif msg.type == Gst.MessageType.ASYNC_DONE and "duration_s" not in report:
            ok, dur = pipeline.query_duration(Gst.Format.TIME)
            if ok and dur > 0:
                report["duration_s"] = dur / Gst.SECOND

    bus.connect("message", on_message)

    def on_timeout():
        report["timed_out"] = True
        loop.quit()
        return False

    GLib.timeout_add(int(args.timeout * 1000), on_timeout)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        report["errors"].append({"src": "", "message": "set_state(PLAYING) failed", "debug": None})
    else:
        loop.run()
    if "position_s" not in report:
        ok, pos = pipeline.query_position(Gst.Format.TIME)
        report["position_s"] = pos / Gst.SECOND if ok else None
    if "duration_s" not in report:
        ok, dur = pipeline.query_duration(Gst.Format.TIME)
        report["duration_s"] = dur / Gst.SECOND if ok and dur > 0 else None
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    report["wall_s"] = round(time.monotonic() - started, 2)
    for st in report["streams"]:
        for k in [k for k in st if k.startswith("_")]:
            del st[k]
        if st["kind"] == "audio" and st.get("rate"):
            st["decoded_s"] = round(st["samples"] / st["rate"], 4)
    print(json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
