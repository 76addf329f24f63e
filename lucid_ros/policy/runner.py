"""Running an ONNX policy: the file is checked against its spec before the first inference.

A policy that loads is not a policy that fits: a network exported for 48 observations will
happily run on 45 padded ones in other stacks. Here the sha256, every declared input and output,
their shapes and any undeclared graph input are checked when the policy is opened, and each
disagreement is a PolicyMismatch naming the spec field and the ONNX name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from lucid_ros.errors import PolicyMismatch
from lucid_ros.policy.actions import ActionMapper
from lucid_ros.policy.observations import ObservationBuilder, ObsInputs
from lucid_ros.policy.spec import PolicySpec, load_spec
from lucid_ros.robots.description import RobotDescription

CPU = "CPUExecutionProvider"
GPU_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_sha256(spec: PolicySpec) -> PolicyMismatch | None:
    """A mismatch when the ONNX file is not the one the spec was written for."""
    actual = file_sha256(spec.onnx_path)
    if actual == spec.sha256:
        return None
    return PolicyMismatch(
        spec.path,
        "sha256",
        f"{spec.onnx_path.name} has sha256 {actual}, the spec expects {spec.sha256}: "
        "the ONNX file was replaced or the spec belongs to another export",
    )


def choose_providers(providers: str | Sequence[str] = "auto") -> list[str]:
    """'auto': TensorRT, CUDA, then CPU, keeping those this onnxruntime build has; 'cpu'; or a list."""
    available = ort.get_available_providers()
    if providers == "auto":
        return [p for p in (*GPU_PREFERENCE, CPU) if p in available]
    if providers == "cpu":
        return [CPU]
    chosen = [providers] if isinstance(providers, str) else list(providers)
    unknown = [p for p in chosen if p not in available]
    if unknown:
        raise ValueError(f"onnxruntime provider(s) {unknown} not available (available: {available})")
    return chosen


def open_session(spec: PolicySpec, providers: str | Sequence[str] = "auto", threads: int = 1) -> tuple[ort.InferenceSession, str]:
    """(session, provider report). One intra-op thread by default: policy networks are small, and
    a thread pool spinning beside the control loop costs more latency jitter than it saves."""
    chosen = choose_providers(providers)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # the provider report below says what actually runs
    try:
        sess = ort.InferenceSession(str(spec.onnx_path), sess_options=opts, providers=chosen)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types per failure
        raise PolicyMismatch(spec.path, "onnx", f"onnxruntime cannot load {spec.onnx_path.name}: {exc}") from exc
    actual = sess.get_providers()
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        note = " (CUDA not available)"
    elif any(p in chosen for p in GPU_PREFERENCE) and actual == [CPU]:
        note = " (CUDA present but failed to initialise: running on CPU)"
    elif actual == [CPU]:
        note = " (CPU requested)"
    else:
        note = ""
    return sess, f"onnxruntime {ort.__version__}: {', '.join(actual)}{note}"


def _fits(graph_shape: Sequence[Any], want: Sequence[int]) -> bool:
    """Same rank, and every fixed graph dimension equals the wanted one (symbolic dims fit)."""
    return len(graph_shape) == len(want) and all(not isinstance(g, int) or g == w for g, w in zip(graph_shape, want, strict=False))


def graph_problems(spec: PolicySpec, sess: ort.InferenceSession) -> list[PolicyMismatch]:
    """Every disagreement between the spec and the ONNX graph (empty when they agree)."""
    ins = {i.name: i for i in sess.get_inputs()}
    outs = {o.name: o for o in sess.get_outputs()}
    onnx = spec.onnx_path.name
    problems: list[PolicyMismatch] = []

    def bad(fld: str, msg: str) -> None:
        problems.append(PolicyMismatch(spec.path, fld, f"{onnx}: {msg}"))

    def need(table: dict, name: str, fld: str, kind: str) -> Any:
        node = table.get(name)
        if node is None:
            bad(fld, f"has no {kind} '{name}' ({kind}s: {sorted(table)})")
        return node

    obs = need(ins, spec.obs_input, "inputs.observation", "input")
    if obs is not None:
        if obs.type != "tensor(float)":
            bad("inputs.observation", f"input '{obs.name}' is {obs.type}; observations are float32")
        if not _fits(obs.shape, (1, spec.obs_dim)):
            o = spec.observation
            bad(
                "inputs.observation",
                f"input '{obs.name}' has shape {obs.shape}; the spec's observation is [1, {spec.obs_dim}] "
                f"({o.frame_dim} per frame x history {o.history}: "
                + ", ".join(f"{t.name} {t.size}" + (f" x{t.history}" if t.history is not None else "") for t in o.terms)
                + ")",
            )
    act = need(outs, spec.action_output, "outputs.action", "output")
    if act is not None:
        if act.type != "tensor(float)":
            bad("outputs.action", f"output '{act.name}' is {act.type}; actions are read as float32")
        last = act.shape[-1] if act.shape else None
        if isinstance(last, int) and last != spec.n_act:
            bad("outputs.action", f"output '{act.name}' has shape {act.shape}: {last} actions, but joint_order lists {spec.n_act} joints")
    for k, r in enumerate(spec.recurrent):
        for table, name, fld, kind in (
            (ins, r.input, f"inputs.recurrent[{k}].input", "input"),
            (outs, r.output, f"inputs.recurrent[{k}].output", "output"),
        ):
            node = need(table, name, fld, kind)
            if node is not None and not _fits(node.shape, r.shape):
                bad(f"inputs.recurrent[{k}].shape", f"{kind} '{name}' has shape {node.shape}, the spec declares {list(r.shape)}")
    for k, img in enumerate(spec.images):
        need(ins, img.input, f"inputs.images[{k}].input", "input")
        if img.fresh is not None:
            node = need(ins, img.fresh, f"inputs.images[{k}].fresh", "input")
            if node is not None and (node.type != "tensor(float)" or not _fits(node.shape, (1,))):
                bad(f"inputs.images[{k}].fresh", f"input '{node.name}' is {node.type} {node.shape}; a fresh flag is float32 [1] (1 = a new frame)")
        if img.age is not None:
            node = need(ins, img.age, f"inputs.images[{k}].age", "input")
            if node is not None and (node.type != "tensor(float)" or not (_fits(node.shape, (1,)) or _fits(node.shape, (1, 1)))):
                bad(
                    f"inputs.images[{k}].age", f"input '{node.name}' is {node.type} {node.shape}; an image age is float32 [1] or [batch, 1] (seconds)"
                )
    extra = sorted(set(ins) - set(spec.input_names))
    if extra:
        bad("inputs", f"has input(s) {extra} the spec does not declare (a recurrent state or image input missing from `inputs:`?)")
    return problems


class OnnxPolicy:
    """One policy network: `act(obs) -> raw action (n_act,)`, keeping its recurrent state."""

    def __init__(self, spec: PolicySpec, providers: str | Sequence[str] = "auto", threads: int = 1):
        mismatch = check_sha256(spec)
        if mismatch is not None:
            raise mismatch
        session, report = open_session(spec, providers, threads)
        problems = graph_problems(spec, session)
        if problems:
            raise problems[0]
        self._attach(spec, session, report)
        self.warm_up()

    @classmethod
    def from_session(cls, spec: PolicySpec, session: ort.InferenceSession, provider_report: str) -> OnnxPolicy:
        """Wrap a session the caller already opened and checked (check_sha256, graph_problems)."""
        policy = cls.__new__(cls)
        policy._attach(spec, session, provider_report)
        return policy

    def _attach(self, spec: PolicySpec, session: ort.InferenceSession, provider_report: str) -> None:
        self.spec = spec
        self.session = session
        self.provider_report = provider_report
        types = {i.name: i.type for i in self.session.get_inputs()}
        self._dtype = {name: _DTYPES.get(t, np.float32) for name, t in types.items()}
        shapes = {i.name: i.shape for i in self.session.get_inputs()}
        self._age_shape = {img.age: (1,) * len(shapes[img.age]) for img in spec.images if img.age}  # [1] or [1, 1] at batch 1
        self._outputs = [spec.action_output] + [r.output for r in spec.recurrent]
        self._state: dict[str, np.ndarray] = {}
        self.inference_ms = 0.0
        self.reset()

    @property
    def state(self) -> dict[str, np.ndarray]:
        """Recurrent state per ONNX input name (what the next `act` feeds)."""
        return self._state

    def zero_images(self) -> dict[str, np.ndarray]:
        """Zero images of each image input's graph shape (symbolic dims as 1)."""
        shapes = {i.name: i.shape for i in self.session.get_inputs()}
        return {
            img.input: np.zeros([d if isinstance(d, int) else 1 for d in shapes[img.input]], dtype=self._dtype[img.input]) for img in self.spec.images
        }

    def zero_ages(self) -> dict[str, float]:
        """An age of 0 s for each image input (a frame captured this very step)."""
        return {img.input: 0.0 for img in self.spec.images}

    def warm_up(self) -> np.ndarray:
        """Run once on a zero observation (and zero images), then reset; returns that action.
        Catches what the graph's declared shapes cannot show (a symbolic obs dim that is really
        another size) when the policy is opened, not at its first step on the robot, and takes the
        first-inference allocation cost out of the control loop."""
        try:
            action = self.act(np.zeros((1, self.spec.obs_dim), dtype=np.float32), self.zero_images(), ages=self.zero_ages())
        except PolicyMismatch:
            raise
        except Exception as exc:  # noqa: BLE001 - onnxruntime's errors are its own types
            raise PolicyMismatch(
                self.spec.path, "inputs", f"{self.spec.onnx_path.name} fails on a zero observation of shape [1, {self.spec.obs_dim}]: {exc}"
            ) from exc
        finally:
            self.reset()
        return action

    def reset(self) -> None:
        """Zero the recurrent state (a new episode); the next step counts every image as fresh."""
        self._state = {r.input: np.zeros(r.shape, dtype=self._dtype[r.input]) for r in self.spec.recurrent}
        self._after_reset = True

    def act(
        self,
        obs: np.ndarray,
        images: dict[str, np.ndarray] | None = None,
        fresh: Mapping[str, bool] | None = None,
        ages: Mapping[str, float] | None = None,
    ) -> np.ndarray:
        """Run the network once. Returns the raw action (n_act,) float32 exactly as computed: NaN
        included (the caller flags it; the safety supervisor refuses it).

        `fresh` says, per image input name, whether this step brings a new tensor of it; it feeds
        the inputs declared as `inputs.images[k].fresh` (an image missing from it, or fresh None,
        counts as new). The first step after `reset` counts every image as new: the state that
        holds an image branch's result between frames is zero then. `ages` (s, per image input
        name, lucid_ros.vision.preprocess.image_age) feeds the inputs declared as
        `inputs.images[k].age`; a network that reads an age refuses a step without it."""
        spec = self.spec
        x = np.asarray(obs, dtype=np.float32)
        if x.shape == (spec.obs_dim,):
            x = x[None]
        if x.shape != (1, spec.obs_dim):
            raise ValueError(f"policy '{spec.name}' expects an observation of shape (1, {spec.obs_dim}), got {x.shape}")
        feeds = {spec.obs_input: x}
        for img in spec.images:
            if images is None or img.input not in images:
                raise ValueError(f"policy '{spec.name}' needs image input '{img.input}' (camera '{img.camera}', {img.stream})")
            feeds[img.input] = np.asarray(images[img.input], dtype=self._dtype[img.input])
            if img.fresh is not None:
                new = self._after_reset or fresh is None or bool(fresh.get(img.input, True))
                feeds[img.fresh] = np.full(1, 1.0 if new else 0.0, dtype=self._dtype[img.fresh])
            if img.age is not None:
                if ages is None or img.input not in ages:
                    raise ValueError(f"policy '{spec.name}' reads the age of image input '{img.input}' ({img.age}); none was given")
                feeds[img.age] = np.full(self._age_shape[img.age], ages[img.input], dtype=self._dtype[img.age])
        feeds.update(self._state)
        t0 = time.perf_counter()
        out = self.session.run(self._outputs, feeds)
        self.inference_ms = (time.perf_counter() - t0) * 1e3
        action = np.asarray(out[0], dtype=np.float32).reshape(-1)
        if action.size != spec.n_act:
            raise PolicyMismatch(spec.path, "outputs.action", f"{spec.onnx_path.name} returned {action.size} actions, joint_order lists {spec.n_act}")
        for r, h in zip(spec.recurrent, out[1:], strict=True):
            if h.shape != r.shape:
                raise PolicyMismatch(
                    spec.path, "inputs.recurrent", f"{spec.onnx_path.name} returned '{r.output}' of shape {list(h.shape)}, declared {list(r.shape)}"
                )
            self._state[r.input] = h
        self._after_reset = False
        return action


