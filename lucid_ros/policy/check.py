"""`lucid-ros check-policy`: everything the runtime will assume about a policy, printed for a person,
and every disagreement with its ONNX graph or robot listed, before the policy drives a robot.

A malformed spec raises ConfigError (CLI exit 2). Disagreements (PolicyMismatch) are collected,
not raised, so one run shows all of them; `CheckReport.exit_code` is 1 when there are any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lucid_ros.errors import ConfigError, PolicyMismatch
from lucid_ros.policy.actions import ActionMapper
from lucid_ros.policy.observations import ObservationBuilder, ObsInputs
from lucid_ros.policy.privileged import privileged_terms
from lucid_ros.policy.runner import OnnxPolicy, check_sha256, graph_problems, open_session
from lucid_ros.policy.spec import PolicySpec, load_spec, spec_robot_name
from lucid_ros.robots.description import RobotDescription, load_robot


@dataclass
class CheckReport:
    spec_path: Path
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def text(self) -> str:
        out = list(self.lines)
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"PROBLEM: {p}" for p in self.problems]
        out.append("result: OK" if self.ok else f"result: {len(self.problems)} problem(s)")
        return "\n".join(out)


def _fmt(values: tuple[float, ...]) -> str:
    if len(set(values)) == 1:
        return f"{values[0]:g}"
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def _ranges(idx: np.ndarray) -> str:
    """Obs indices of a term, one 'a:b' per history frame."""
    return " ".join(f"{row[0]}:{row[-1] + 1}" for row in idx)


def check_policy(spec_path: str | Path, robot: str | RobotDescription | None = None) -> CheckReport:
    """Validate a policy against a robot (a name, a loaded description, or None: the spec's `robot:`).
    Raises ConfigError when the spec or robot file is malformed."""
    if robot is None:
        robot = spec_robot_name(spec_path)
    if isinstance(robot, str):
        robot = load_robot(robot)
    try:
        spec = load_spec(spec_path, robot)
    except PolicyMismatch as exc:
        # Still check the ONNX against the spec alone, so one run lists every problem there is.
        report = CheckReport(Path(exc.path or spec_path), lines=[f"robot: {robot.name} ({robot.n_joints} joints)"], problems=[str(exc)])
        try:
            spec = load_spec(spec_path)
        except ConfigError:  # only loadable with a robot (foot_contacts without `feet:`)
            return report
        _check_onnx(report, spec, None)
        return report
    report = CheckReport(spec.path)
    _describe(report, spec, robot)
    priv = [t.name for t in privileged_terms(spec)]
    if priv:
        report.warnings.append(f"reads privileged term(s) {priv}: runs in the simulator only (a teacher); `lucid-ros robot` refuses it")
    _check_onnx(report, spec, robot)
    return report


def _describe(r: CheckReport, spec: PolicySpec, robot: RobotDescription) -> None:
    mapper = ActionMapper(spec, robot)
    held = [n for n in robot.joint_names if n not in spec.joint_order]
    r.lines += [
        f"policy: {spec.name} ({spec.path}, {spec.format})",
        f"robot: {robot.name}: {robot.n_joints} joints, policy controls {spec.n_act}; "
        f"policy {spec.rate_hz:g} Hz on a {robot.rate_hz:g} Hz graph (every {round(robot.rate_hz / spec.rate_hz)} tick(s))",
        f"action: target = offset + scale * clip(raw, {spec.action.clip if spec.action.clip is not None else 'none'})",
        "  act  joint                 canon  kp      kd      scale   offset",
    ]
    for k, name in enumerate(spec.joint_order):
        c = mapper.index[k]
        r.lines.append(f"  {k:3d}  {name:20s}  {c:5d}  {mapper.kp[c]:<6g}  {mapper.kd[c]:<6g}  {mapper.scale[k]:<6g}  {mapper.offset[k]:+.4g}")
    if held:
        r.lines.append(f"held at default pose with robot gains: {', '.join(held)}")
    differ = np.count_nonzero((mapper.kp != robot.kp) | (mapper.kd != robot.kd))
    if differ:
        r.lines.append(f"note: policy gains differ from the robot's defaults on {differ} joint(s); the policy's apply while RUNNING")
    o = spec.observation
    r.lines += [
        f"observation: {o.dim} = {o.frame_dim} per frame x history {o.history}"
        + ("" if o.dim == o.frame_dim * o.history else " (less the older frames of terms with their own history)")
        + f" ({o.history_layout}), "
        f"clip {o.clip if o.clip is not None else 'none'}; value = clip((raw + offset) * scale)",
        "  term               size  obs index            scale          offset   clip",
    ]
    for k, t in enumerate(o.terms):
        extra = f" feet={list(t.feet)}" if t.feet else (f" frequency={t.frequency:g} Hz start={t.start:g} s" if t.frequency else "")
        if t.default is not None:
            extra += f" minus the policy's own reference pose {[round(v, 3) for v in t.default]}"
        if t.value is not None:
            extra += f" value={list(t.value)}"
        if t.components is not None:
            extra += f" components={[('vx', 'vy', 'wz')[i] for i in t.components]}"
        if t.history is not None and t.history != o.history:
            extra += f" newest {t.history} frame(s) only"
        r.lines.append(
            f"  {t.name:17s}  {t.size:4d}  {_ranges(o.term_indices(k)):19s}  {_fmt(t.scale):13s}  {_fmt(t.offset):7s}  "
            f"{t.clip if t.clip is not None else '-'}{extra}"
        )


def _check_onnx(r: CheckReport, spec: PolicySpec, robot: RobotDescription | None) -> None:
    """sha256, graph against spec, then (with a robot, when all agree) the dry run."""
    mismatch = check_sha256(spec)
    r.lines.append(f"onnx: {spec.onnx_path} sha256 {'ok' if mismatch is None else 'MISMATCH'}")
    if mismatch is not None:
        r.problems.append(str(mismatch))
    try:
        sess, provider = open_session(spec)
    except PolicyMismatch as exc:
        r.problems.append(str(exc))
        return
    for kind, nodes in (("input", sess.get_inputs()), ("output", sess.get_outputs())):
        for n in nodes:
            r.lines.append(f"  {kind:6s} {n.name}: {n.type} {n.shape}")
    r.lines.append(f"provider: {provider}")
    problems = graph_problems(spec, sess)
    r.problems += [str(p) for p in problems]
    if problems or mismatch is not None or robot is None:
        return
    _dry_run(r, OnnxPolicy.from_session(spec, sess, provider), robot)


def _dry_run(r: CheckReport, policy: OnnxPolicy, robot: RobotDescription) -> None:
    """Two inferences: a zero observation (must give finite actions), and the observation of the
    robot standing level and still in its default pose with a zero command (its targets are shown,
    as distance from the default pose, and checked against the joint limits)."""
    spec = policy.spec
    try:
        raw = policy.warm_up()
    except PolicyMismatch as exc:
        r.problems.append(f"dry run failed: {exc}")
        return
    if not np.isfinite(raw).all():
        r.problems.append(f"dry run: the zero observation gives non-finite actions {raw.tolist()}")
    r.lines.append(
        f"dry run (zero observation): actions {'finite' if np.isfinite(raw).all() else 'NOT finite'}, "
        f"max |a| {np.nanmax(np.abs(raw)) if np.isfinite(raw).any() else float('nan'):.4g}, {policy.inference_ms:.3f} ms"
    )
    n = robot.n_joints
    standing = ObsInputs(
        q=robot.default_pose[None].copy(),
        dq=np.zeros((1, n)),
        gravity=np.array([[0.0, 0.0, -1.0]]),
        quat=np.array([[1.0, 0, 0, 0]]),
        ang_vel=np.zeros((1, 3)),
        lin_vel=np.zeros((1, 3)),
        contacts=np.ones((1, len(robot.feet))),
        command=np.zeros((1, 3)),
        last_action=np.zeros((1, spec.n_act)),
        phase_time=np.zeros(1),
        height_scan=_flat_scan(spec, robot),
    )
    obs = ObservationBuilder(spec, robot).build(standing)
    raw = policy.act(obs, policy.zero_images(), ages=policy.zero_ages())
    q, _, _ = ActionMapper(spec, robot).targets(raw)
    if not np.isfinite(q).all():
        r.problems.append("dry run: standing still in the default pose gives non-finite targets")
        return
    dev = np.abs(q - robot.default_pose)
    worst = int(np.argmax(dev))
    r.lines.append(f"dry run (standing, default pose, zero command): max |target - default| {dev[worst]:.4g} rad ({robot.joint_names[worst]})")
    outside = [robot.joint_names[i] for i in np.flatnonzero((q < robot.lower) | (q > robot.upper))]
    if outside:
        r.warnings.append(f"standing targets outside joint limits (the safety limits will clip them): {outside}")


def _flat_scan(spec: PolicySpec, robot: RobotDescription) -> np.ndarray | None:
    """A privileged height scan of flat ground under a robot at its nominal height (None when the
    spec reads none); the dry run of a teacher needs one, as the sim bridge gives it at runtime."""
    term = next((t for t in spec.observation.terms if t.name == "height_scan"), None)
    return None if term is None else np.full((1, term.size), robot.nominal_base_height)
