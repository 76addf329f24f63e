"""What every importer shares: the conversion result, the equivalence proof, and writing the pair.

An importer (`lucid_ros.importers.<format>.convert`) reads a checkpoint as its trainer wrote it
and returns a `Conversion`: the ONNX graph (built by `GraphBuilder`), the spec as a dict, and a
`Reference` that runs the *source* network in torch the way its trainer's deploy code does
(recurrent state carried inside, as the trainer keeps it). `import_policy` then writes the pair
to a staging folder, proves the ONNX through the runtime's own `OnnxPolicy` computes what the
source computes over a 500-step sequence with a reset in the middle, checks the pair against the
robot, and only then moves both files into `--out`. A failure at any step leaves `--out` as it
was.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from lucid_ros.errors import ConfigError, PolicyMismatch
from lucid_ros.importers.onnxgraph import GraphBuilder

TOLERANCE = 1e-5  # max |ONNX − torch| over the whole sequence
SPEC_ORDER = (
    "format",
    "name",
    "robot",
    "onnx",
    "sha256",
    "rate_hz",
    "joint_order",
    "gains",
    "action",
    "observation",
    "inputs",
    "outputs",
    "training",
)


class Reference(Protocol):
    """The source network in torch, run as its trainer's deploy code runs it."""

    def reset(self) -> None:
        """A new episode: recurrent state to zero (what the runner does on entering RUNNING)."""

    def step(self, obs: np.ndarray, images: Mapping[str, np.ndarray]) -> np.ndarray:
        """One policy step on obs (1, obs_dim) float32 (and image inputs by ONNX name): the raw action (n_act,)."""


@dataclass
class Conversion:
    """What an importer hands back. `spec` is the policy spec without `onnx` and `sha256`."""

    spec: dict[str, Any]
    graph: GraphBuilder
    reference: Reference
    notes: list[str] = field(default_factory=list)  # conventions assumed, printed and kept in training.import.notes
    observation_sampler: Callable[[np.random.Generator, int], np.ndarray] | None = None  # (rng, steps) -> (steps, obs_dim)
    # The source reads a new image every k-th policy step counted from each reset (steps 0, k, 2k,
    # ...) and holds what it made of it between (the parkour students: k = 5). None: every step.
    image_period: int | None = None


@dataclass
class ImportResult:
    onnx: Path
    spec: Path
    max_abs_diff: float
    steps: int
    notes: list[str]


def source_error(path: Path, key: str | None, message: str) -> ConfigError:
    """A problem with the checkpoint itself (CLI exit 2), naming the file and the key."""
    return ConfigError(path, key, message)


def require(state: Mapping[str, Any], path: Path, shapes: Mapping[str, Sequence[int | None]]) -> None:
    """Every key present with the given shape (None = any size on that axis); a ConfigError naming
    the first missing key or wrong shape, and what the checkpoint has instead."""
    for key, want in shapes.items():
        if key not in state:
            near = sorted(k for k in state if k.split(".")[0] == key.split(".")[0])[:8]
            raise source_error(path, key, f"missing from the checkpoint (keys under '{key.split('.')[0]}': {near or 'none'})")
        got = tuple(state[key].shape)
        if len(got) != len(want) or any(w is not None and g != w for g, w in zip(got, want, strict=True)):
            raise source_error(path, key, f"has shape {list(got)}, expected {[w if w is not None else '*' for w in want]}")


def refuse_extra(state: Mapping[str, Any], path: Path, prefix: str, known: set[str]) -> None:
    """Keys under `prefix` that the importer would ignore: a layer this importer does not know
    would be silently dropped, so it is refused by name instead."""
    extra = sorted(k for k in state if k.startswith(prefix) and k not in known)
    if extra:
        raise source_error(
            path, extra[0], f"unexpected key{'s' if len(extra) > 1 else ''} {extra[:6]}: this network has layers the importer does not know"
        )