class PolicyRuntime:
    """Spec + observation builder + action mapper + network for one robot (batch 1): what the
    policy node runs each policy tick. It keeps last_action and the gait-phase clock itself, so a
    caller cannot feed back the wrong action or forget to reset them with the network.

    Call `reset()` when control passes to the policy (entering RUNNING): it zeros the recurrent
    state and last_action, refills the observation history, and restarts phase time at the next
    `step`.
    """

    def __init__(self, spec_path: str | Path, robot: RobotDescription, providers: str | Sequence[str] = "auto", threads: int = 1):
        self.robot = robot
        self.spec = load_spec(spec_path, robot)
        self.builder = ObservationBuilder(self.spec, robot, batch=1)
        self.mapper = ActionMapper(self.spec, robot)
        self.policy = OnnxPolicy(self.spec, providers, threads)
        self.decimation = int(round(robot.rate_hz / self.spec.rate_hz))  # graph ticks per policy step
        self.reset()

    @property
    def provider_report(self) -> str:
        return self.policy.provider_report

    @property
    def inference_ms(self) -> float:
        return self.policy.inference_ms

    def reset(self) -> None:
        self.builder.reset()
        self.policy.reset()
        self.last_action = np.zeros(self.spec.n_act, dtype=np.float64)
        self.last_obs: np.ndarray | None = None
        self.last_step_finite = True
        self._t0: float | None = None

    def step(
        self,
        inputs: ObsInputs,
        now: float,
        images: dict[str, np.ndarray] | None = None,
        fresh: Mapping[str, bool] | None = None,
        ages: Mapping[str, float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One policy step from batch-1 inputs (last_action and phase_time are filled in here).
        `fresh`: which image inputs got a new tensor since the previous step; `ages`: how old the
        newest frame of each is, in seconds (OnnxPolicy.act).
        Returns (q_target (n_robot,), kp, kd, raw_action (n_act,)); `last_step_finite` says whether
        the observation and the action were all finite."""
        if self._t0 is None:
            self._t0 = now
        x = dataclasses.replace(inputs, last_action=self.last_action[None], phase_time=np.array([now - self._t0]))
        obs = self.builder.build(x)
        raw = self.policy.act(obs, images, fresh, ages)
        self.last_action = self.mapper.clip_raw(raw)
        q, kp, kd = self.mapper.targets(raw)
        self.last_obs = obs[0]
        self.last_step_finite = bool(np.isfinite(obs).all() and np.isfinite(raw).all())
        return q, kp, kd, raw
