"""The report page: a short text summary, then the plots, in one self-contained HTML file (the
PNGs are embedded as data URIs, so the page can be mailed or attached to an issue on its own; the
PNG files stay beside it as well)."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

import numpy as np

from lucid_ros.report.plots import _COUNTER, state_segments, tracking_rms, velocity_errors
from lucid_ros.safety.states import TRIPS

TITLES = {
    "safety_timeline": "Safety timeline",
    "joint_tracking": "Joint tracking, per leg",
    "velocity_tracking": "Velocity tracking",
    "latencies": "Latencies, deadline misses and node health",
}
NEEDS = {
    "safety_timeline": "safety/state or safety/event",
    "joint_tracking": "joint_states",
    "velocity_tracking": "cmd_vel, sim/ground_truth/odom or odom",
    "latencies": "diagnostics",
}


def _last_values(run, select) -> list[tuple[str, str, str]]:
    out = []
    for name, rows in sorted(run.diagnostics.items()):
        last: dict[str, str] = {}
        for _, _, _, values in rows:
            last.update({k: v for k, v in values.items() if select(k)})
        out += [(name.lstrip("/"), k, v) for k, v in sorted(last.items())]
    return out


def summarize(run) -> dict:
    """The numbers the page's summary states, as plain data (tests and other tools use it too)."""
    rec = run.recording
    trips = [ev for _, ev in run.events if ev.dst in TRIPS]
    rms = tracking_rms(run)
    out = {
        "file": rec.path.name,
        "complete": rec.complete,
        "duration_s": round(rec.duration, 3),
        "messages": sum(t.count for t in rec.topics.values()),
        "topics": {t: (i.type, i.count) for t, i in sorted(rec.topics.items())},
        "final_state": run.states[-1][1] if run.states else "unknown",
        "trips": [f"{ev.dst} at {ev.time:.2f} s: {ev.cause}" for ev in trips],
        "velocity_error": velocity_errors(run),
        "joint_rms_rad": None if rms is None or not np.isfinite(rms).any() else {"mean": float(np.nanmean(rms)), "max": float(np.nanmax(rms))},
        "timing": _last_values(run, lambda k: k.endswith("_ms")),
        "counters": _last_values(run, lambda k: bool(_COUNTER.search(k))),
        "metadata": rec.metadata,
        "policy_status": run.policy_status,
    }
    return out


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{escape(path.name)}">'


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_page(run, images: dict[str, Path | None], path: Path) -> Path:
    s = summarize(run)
    rec = run.recording
    verdict = ("ATTENTION: safety tripped — " + "; ".join(s["trips"])) if s["trips"] else "No safety trip."
    parts = [f"<h1>Run report: {escape(s['file'])}</h1>"]
    parts.append(f'<p class="{"bad" if s["trips"] else "good"}"><b>{escape(verdict)}</b></p>')
    facts = [
        f"{s['duration_s']:.2f} s recorded ({rec.start_ns * 1e-9:.2f} – {rec.end_ns * 1e-9:.2f} s on the graph clock), {s['messages']} messages on {len(s['topics'])} topics.",
        f"Final safety state: <b>{escape(s['final_state'])}</b>.",
    ]
    if not s["complete"]:
        facts.append('<span class="bad">The file is unfinished (the recorder was killed): read up to its last complete chunk.</span>')
    if s["policy_status"]:
        facts.append(f"Policy: {escape(s['policy_status'])}.")
    if s["velocity_error"]:
        e = s["velocity_error"]
        facts.append(f"Velocity tracking, mean |error| while RUNNING: vx {e['vx']:.3f} m/s, vy {e['vy']:.3f} m/s, wz {e['wz']:.3f} rad/s.")
    if s["joint_rms_rad"]:
        j = s["joint_rms_rad"]
        facts.append(f"Joint tracking (position commands): RMS error mean {j['mean']:.3f} rad, worst joint {j['max']:.3f} rad.")
    trip = s["metadata"].get("lucid_ros.trip")
    if trip:
        facts.append(
            f"Black-box file: written for the {escape(trip.get('state', ''))} at {escape(trip.get('graph_time_s', ''))} s "
            f"({escape(trip.get('cause', ''))}), wall time {escape(trip.get('wall_time', ''))}."
        )
    parts.append("<ul>" + "".join(f"<li>{f}</li>" for f in facts) + "</ul>")

    if run.events:
        parts.append("<h2>Safety events</h2>")
        parts.append(
            _table(
                ["log time [s]", "event time [s]", "transition", "cause", "detail"],
                [[f"{t:.3f}", f"{ev.time:.3f}", f"{ev.src} → {ev.dst}", ev.cause, ev.detail] for t, ev in run.events],
            )
        )
    segs = state_segments(run)
    if segs:
        parts.append("<h2>Time in each state</h2>")
        totals: dict[str, float] = {}
        for a, b, st in segs:
            totals[st] = totals.get(st, 0.0) + (b - a)
        parts.append(_table(["state", "seconds"], [[k, f"{v:.2f}"] for k, v in totals.items()]))
    if s["timing"] or s["counters"]:
        parts.append("<h2>Timing and counters (last values on diagnostics)</h2>")
        parts.append(_table(["node", "key", "value"], [list(r) for r in s["timing"] + s["counters"]]))

    for key, title in TITLES.items():
        parts.append(f"<h2>{escape(title)}</h2>")
        img = images.get(key)
        parts.append(_img(img) if img is not None else f'<p class="muted">Not in this recording (needs {escape(NEEDS[key])}).</p>')

    parts.append("<h2>Topics</h2>")
    dur = max(s["duration_s"], 1e-9)
    parts.append(_table(["topic", "type", "messages", "mean rate [Hz]"], [[t, ty, str(n), f"{n / dur:.1f}"] for t, (ty, n) in s["topics"].items()]))
    meta_rows = [[name, k, v] for name, values in s["metadata"].items() for k, v in values.items()]
    if meta_rows:
        parts.append("<h2>Recording metadata</h2>" + _table(["record", "key", "value"], meta_rows))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lucid_ros report: {escape(s["file"])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1250px; color: #222; line-height: 1.45; }}
img {{ max-width: 100%; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }}
th {{ background: #f3f3f3; }}
.bad {{ color: #c62828; }} .good {{ color: #2e7d32; }} .muted {{ color: #888; }}
</style></head><body>
{chr(10).join(parts)}
<p class="muted">Made by <code>lucid-ros report</code> from {escape(str(rec.path))}. Times are log times: when the recorder received
each message, on the graph clock (the sim clock in simulation).</p>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path
