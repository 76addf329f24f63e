"""The report's PNGs, drawn with matplotlib's object API on the Agg canvas (no pyplot, no display,
no global state: safe in a test process or a server).

Every plot shares one time axis (log time on the graph clock, s) and shades its background by
safety state, so a reader can line a tracking error up with the trip that followed it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from lucid_ros.safety.states import TRIPS, SafetyState

STATE_COLORS = {
    SafetyState.PASSIVE: "#9e9e9e",
    SafetyState.STANDING: "#42a5f5",
    SafetyState.RUNNING: "#66bb6a",
    SafetyState.DAMPING: "#fb8c00",
    SafetyState.ESTOP: "#e53935",
}
LEVELS = {0: ("OK", "#66bb6a"), 1: ("WARN", "#fbc02d"), 2: ("ERROR", "#e53935"), 3: ("STALE", "#8e24aa")}
DPI = 110
_LIMB = (("arm", ("shoulder", "elbow", "wrist", "hand")), ("leg", ("hip", "thigh", "knee", "calf", "ankle", "foot")))
_COUNTER = re.compile(r"miss|timeout|dropped|rejected|nonfinite")


def _new(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    return path


def state_segments(run) -> list[tuple[float, float, str]]:
    """(start, end, state) covering the recording; before the first state message: unknown."""
    t_start, t_end = run.t_range
    out = []
    for i, (t, s) in enumerate(run.states):
        end = run.states[i + 1][0] if i + 1 < len(run.states) else t_end
        t = max(t, t_start)
        if end > t:
            out.append((t, end, s))
    return out


def _shade(ax, run) -> None:
    """State-coloured background, a line at each trip, and the run's time range as x limits."""
    ax.set_xlim(*run.t_range)
    for t0, t1, s in state_segments(run):
        ax.axvspan(t0, t1, color=STATE_COLORS.get(s, "#ffffff"), alpha=0.13, lw=0)
    for t, ev in run.events:
        if ev.dst in TRIPS:
            ax.axvline(t, color=STATE_COLORS[ev.dst], lw=1.2, ls="-", alpha=0.9)


def _state_legend(fig: Figure, run, extra=()) -> None:
    present = [s for s in STATE_COLORS if any(st == s for _, st in run.states)]
    handles = list(extra) + [Patch(color=STATE_COLORS[s], alpha=0.35, label=s) for s in present]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 8), fontsize=9, frameon=False)


def limb_groups(names: list[str]) -> list[tuple[str, list[int]]]:
    """Joints grouped per limb for the per-leg grid: 'FR_hip_joint' -> 'FR leg',
    'left_elbow_joint' -> 'left arm', 'torso_joint' -> 'torso'."""
    groups: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        head = n.split("_")[0]
        kind = next((k for k, words in _LIMB if any(w in n for w in words)), "")
        groups.setdefault(f"{head} {kind}".strip(), []).append(i)
    return list(groups.items())


def _short(name: str) -> str:
    return name.removesuffix("_joint")


def tracking_rms(run) -> np.ndarray | None:
    """Per joint RMS of q - q* (rad) over the ticks with a position command."""
    if run.joints is None or run.commands is None:
        return None
    js, cmd = run.joints, run.commands
    out = []
    for j in range(js.values.shape[1]):
        q = np.interp(cmd.t, js.t, js.values[:, j])
        err = q - cmd.values[:, j]
        err = err[np.isfinite(err)]
        out.append(float(np.sqrt(np.mean(err**2))) if err.size else np.nan)
    return np.array(out)


def joint_tracking(run, path: Path) -> Path | None:
    if run.joints is None:
        return None
    names = run.joints.names
    groups = limb_groups(names)
    cols = max(len(idx) for _, idx in groups)
    rows = len(groups)
    fig = _new(3.1 * cols + 0.6, 2.05 * rows + 1.2)
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False)
    rms = tracking_rms(run)
    for r, (label, idx) in enumerate(groups):
        for c in range(cols):
            ax = axes[r][c]
            if c >= len(idx):
                ax.set_visible(False)
                continue
            j = idx[c]
            _shade(ax, run)
            if run.targets is not None:
                ax.plot(run.targets.t, run.targets.values[:, j], color="#ff7043", lw=2.2, alpha=0.55, label="policy target")
            if run.commands is not None:
                ax.plot(run.commands.t, run.commands.values[:, j], color="black", lw=1.1, ls="--", label="commanded q*")
            ax.plot(run.joints.t, run.joints.values[:, j], color="#1565c0", lw=1.3, label="measured q")
            title = _short(names[j])
            if rms is not None and np.isfinite(rms[j]):
                title += f"   rms err {rms[j]:.3f} rad"
            ax.set_title(title, fontsize=9, loc="left")
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
            if c == 0:
                ax.set_ylabel(f"{label}\n[rad]", fontsize=9)
            if r + 1 >= rows or c >= len(groups[r + 1][1]):  # nothing drawn below this one
                ax.set_xlabel("time [s]", fontsize=8)
    fig.suptitle("Joint tracking: measured q vs commanded q* (joint_commands, position mode)", fontsize=11)
    line_handles = axes[0][0].get_legend_handles_labels()[0][::-1]
    _state_legend(fig, run, line_handles)
    return _save(fig, path)


