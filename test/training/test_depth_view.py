"""`distill --depth-view color`: a depth student that reads only the part of its depth frame the
colour camera sees (a guide whose code an RGB student can explain), and `--only-depth`."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")
pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from lucid_ros.robots.description import load_robot  # noqa: E402
from lucid_ros.training.distill import DEPTH_PREPROCESS, color_view_crop, depth_preprocess  # noqa: E402
from lucid_ros.vision.preprocess import Preprocessor  # noqa: E402
from lucid_ros.vision.sources import render_stream  # noqa: E402

# A camera 0.3 m up, pitched 30 degrees down (the ego_down mount), over a floor with blocks at
# several distances and offsets: every part of the frame has its own depth.
SCENE = """
<mujoco>
  <worldbody>
    <geom type="plane" size="5 5 0.1"/>
    <geom type="box" pos="0.6 0.0 0.05" size="0.05 0.3 0.05"/>
    <geom type="box" pos="0.9 0.35 0.15" size="0.1 0.1 0.15"/>
    <geom type="box" pos="1.3 -0.5 0.25" size="0.1 0.2 0.25"/>
    <geom type="box" pos="0.45 -0.25 0.02" size="0.08 0.08 0.02"/>
    <geom type="box" pos="1.8 0.6 0.4" size="0.2 0.1 0.4"/>
    <body pos="0 0 0.3" euler="0 -60 -90">
      <camera name="cam" mode="fixed"/>
    </body>
  </worldbody>
