"""`lucid-ros report RUN.mcap`: plots and one HTML page from a recording, no ROS needed.

`make_report(mcap_path, out_dir) -> Path` (the index.html) reads the file with
lucid_ros.recording.reader (a crash-truncated file too), turns the topics into arrays
(`load_run`), draws the PNGs (`plots`) and writes the page (`html`). Every plot is optional: a
topic that is not in the file leaves its plot out and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lucid_ros.errors import ConfigError
from lucid_ros.recording.reader import Recording, open_recording
from lucid_ros.recording.ring import parse_event

__all__ = ["make_report", "load_run", "RunData"]

TOPICS = (
    "joint_states",
    "joint_commands",
    "policy/joint_targets",
    "cmd_vel",
    "sim/ground_truth/odom",
    "odom",
    "diagnostics",
    "safety/state",
    "safety/event",
    "safety/estop",
    "policy/status",
)


@dataclass
class Series:
    t: np.ndarray
    values: np.ndarray
    names: list[str] = field(default_factory=list)


@dataclass
class RunData:
    """A recording as arrays; times are log times (graph clock) in seconds."""

    recording: Recording
    joints: Series | None = None  # measured q, (N, J) canonical names
    commands: Series | None = None  # q* where the command is a position command (NaN otherwise)
    command_modes: list[tuple[float, str]] = field(default_factory=list)
    targets: Series | None = None  # policy/joint_targets q*
    cmd_vel: Series | None = None  # (N, 3) vx, vy, wz
    truth: Series | None = None  # (N, 3) body vx, vy, wz
    truth_pose: Series | None = None  # (N, 3) z, roll, pitch
    odom: Series | None = None  # (N, 3) body vx, vy, wz
    states: list[tuple[float, str]] = field(default_factory=list)
    events: list[tuple[float, object]] = field(default_factory=list)  # (log time, SafetyEvent)
    estops: list[float] = field(default_factory=list)
    diagnostics: dict[str, list[tuple[float, int, str, dict[str, str]]]] = field(default_factory=dict)
    policy_status: str = ""

    @property
    def t_range(self) -> tuple[float, float]:
        """The plots' time axis: from the first joint_states (a black-box file also holds the last
        value of slow topics from before its window; those would stretch the axis for nothing)."""
        start, end = self.recording.start_ns * 1e-9, self.recording.end_ns * 1e-9
        if self.joints is not None and len(self.joints.t):
            start = max(start, float(self.joints.t[0]))
        return start, max(end, start + 1e-3)


def _by_name(names: list[str], values, order: list[str]) -> np.ndarray:
    index = {n: i for i, n in enumerate(names)}
    return np.array([values[index[n]] if n in index and index[n] < len(values) else np.nan for n in order], dtype=float)


def _rpy(q) -> tuple[float, float]:
    w, x, y, z = q.w, q.x, q.y, q.z
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    return float(roll), float(pitch)


def load_run(rec: Recording) -> RunData:
    """One pass over the file, decoding only the topics the report uses."""
    run = RunData(rec)
    rows: dict[str, list] = {k: [] for k in ("js", "cmd", "tgt", "vel", "gt", "gtp", "odom")}
    names: list[str] = []
    for topic, t_ns, msg in rec.messages(TOPICS):
        t = t_ns * 1e-9
        name = topic.lstrip("/")
        if name == "joint_states":
            names = names or list(msg.name)
            rows["js"].append((t, _by_name(list(msg.name), msg.position, names)))
        elif name in ("joint_commands", "policy/joint_targets") and msg.points:
            names = names or list(msg.joint_names)
            q = _by_name(list(msg.joint_names), msg.points[0].positions, names)
            if name == "joint_commands":
                kp = _by_name(list(msg.joint_names), msg.points[1].positions, names) if len(msg.points) > 1 else np.ones_like(q)
                mode = msg.header.frame_id or "position"
                rows["cmd"].append((t, np.where((kp > 0) & (mode == "position"), q, np.nan)))
                if not run.command_modes or run.command_modes[-1][1] != mode:
                    run.command_modes.append((t, mode))
            else:
                rows["tgt"].append((t, q))
        elif name == "cmd_vel":
            rows["vel"].append((t, (msg.linear.x, msg.linear.y, msg.angular.z)))
        elif name == "sim/ground_truth/odom":
            tw = msg.twist.twist
            rows["gt"].append((t, (tw.linear.x, tw.linear.y, tw.angular.z)))
            rows["gtp"].append((t, (msg.pose.pose.position.z, *_rpy(msg.pose.pose.orientation))))
        elif name == "odom":
            tw = msg.twist.twist
            rows["odom"].append((t, (tw.linear.x, tw.linear.y, tw.angular.z)))
        elif name == "safety/state":
            run.states.append((t, msg.data))
        elif name == "safety/event":
            ev = parse_event(msg.data)
            if ev is not None:
                run.events.append((t, ev))
        elif name == "safety/estop":
            if msg.data:
                run.estops.append(t)
        elif name == "policy/status":
            run.policy_status = msg.data
        elif name == "diagnostics":
            for st in msg.status:
                level = st.level if isinstance(st.level, int) else int.from_bytes(bytes(st.level), "little")
                run.diagnostics.setdefault(st.name, []).append((t, level, st.message, {kv.key: kv.value for kv in st.values}))

    def series(key: str, labels=()) -> Series | None:
        if not rows[key]:
            return None
        rows[key].sort(key=lambda r: r[0])
        return Series(np.array([r[0] for r in rows[key]]), np.array([r[1] for r in rows[key]], dtype=float), list(labels))

    run.joints, run.commands, run.targets = series("js", names), series("cmd", names), series("tgt", names)
    run.cmd_vel, run.truth, run.odom = series("vel", ("vx", "vy", "wz")), series("gt", ("vx", "vy", "wz")), series("odom", ("vx", "vy", "wz"))
    run.truth_pose = series("gtp", ("z", "roll", "pitch"))
    run.states.sort(key=lambda s: s[0])
    return run


def make_report(mcap_path: str | Path, out_dir: str | Path) -> Path:
    """Plots (PNG) and index.html for one recording, in out_dir. Returns the page's path."""
    from lucid_ros.report import html, plots

    mcap_path, out_dir = Path(mcap_path), Path(out_dir)
    if not mcap_path.is_file():
        raise ConfigError(mcap_path, None, "no such recording")
    try:
        rec = open_recording(mcap_path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input error
        raise ConfigError(mcap_path, None, f"not a readable MCAP recording: {exc}") from exc
    run = load_run(rec)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = plots.draw_all(run, out_dir)
    return html.write_page(run, images, out_dir / "index.html")