def velocity_errors(run, settle: float = 1.0) -> dict[str, float] | None:
    """Mean |ground truth - cmd_vel| per axis while RUNNING (after `settle` s), or None."""
    if run.truth is None or run.cmd_vel is None:
        return None
    mask = np.zeros(run.truth.t.shape, bool)
    for t0, t1, s in state_segments(run):
        if s == SafetyState.RUNNING:
            mask |= (run.truth.t >= t0 + settle) & (run.truth.t < t1)
    if not mask.any():
        return None
    idx = np.clip(np.searchsorted(run.cmd_vel.t, run.truth.t[mask], side="right") - 1, 0, None)
    cmd = run.cmd_vel.values[idx]
    err = np.abs(run.truth.values[mask] - cmd).mean(axis=0)
    return dict(zip(("vx", "vy", "wz"), (float(e) for e in err), strict=True))


def velocity_tracking(run, path: Path) -> Path | None:
    if run.truth is None and run.odom is None and run.cmd_vel is None:
        return None
    fig = _new(11, 7)
    axes = fig.subplots(3, 1, sharex=True)
    errs = velocity_errors(run) or {}
    for i, (axis, unit) in enumerate((("vx", "m/s"), ("vy", "m/s"), ("wz", "rad/s"))):
        ax = axes[i]
        _shade(ax, run)
        if run.odom is not None:
            ax.plot(run.odom.t, run.odom.values[:, i], color="#8d6e63", lw=0.9, alpha=0.8, label="odom (estimate)")
        if run.truth is not None:
            ax.plot(run.truth.t, run.truth.values[:, i], color="#1565c0", lw=1.4, label="ground truth")
        if run.cmd_vel is not None:
            ax.step(run.cmd_vel.t, run.cmd_vel.values[:, i], where="post", color="black", lw=1.4, ls="--", label="cmd_vel")
        title = f"{axis} [{unit}]"
        if axis in errs:
            title += f"   mean |error| while RUNNING {errs[axis]:.3f}"
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time [s]")
    fig.suptitle("Velocity tracking (body frame): command vs ground truth and the stack's estimate", fontsize=11)
    _state_legend(fig, run, axes[0].get_legend_handles_labels()[0])
    return _save(fig, path)