</mujoco>
"""


def _render(model, data, st) -> np.ndarray:
    r = mujoco.Renderer(model, st.height, st.width)
    try:
        r.enable_depth_rendering()

        def draw():  # the scene is read after render_stream sets the stream's field of view
            r.update_scene(data, camera="cam")
            return r.render()

        return render_stream(model, 0, st, "depth", draw)
    finally:
        r.close()


def test_the_color_view_of_the_depth_frame_is_what_a_depth_camera_with_the_color_optics_sees():
    """Rendered both ways, the cropped-and-resized depth frame matches a depth frame rendered with
    the colour stream's size and field of view (a pixel's worth of blur), while the whole frame,
    resized the same way, does not: the crop is centred on the axis and sized by the optics."""
    mount = load_robot("go1").cameras["ego_down"]
    assert color_view_crop(mount) == [8, 8, 14, 14]  # 44 x 78 of the 60 x 106 frame: ~0.73 each way
    model = mujoco.MjModel.from_xml_string(SCENE)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    frame = _render(model, data, mount.depth)
    as_color = _render(model, data, replace(mount.depth, width=mount.color.width, height=mount.color.height, vfov_deg=mount.color.vfov_deg))
    native = {k: v for k, v in DEPTH_PREPROCESS.items() if k not in ("resize", "interpolation")}
    want = Preprocessor({**native, "input_size": [45, 80], "vfov_deg": mount.color.vfov_deg}, "depth").transform(as_color[None])
    crop = Preprocessor(depth_preprocess(mount, "color"), "depth").transform(frame[None])
    whole = Preprocessor(depth_preprocess(mount, "depth"), "depth").transform(frame[None])
    assert crop.shape == whole.shape == want.shape == (1, 1, 45, 80)
    err_crop, err_whole = float(np.median(np.abs(crop - want))), float(np.median(np.abs(whole - want)))
    assert np.std(want) > 0.05  # the scene has depth structure to compare
    assert err_crop < 0.002, err_crop  # in the normalised units: 0.002 is 4 mm of depth (measured: 0.0002)
    assert err_whole > 0.01, err_whole  # measured: 0.022
    shifted = Preprocessor({**depth_preprocess(mount, "color"), "crop": [7, 9, 14, 14]}, "depth").transform(frame[None])
    assert float(np.median(np.abs(shifted - want))) > 0.003  # one row off is visible (measured: 0.005)


def test_a_mount_whose_color_sees_more_than_its_depth_has_no_color_view():
    mount = load_robot("go1").cameras["ego_down"]
    wide = replace(mount, color=replace(mount.color, vfov_deg=70.0))
    with pytest.raises(ValueError, match="colour stream sees more than the depth stream"):
        color_view_crop(wide)
    with pytest.raises(ValueError, match="needs a depth and a colour stream"):
        color_view_crop(replace(mount, color=None))
    with pytest.raises(ValueError, match="depth view must be one of"):
        depth_preprocess(mount, "infrared")


def test_a_guide_of_the_color_view_guides_only_a_run_that_crops_the_same_way(tmp_path):
    """`--only-depth` builds the depth student alone, with the crop in its spec; a guide written
    that way is accepted when the run renders its preprocessing (code_fit passes the guide's own)
    and refused, naming the field, by a run that would feed it the whole frame."""
    import torch

    from lucid_ros.errors import ConfigError
    from lucid_ros.paths import config_dir
    from lucid_ros.policy.spec import load_spec
    from lucid_ros.training.config import TrainConfig
    from lucid_ros.training.distill import build_students, export_student, load_guide, preprocess_change

    robot = load_robot("go1")
    teacher = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    pre = depth_preprocess(robot.cameras["ego_down"], "color")
    specs, models = build_students(robot, TrainConfig(), teacher, tmp_path / "a", None, camera="ego_down", depth_pre=pre, streams=("depth",))
    assert [s.name for s in specs] == ["go1_depth"] and len(models) == 1
    assert specs[0].images[0].preprocess["crop"] == [8, 8, 14, 14]
    guide = export_student(models[0], specs[0], tmp_path / "go1_depth", {"depth_view": "color"}).path
    # continued without --depth-view color, the student would be fed the whole frame: distill says so
    assert preprocess_change(guide, DEPTH_PREPROCESS) == "crop [8, 8, 14, 14] -> none, interpolation bilinear -> area"
    assert preprocess_change(guide, pre) == ""
    specs, models = build_students(robot, TrainConfig(), teacher, tmp_path / "b", None, camera="ego_down", guided=True, depth_pre=pre)
    before = models[1].fuse.weight.detach().clone()
    load_guide(guide, specs[0], models, graft=True)
    assert not torch.equal(before, models[1].fuse.weight)  # grafted from the guide
    specs, models = build_students(robot, TrainConfig(), teacher, tmp_path / "c", None, camera="ego_down", guided=True)
    with pytest.raises(ConfigError, match=r"inputs\.images\[0\]\.preprocess"):
        load_guide(guide, specs[0], models, graft=True)


def test_distill_refuses_only_depth_with_a_depth_guide(capsys):
    from lucid_ros.training.distill import main

    with pytest.raises(SystemExit) as e:
        main(["--only-depth", "--depth-guide", "config/policies/go1_depth.yaml"])
    assert e.value.code == 2
    assert "--only-depth trains the depth student" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,says",
    [
        (["--rgb-encoder", "16,32"], "is not three channel counts"),
        (["--rgb-encoder", "32,64,x"], "is not three channel counts"),
        (["--rgb-encoder", "32,64,64", "--init-dir", "config/policies"], "one continued from --init-dir keeps its file's widths"),
        (["--rgb-encoder", "32,64,64", "--only-depth"], "--only-depth trains none"),
        (["--rgb-stack", "0"], "--rgb-stack 0: want 1 to 8 frames"),
        (["--init-dir", "docs", "--camera", "ego_down"], "go1_depth.onnx: no such file"),
        (["--rgb-stack", "2", "--only-depth"], "--rgb-stack is the RGB student's; --only-depth trains none"),
        (["--code-focus", "0.5"], "--code-focus shapes the code steps' batches: it needs --code-steps"),
        (["--code-focus", "1.5", "--code-steps", "5", "--depth-guide", "config/policies/go1_depth.yaml"], "--code-focus 1.5: want a share"),
    ],
)
def test_distill_refuses_an_rgb_student_it_cannot_build(capsys, argv, says):
    from lucid_ros.training.distill import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert says in capsys.readouterr().err


def test_a_stacked_rgb_student_is_continued_with_its_stack_and_a_narrower_one_is_refused(tmp_path, capsys):
    """`distill --init-dir` of a student that reads two frames builds it with two (init_stack reads
    its spec), and `--rgb-stack 1` on it stops before any world is built, naming --init-dir (exit 2)."""
    from lucid_ros.paths import config_dir
    from lucid_ros.policy.spec import load_spec
    from lucid_ros.training.config import TrainConfig
    from lucid_ros.training.distill import COLOR_PREPROCESS, build_students, init_stack, main, preprocess_change

    robot = load_robot("go1")
    teacher = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    assert init_stack(tmp_path / "absent.yaml") == 1
    stack2 = {**COLOR_PREPROCESS, "stack": 2}
    build_students(robot, TrainConfig(), teacher, tmp_path, None, camera="ego_down", color_pre=stack2)
    assert init_stack(tmp_path / "go1_rgb.yaml") == 2
    # the deeper stack is student_from_onnx's note (the same actions), not a NOTE that the images change
    assert preprocess_change(tmp_path / "go1_rgb.yaml", {**stack2, "stack": 3}) == ""
    assert preprocess_change(tmp_path / "go1_rgb.yaml", {**stack2, "vfov_deg": 56.19}) == "vfov_deg 42.61 -> 56.19"
    _specs, models = build_students(robot, TrainConfig(), teacher, tmp_path / "again", tmp_path, camera="ego_down", color_pre=stack2)
    assert models[1].convs[0].in_channels == 6 and models[0].convs[0].in_channels == 1
    with pytest.raises(SystemExit) as e:
        main(["--init-dir", str(tmp_path), "--camera", "ego_down", "--rgb-stack", "1", "--out-dir", str(tmp_path / "out")])
    assert e.value.code == 2
    assert "--init-dir:" in capsys.readouterr().err
