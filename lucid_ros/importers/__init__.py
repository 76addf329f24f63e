"""`lucid-ros import-policy`: a trainer's checkpoint -> ONNX + policy spec, proved equivalent.

Formats (one module each, `convert(checkpoint, robot, config, name) -> Conversion`):
- `unitree_rl_gym`: Unitree's TorchScript humanoid policies (LSTM state in module buffers).
- `rsl_rl`: rsl_rl / legged_gym `model_<iter>.pt` (both key generations; MLP or recurrent actor).
- `extreme_parkour`, `lucidsim`: visual-parkour students (depth/RGB backbone, GRU, actor).

Torch is needed here only (the `train` or `import` extra); the runtime never imports this package.
"""

from __future__ import annotations

import importlib
import importlib.util
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from lucid_ros.errors import ConfigError, PolicyMismatch
from lucid_ros.policy.runner import file_sha256

FORMATS = ("unitree_rl_gym", "rsl_rl", "extreme_parkour", "lucidsim")
_MODULES = {"unitree_rl_gym": "unitree_rl_gym", "rsl_rl": "rsl_rl", "extreme_parkour": "parkour", "lucidsim": "parkour"}


def _need_import_extra() -> None:
    """torch and onnx are not part of the runtime install: say how to get them, not a traceback."""
    missing = [m for m in ("torch", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(None, "import-policy", f"needs {' and '.join(missing)}, which the runtime install leaves out: pip install -e '.[import]'")


def convert(checkpoint: str | Path, fmt: str, robot: str, config: str | Path | None = None, name: str | None = None):
    """The Conversion for `checkpoint` (no files written). ConfigError for an unknown format, a
    missing file or a checkpoint that does not fit the format or the robot."""
    if fmt not in FORMATS:
        raise ConfigError(None, "--from", f"unknown format {fmt!r}; supported: {', '.join(FORMATS)}")
    path = Path(checkpoint).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(path, None, "no such checkpoint file")
    cfg = None if config is None else Path(config).expanduser().resolve()
    if cfg is not None and not cfg.is_file():
        raise ConfigError(cfg, None, "no such trainer config file (--config)")
    try:
        module = importlib.import_module(f"lucid_ros.importers.{_MODULES[fmt]}")
    except ModuleNotFoundError as exc:
        if exc.name == "torch":
            raise ConfigError(None, "--from", "importing a checkpoint needs torch: pip install -e '.[import]' (torch CPU)") from exc
        raise
    conv = module.convert(path, robot=robot, config=cfg, name=name or f"{robot}_{fmt}", fmt=fmt)
    block = conv.spec.setdefault("training", {})
    block["import"] = {
        "format": fmt,
        "source": str(path),
        "source_sha256": file_sha256(path),
        **({"config": str(cfg), "config_sha256": file_sha256(cfg)} if cfg is not None else {"config": "none: the per-trainer defaults below"}),
        "command": "lucid-ros import-policy " + " ".join(shlex.quote(a) for a in sys.argv[2:])
        if sys.argv[1:2] == ["import-policy"]
        else "lucid_ros.importers.convert",
        "notes": list(conv.notes),
    }
    return conv


def write_and_prove(conv, folder: Path, name: str, robot: str, fmt: str, steps: int = 500, log=print) -> tuple[Path, float]:
    """Write NAME.onnx + NAME.yaml into `folder` and prove the ONNX equivalent to the source
    (max |Δ| <= TOLERANCE over `steps` policy steps, reset half-way); the result goes into the
    spec's training.import.equivalence. Returns (spec path, max |Δ|); PolicyMismatch (exit 1) when
    not equivalent. No robot description needed: this is the part a robot not yet shipped can do."""
    from lucid_ros.importers.base import TOLERANCE, prove_equivalent, write_spec_yaml

    onnx_path = conv.graph.save(Path(folder) / f"{name}.onnx")
    spec = dict(conv.spec, name=name, robot=robot, onnx=onnx_path.name, sha256=file_sha256(onnx_path))
    header = (
        f"Policy {name} for {robot}, imported from a {fmt} checkpoint by `lucid-ros import-policy`.\n"
        "Equivalence with the source network and every convention assumed are in training.import;\n"
        "re-import rather than edit (sha256 pins the ONNX)."
    )
    spec_path = write_spec_yaml(spec, Path(folder) / f"{name}.yaml", header)
    log(f"  equivalence: ONNX (onnxruntime, the runtime's OnnxPolicy) vs the source in torch, {steps} steps, reset at {steps // 2} ...")
    worst = prove_equivalent(conv, spec_path, steps=steps)
    log(f"  max |ONNX - torch| = {worst:.3g} (tolerance {TOLERANCE:g})")
    if not worst <= TOLERANCE:
        raise PolicyMismatch(spec_path.name, "onnx", f"the converted network differs from the source by {worst:.3g} > {TOLERANCE:g}: not written")
    spec["training"]["import"]["equivalence"] = {
        "steps": steps,
        "reset_at": steps // 2,
        "max_abs_diff": float(f"{worst:.3g}"),
        "tolerance": TOLERANCE,
    }
    write_spec_yaml(spec, spec_path, header)
    return spec_path, worst


def import_policy(
    checkpoint: str | Path,
    fmt: str,
    robot: str,
    out: str | Path = ".",
    name: str | None = None,
    config: str | Path | None = None,
    steps: int = 500,
    force: bool = False,
    log=print,
):
    """Convert, write to a staging folder, prove equivalence (max |Δ| <= TOLERANCE over `steps`
    policy steps with a reset half-way), check against the robot, then publish both files into
    `out`. Returns ImportResult. Raises ConfigError (exit 2) for bad input, PolicyMismatch (exit 1)
    when the result is not equivalent or does not fit the robot; `out` is untouched then."""
    from lucid_ros.importers.base import ImportResult, stage_and_publish
    from lucid_ros.policy.check import check_policy
    from lucid_ros.robots import load_robot

    _need_import_extra()
    description = load_robot(robot)  # first: an unknown robot is exit 2 before any work
    name = name or f"{description.name}_{fmt}"
    if steps < 10:
        raise ConfigError(None, "--steps", f"{steps}: the equivalence check needs at least 10 policy steps (default 500)")
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(None, "--name", f"{name!r}: use letters, digits, '_' and '-' only (it names two files)")
    conv = convert(checkpoint, fmt, description.name, config, name)
    for note in conv.notes:
        log(f"  assumed: {note}")
    result: dict = {}

    def write(stage: Path) -> None:
        spec_path, result["worst"] = write_and_prove(conv, stage, name, description.name, fmt, steps, log)
        report = check_policy(spec_path, robot)
        log(report.text())
        if not report.ok:
            raise PolicyMismatch(spec_path.name, None, "check-policy refused the imported pair (above); nothing written")

    onnx_out, spec_out = stage_and_publish(Path(out), name, write, force=force)
    return ImportResult(onnx=onnx_out, spec=spec_out, max_abs_diff=result["worst"], steps=steps, notes=list(conv.notes))


def cli(args: Sequence[str] | object) -> int:
    """`lucid-ros import-policy` (argparse namespace from lucid_ros.cli)."""
    a = args
    print(f"[lucid-ros import-policy] {a.checkpoint} --from {a.fmt} --robot {a.robot}", file=sys.stderr)
    res = import_policy(
        a.checkpoint, a.fmt, a.robot, out=a.out, name=a.name, config=a.config, steps=a.steps, force=a.force, log=lambda s: print(s, file=sys.stderr)
    )
    print(f"wrote {res.onnx}\nwrote {res.spec}\nequivalent to the source within {res.max_abs_diff:.3g} over {res.steps} steps")
    print(f"run it: lucid-ros sim --robot {a.robot} --policy {res.spec} --cmd-vel 0.5,0,0")
    return 0