def _numeric(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _diag_series(run, select) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for name, rows in sorted(run.diagnostics.items()):
        keys = sorted({k for _, _, _, v in rows for k in v if select(k)})
        for k in keys:
            t = np.array([r[0] for r in rows if k in r[3]])
            y = np.array([_numeric(r[3][k]) for r in rows if k in r[3]])
            if np.isfinite(y).any():
                out[f"{name.lstrip('/')}: {k}"] = (t, y)
    return out


def latencies(run, path: Path) -> Path | None:
    times = _diag_series(run, lambda k: k.endswith("_ms"))
    counters = _diag_series(run, lambda k: bool(_COUNTER.search(k)))
    if not run.diagnostics:
        return None
    nodes = sorted(run.diagnostics)
    fig = _new(11, 8.5)
    axes = fig.subplots(3, 1, sharex=True, height_ratios=[3, 2, 0.35 * len(nodes) + 0.8])
    ax = axes[0]
    _shade(ax, run)
    for label, (t, y) in times.items():
        ax.plot(t, y, marker=".", ms=4, lw=1.2, label=label)
    ax.set_title("Latencies reported on diagnostics (p50/p99 over each node's window) [ms]", fontsize=10, loc="left")
    ax.set_ylabel("ms")
    ax.grid(alpha=0.3)
    if times:
        ax.legend(fontsize=8, loc="upper left", ncols=2)
    ax = axes[1]
    _shade(ax, run)
    for label, (t, y) in counters.items():
        ax.step(t, y, where="post", lw=1.4, label=label)
    top = max((np.nanmax(y) for _, y in counters.values()), default=0.0)
    ax.set_ylim(0, max(1.0, 1.15 * top))
    ax.set_title("Deadline misses, timeouts, drops (cumulative counts)", fontsize=10, loc="left")
    ax.set_ylabel("count")
    ax.grid(alpha=0.3)
    if counters:
        ax.legend(fontsize=8, loc="upper left", ncols=2)
    ax = axes[2]
    t_start, t_end = run.t_range
    min_width = 0.004 * (t_end - t_start)
    for i, name in enumerate(nodes):
        rows = run.diagnostics[name]
        spans: list[list] = []  # [start, end, level], runs of one level merged
        for k, (t, level, _msg, _v) in enumerate(rows):
            end = rows[k + 1][0] if k + 1 < len(rows) else t_end
            if spans and spans[-1][2] == level:
                spans[-1][1] = end
            else:
                spans.append([t, end, level])
        for a, b, level in spans:
            ax.broken_barh([(a, max(b - a, min_width))], (i - 0.4, 0.8), color=LEVELS.get(level, ("?", "#bdbdbd"))[1])
    ax.set_xlim(t_start, t_end)
    ax.set_yticks(range(len(nodes)), [n.lstrip("/") for n in nodes], fontsize=8)
    ax.set_ylim(-0.6, len(nodes) - 0.4)
    ax.set_title("Diagnostic level per node", fontsize=10, loc="left")
    ax.set_xlabel("time [s]")
    level_handles = [Patch(color=c, label=n) for n, c in LEVELS.values()]
    fig.suptitle("Timing and health", fontsize=11)
    _state_legend(fig, run, level_handles)
    return _save(fig, path)


def safety_timeline(run, path: Path) -> Path | None:
    if not run.states and not run.events:
        return None
    pose = run.truth_pose
    shown = run.events[:14]
    lines = [f"E{i + 1}  {t:7.2f} s  {ev.src} -> {ev.dst}: {ev.cause}" + (f"  ({ev.detail})" if ev.detail else "") for i, (t, ev) in enumerate(shown)]
    if len(run.events) > len(shown):
        lines.append(f"... and {len(run.events) - len(shown)} more events (listed on the HTML page)")
    heights = [1.1] + ([2.0, 2.0] if pose is not None else []) + ([0.2 * len(lines) + 0.2] if lines else [])
    fig = _new(11, sum(heights) + 1.4)
    axes = fig.subplots(len(heights), 1, height_ratios=heights, squeeze=False)[:, 0]
    ax = axes[0]
    t0, t1 = run.t_range
    for a, b, s in state_segments(run):
        ax.broken_barh([(a, b - a)], (0, 1), color=STATE_COLORS.get(s, "#bdbdbd"))
        if b - a > 0.06 * max(t1 - t0, 1e-9):
            ax.text((a + b) / 2, 0.5, s, ha="center", va="center", fontsize=9, color="white", weight="bold")
    for i, (t, _ev) in enumerate(shown):
        ax.axvline(t, color="black", lw=0.8)
        ax.text(t, 1.04, f"E{i + 1}", ha="center", va="bottom", fontsize=8)
    for t in run.estops:
        ax.plot([t], [-0.15], marker="^", color=STATE_COLORS[SafetyState.ESTOP], ms=9, clip_on=False)
    ax.set_ylim(-0.3, 1.35)
    ax.set_xlim(t0, t1)
    ax.set_yticks([])
    ax.set_title("Safety state (E = event on safety/event; red triangle = e-stop pressed on safety/estop)", fontsize=10, loc="left")
    ax.set_xlabel("time [s]", fontsize=8)
    if pose is not None:
        for ax, ylabel in zip(axes[1:3], ("base height [m]", "attitude [deg]"), strict=True):
            ax.sharex(axes[0])
            _shade(ax, run)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        axes[1].plot(pose.t, pose.values[:, 0], color="#1565c0", lw=1.4)
        axes[2].plot(pose.t, np.degrees(pose.values[:, 1]), lw=1.3, label="roll")
        axes[2].plot(pose.t, np.degrees(pose.values[:, 2]), lw=1.3, label="pitch")
        axes[2].legend(fontsize=8, loc="upper left")
        axes[2].set_xlabel("time [s]")
    if lines:
        ax = axes[-1]
        ax.axis("off")
        ax.text(0.0, 1.0, "\n".join(lines), family="monospace", fontsize=8.5, va="top", ha="left", transform=ax.transAxes)
    fig.suptitle("Safety timeline with causes" + ("" if pose is None else "; base height and attitude (ground truth)"), fontsize=11)
    return _save(fig, path)


def draw_all(run, out_dir: Path) -> dict[str, Path | None]:
    """Every plot; a missing topic gives None for its plot rather than failing the report."""
    return {
        "safety_timeline": safety_timeline(run, out_dir / "safety_timeline.png"),
        "joint_tracking": joint_tracking(run, out_dir / "joint_tracking.png"),
        "velocity_tracking": velocity_tracking(run, out_dir / "velocity_tracking.png"),
        "latencies": latencies(run, out_dir / "latencies.png"),
    }