def smooth_observations(rng: np.random.Generator, steps: int, dim: int) -> np.ndarray:
    """A seeded sequence that moves like a robot's observation (a bounded random walk, values of
    order 1), so recurrent state is exercised the way a rollout exercises it."""
    x = np.zeros((steps, dim))
    v = rng.normal(0.0, 0.5, dim)
    for t in range(steps):
        v = 0.9 * v + rng.normal(0.0, 0.15, dim)
        x[t] = v
    return x.astype(np.float32)


def prove_equivalent(conv: Conversion, spec_path: Path, steps: int = 500, seed: int = 0) -> float:
    """max |Δ| between the ONNX through the runtime's OnnxPolicy and the source in torch over
    `steps` policy steps, state carried across steps, both reset half-way.

    Random images are fed every step. With `conv.image_period` k, the ONNX is told (its
    `inputs.images[].fresh` inputs) that only steps 0, k, 2k, ... after each reset bring a new
    image, while the source counts those steps itself, as its deploy does: an ONNX that lets an
    image in between, or fails to hold what it made of the last one, differs."""
    from lucid_ros.policy.runner import OnnxPolicy
    from lucid_ros.policy.spec import load_spec

    spec = load_spec(spec_path)
    policy = OnnxPolicy(spec, providers="cpu")
    rng = np.random.default_rng(seed)
    obs = conv.observation_sampler(rng, steps) if conv.observation_sampler else smooth_observations(rng, steps, spec.obs_dim)
    zero = policy.zero_images()
    conv.reference.reset()
    policy.reset()
    worst = 0.0
    since_reset = 0
    for t in range(steps):
        if t == steps // 2:
            conv.reference.reset()
            policy.reset()
            since_reset = 0
        images = {k: rng.uniform(-0.5, 0.5, v.shape).astype(np.float32) for k, v in zero.items()}
        fresh = None if conv.image_period is None else {k: since_reset % conv.image_period == 0 for k in zero}
        since_reset += 1
        a = policy.act(obs[t][None], images, fresh)
        b = np.asarray(conv.reference.step(obs[t][None], images), dtype=np.float64).reshape(-1)
        if b.shape != a.shape:
            raise PolicyMismatch(spec_path, "outputs.action", f"the source network gives {b.size} actions, the ONNX {a.size}")
        worst = max(worst, float(np.max(np.abs(a - b))))
    return worst


class _SpecDumper(yaml.SafeDumper):
    """Readable specs: no anchors/aliases (a pose used twice is written twice), short scalar
    lists on one line, long strings (notes) one per line, and the sha256 always quoted (64 hex
    digits can read as a number)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class _Quoted(str):
    pass


def _list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(isinstance(v, (int, float, bool)) or (isinstance(v, str) and len(v) <= 40) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_SpecDumper.add_representer(list, _list)
_SpecDumper.add_representer(_Quoted, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v), style='"'))


def write_spec_yaml(spec: Mapping[str, Any], path: Path, header: str) -> Path:
    ordered = {k: spec[k] for k in SPEC_ORDER if k in spec}
    if "sha256" in ordered:
        ordered["sha256"] = _Quoted(ordered["sha256"])
    text = yaml.dump(ordered, Dumper=_SpecDumper, sort_keys=False, width=120, allow_unicode=True)
    path.write_text("".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + text)
    return path


def stage_and_publish(out: Path, name: str, write: Callable[[Path], Any], force: bool = False) -> tuple[Path, Path]:
    """Run `write(staging_dir)` (which must leave NAME.onnx and NAME.yaml there), then move both
    into `out`. Any exception leaves `out` untouched: the staging folder is removed and nothing
    half-written remains. Existing files are not replaced unless `force`."""
    out = Path(out)
    targets = (out / f"{name}.onnx", out / f"{name}.yaml")
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise ConfigError(existing[0], None, "already exists; pass --force to replace it, or choose another --name / --out")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".{name}.import-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    done = False
    try:
        write(staging)
        os.replace(staging / targets[0].name, targets[0])  # the ONNX first: a spec never points at a missing file
        os.replace(staging / targets[1].name, targets[1])
        done = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not done:
            shutil.rmtree(out, ignore_errors=True)  # a folder this import made holds nothing else
    return targets
