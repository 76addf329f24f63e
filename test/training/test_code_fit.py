"""`training.code_fit`: the RGB encoder fitted offline to the depth student's image code (issue 17).

A relit picture is the same capture under other light (its depth frame, so its code, unchanged);
the fit learns a code the pictures show whatever their light, and learns nothing from codes they do
not show; the tool writes an RGB student that is the guide's controller behind the fitted encoder,
and refuses captures coded by another guide.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from lucid_ros.errors import ConfigError  # noqa: E402
from lucid_ros.robots import load_robot  # noqa: E402
from lucid_ros.training.camera import EnvCamera, JitterRanges, SceneJitter  # noqa: E402
from lucid_ros.training.code_fit import Episodes, Pool, by_picture_effect, fit, main, said_by_effect  # noqa: E402
from lucid_ros.training.student import Student, onnx_channels  # noqa: E402
from lucid_ros.vision.preprocess import Preprocessor  # noqa: E402

ROBOT = load_robot("go1")
POSE = ("cam_pos", "cam_pitch", "dfov")


def test_relight_draws_new_light_and_tints_for_one_env_and_undo_puts_the_episodes_back():
    j = SceneJitter(3, 4, JitterRanges(), np.random.default_rng(0))
    j.draw(np.arange(3))
    before = {f: getattr(j, f).copy() for f in (*POSE, *SceneJitter.LIGHT)}
    undo = j.relight(1, np.random.default_rng(5))
    for f in SceneJitter.LIGHT:
        assert not np.array_equal(getattr(j, f)[1], before[f][1]), f  # env 1 relit
        np.testing.assert_array_equal(getattr(j, f)[[0, 2]], before[f][[0, 2]])  # the others untouched
    for f in POSE:  # the camera where it was: the depth frame, and so the code, is the same
        np.testing.assert_array_equal(getattr(j, f), before[f])
    undo()
    for f, v in before.items():
        np.testing.assert_array_equal(getattr(j, f), v)


class _World:
    """What EnvCamera reads of a training world: the Go1 standing at the hurdle course's start."""

    def __init__(self):
        from lucid_ros.sim.robot_sim import SimRobot

        sim = SimRobot(ROBOT, "hurdle")
        sim.reset("default")
        self.model, self.index, self.qpos = sim.model, sim.index, sim.data.qpos.copy()[None]


def test_a_relit_capture_is_the_same_depth_frame_and_another_colour_picture():
    w = _World()
    cam = EnvCamera(ROBOT, [w], "ego_down", ("depth", "color"))
    j = SceneJitter(1, cam.n_mat, JitterRanges(), np.random.default_rng(3))
    j.draw(np.arange(1))
    try:
        depth, colour = cam.render(0, 0, "depth", j, env=0), cam.render(0, 0, "color", j, env=0)
        undo = j.relight(0, np.random.default_rng(11))
        depth2, colour2 = cam.render(0, 0, "depth", j, env=0), cam.render(0, 0, "color", j, env=0)
        undo()
        again = cam.render(0, 0, "color", j, env=0)
    finally:
        cam.close()
    assert np.array_equal(depth, depth2)
    assert np.abs(colour.astype(int) - colour2.astype(int)).mean() > 5.0  # visibly another picture
    assert np.array_equal(colour, again)  # undo: the episode's own scene again


COLOUR = {"input_size": [45, 80], "vfov_deg": 42.61, "color": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}, "rate_hz": 10}


def _pool(n: int, pictures: int, seed: int, shuffled: bool = False, held: bool = False) -> Pool:
    """Captures of a bright band across a dark view, its row r and thickness drawn per capture; each
    picture of a capture in another colour and brightness (the relit ones). The code is a fixed
    function of (r, thickness), as a depth student's code is of the terrain in view. With `held`,
    the guide's observation, state and image age at each capture too."""
    rng = np.random.default_rng(seed)
    r, th = rng.uniform(0.1, 0.85, n), rng.integers(2, 9, n)
    colour = np.full((n, pictures, 45, 80, 3), 20, np.uint8)
    for i in range(n):
        row = int(r[i] * 45)
        for k in range(pictures):
            colour[i, k, row : row + th[i]] = rng.integers(120, 256, 3)
    proj = np.random.default_rng(99).normal(size=(2, 64))
    codes = np.tanh(np.stack([r * 4 - 2, th / 4 - 1], 1) @ proj).astype(np.float32)
    if shuffled:
        codes = codes[rng.permutation(n)]
    if not held:
        return Pool(codes, colour)
    return Pool(codes, colour, rng.normal(size=(n, 141)), rng.uniform(-0.5, 0.5, (n, 256)), rng.uniform(0.0, 0.14, n))


def _student() -> Student:
    torch.manual_seed(0)
    return Student(141, (3, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True)


def _fit(m: Student, pool: Pool, **kw) -> dict:
    return fit(m, pool, Preprocessor(COLOUR, "color"), 600.0, 0.2, 3e-3, 32, 0, iterations=100, log_every=1e9, **kw)


@pytest.mark.parametrize("shuffled", [False, True])
def test_the_fit_learns_the_code_the_pictures_show_whatever_their_light(shuffled):
    """Held out (the last 20 % of the captures, their first picture), the fitted encoder explains
    most of a code the pictures show; with the codes shuffled among the captures (nothing in a
    picture says its code) it explains none of it. Only the encoder is fitted."""
    m = _student()
    with torch.no_grad():
        start = [p.clone() for p in m.fuse.parameters()]
    out = _fit(m, _pool(400, 3, 1, shuffled))
    assert out["iterations"] == 100 and out["val_captures"] == 80 and out["controller_weight"] == 0.0  # no states held: the code alone
    best = out["val_best"]["code_r2"]
    if shuffled:
        assert best < 0.15, best
    else:
        assert best > 0.6, best
        assert best == max(c["val"]["code_r2"] for c in out["curve"])  # the best one is kept
    assert all(torch.equal(a, b) for a, b in zip(start, m.fuse.parameters(), strict=True))  # the encoder alone is fitted


def test_through_the_controller_the_fit_scores_what_the_picture_changes_in_the_action():
    """With the guide's state at each capture, the fit also reports (and fits) the action and next
    recurrent state the code gives through the controller, scored against what the controller does
    with no picture (the mean code: R^2 0); the fitted encoder reproduces most of what the picture
    changes in both, held out."""
    m = _student()
    with torch.no_grad():
        m.fuse.weight.mul_(4.0)  # a controller that reads its code: the picture moves its action
    out = _fit(m, _pool(400, 3, 1, held=True), controller_weight=1.0)
    assert out["controller_weight"] == 1.0
    first, best = out["curve"][0]["val"], out["val_best"]
    assert first["action_r2"] < 0.3 and first["state_r2"] < 0.3, first
    assert best["action_r2"] > 0.6 and best["state_r2"] > 0.6 and best["code_r2"] > 0.5, best


def test_held_out_captures_are_scored_by_how_much_their_picture_changes_the_action(monkeypatch):
    """`by_picture_effect` bins the held-out captures by how far the guide's action from its code
    lies from the action given the mean code (no picture), and scores each bin: an encoder that
    gives the guide's code where the picture matters least and the mean code where it matters most
    reproduces all of the action in the lowest half and none of it above, and the table says so."""
    m = _student()
    with torch.no_grad():
        m.fuse.weight.mul_(4.0)
    pool = _pool(400, 3, 1, held=True)
    val = np.arange(320, 400)
    codes, mean = torch.from_numpy(pool.codes), torch.from_numpy(pool.codes).mean(0)
    obs, state, age = (torch.from_numpy(a[val]) for a in (pool.obs, pool.state, pool.age))
    with torch.no_grad():
        act = lambda z: m._core(obs, z, state[None], age[:, None])[0]  # noqa: E731
        effect = ((act(codes[val]) - act(mean.expand(80, -1))) ** 2).mean(1).numpy()
    low = torch.from_numpy(effect < np.median(effect))[:, None]
    monkeypatch.setattr(m, "latent", lambda x: torch.where(low, codes[val], mean))  # the 80 held-out captures in one call, in order
    rows = by_picture_effect(m, pool, Preprocessor(COLOUR, "color"), 0.2)
    assert [r["quantiles"] for r in rows] == [[0.0, 0.5], [0.5, 0.75], [0.75, 0.9], [0.9, 0.97], [0.97, 1.0]]
    assert sum(r["captures"] for r in rows) == 80 and rows[0]["captures"] == 40
    assert rows[0]["action_r2"] == 1.0 and rows[0]["code_r2"] == 1.0
    assert all(r["action_r2"] == 0.0 and r["code_r2"] == 0.0 for r in rows[1:]), rows
    assert rows[0]["picture_effect"] < rows[-1]["picture_effect"]
    assert "0.97-1.00" in said_by_effect(rows)
    with pytest.raises(ValueError, match="observation and state"):
        by_picture_effect(m, _pool(50, 1, 2), Preprocessor(COLOUR, "color"), 0.2)


def test_focus_fits_the_captures_whose_picture_changes_the_action(monkeypatch, tmp_path):
    """`--focus`: that share of each batch is drawn by how much the capture's picture changes the
    guide's action. Half the captures here have the mean code (their picture changes nothing):
    fitted uniformly they are half of what the fit sees, with focus 1 never. Focus needs the
    guide's state at each capture, and a share in [0, 1]: refused naming it."""
    import lucid_ros.training.code_fit as cf

    pool = _pool(400, 3, 1, held=True)
    pool.codes[0::2] = pool.codes[1::2].mean(axis=0)  # the mean of all codes: no effect on the action
    seen: list[np.ndarray] = []
    real = cf.encoder_input

    def spy(model, pool_, pre, idx, pic):
        if isinstance(idx, np.ndarray) and len(idx) == 32:  # a training batch (the held-out captures come as a slice)
            seen.append(idx.copy())
        return real(model, pool_, pre, idx, pic)

    monkeypatch.setattr(cf, "encoder_input", spy)
    for focus, lo, hi in ((0.0, 0.4, 0.6), (1.0, 0.0, 0.0)):
        seen.clear()
        out = fit(_student(), pool, Preprocessor(COLOUR, "color"), 600.0, 0.2, 3e-3, 32, 0, iterations=30, log_every=1e9, focus=focus)
        share = float(np.mean(np.concatenate(seen) % 2 == 0))
        assert lo <= share <= hi, (focus, share)
        assert out.get("focus", 0.0) == focus
    with pytest.raises(ValueError, match="observation and state"):
        _fit(_student(), _pool(100, 1, 2), focus=0.5)
    with pytest.raises(ValueError, match="focus 1.5"):
        _fit(_student(), pool, controller_weight=1.0, focus=1.5)
    for bad in (["--focus", "1.5"], ["--focus", "0.5", "--controller-weight", "0"]):  # usage errors, before anything is read
        with pytest.raises(SystemExit) as e:
            main(["--pool", str(tmp_path / "none.npz"), "--out-dir", str(tmp_path / "o"), *bad])
        assert e.value.code == 2


def test_code_fit_writes_the_guides_controller_behind_the_fitted_encoder(tmp_path):
    """From saved captures (`--pool`), the tool writes go1_rgb.onnx/.yaml: a spec that loads for the
    Go1, reads colour through the guide's mount, records the guide, the held-out R^2 and the
    command; its fusion, GRU and head are the guide's (bit for bit), its encoder is not."""
    import onnx
    from onnx import numpy_helper

    from lucid_ros.policy.spec import load_spec

    guide = load_spec("config/policies/go1_depth.yaml", ROBOT)
    pool_path = tmp_path / "pool.npz"
    _pool(300, 2, 4, held=True).save(pool_path, guide.sha256)
    out = tmp_path / "out"
    assert main(["--pool", str(pool_path), "--out-dir", str(out), "--fit-iterations", "20", "--batch", "32", "--val-share", "0.2"]) == 0
    spec = load_spec(out / "go1_rgb.yaml", ROBOT)
    img = spec.images[0]
    assert img.stream == "color" and img.camera == guide.images[0].camera and img.age is not None
    t = spec.training
    assert t["depth_guide"]["sha256"] == guide.sha256 and t["depth_guide"]["iterations"] == 20
    assert "code_r2" in t["depth_guide"]["val_best"] and t["command"].startswith("python -m lucid_ros.training.code_fit --pool")
    assert sum(r["captures"] for r in t["depth_guide"]["val_by_picture_effect"]) == 60  # where the fit falls short, held out
    assert (out / "code_fit.png").stat().st_size > 0
    mine = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(out / "go1_rgb.onnx")).graph.initializer}
    theirs = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(guide.onnx_path)).graph.initializer}
    for name in ("fuse_w", "fuse_b", "gru_W", "gru_R", "gru_B", "head0_w", "head1_w", "head1_b", "norm_mean", "norm_std"):
        assert np.array_equal(mine[name], theirs[name]), name
    assert mine["conv0_w"].shape[1] == 3 and theirs["conv0_w"].shape[1] == 1
    assert t["encoder_channels"] == [16, 32, 32]
    # `--score`: the written student scored on the same held-out captures, fitting nothing, as the fit scored it
    assert main(["--pool", str(pool_path), "--out-dir", str(tmp_path / "score"), "--val-share", "0.2", "--score", str(out / "go1_rgb.yaml")]) == 0
    score = json.loads((tmp_path / "score" / "score.json").read_text())
    assert score["val"] == t["depth_guide"]["val_best"] and score["val_by_picture_effect"] == t["depth_guide"]["val_by_picture_effect"]
    assert not (tmp_path / "score" / "go1_rgb.onnx").exists()
    with pytest.raises(ConfigError, match=r"inputs.images\[0\].*depth"):  # a depth student is not scored on colour pictures
        main(["--pool", str(pool_path), "--out-dir", str(tmp_path / "score"), "--score", "config/policies/go1_depth.yaml"])
    with pytest.raises(SystemExit) as e:  # scored on what? usage error
        main(["--out-dir", str(tmp_path / "score"), "--score", str(out / "go1_rgb.yaml")])
    assert e.value.code == 2
    # a wider encoder (`--encoder`) behind the same grafted controller: its widths in the file and the spec
    wide = tmp_path / "wide"
    argv = ["--pool", str(pool_path), "--out-dir", str(wide), "--fit-iterations", "5", "--batch", "32", "--val-share", "0.2", "--encoder", "24,40,40"]
    assert main(argv) == 0
    spec = load_spec(wide / "go1_rgb.yaml", ROBOT)
    assert onnx_channels(spec.onnx_path) == (24, 40, 40) and spec.training["encoder_channels"] == [24, 40, 40]


def _motion_pool(n: int, pictures: int, seed: int) -> Pool:
    """Captures whose code says only how far a band moved since the previous capture (-4..4 rows):
    the band's row in one frame is drawn anew every capture, so one frame cannot tell the motion,
    and two frames (`prev`, then the capture) can, as parallax needs two frames to show depth."""
    rng = np.random.default_rng(seed)
    row, d = rng.integers(5, 37, n), rng.integers(-4, 5, n)  # this capture's row, drawn apart from the motion
    colour = np.full((n, pictures, 45, 80, 3), 20, np.uint8)
    prev = colour.copy()
    for i in range(n):
        for k in range(pictures):
            c = rng.integers(120, 256, 3)  # a picture's light: the same in the pair
            prev[i, k, row[i] - d[i] : row[i] - d[i] + 4] = c
            colour[i, k, row[i] : row[i] + 4] = c
    codes = np.tanh(np.outer(d / 4.0, np.random.default_rng(98).normal(size=64))).astype(np.float32)
    return Pool(codes, colour, prev=prev)


def test_two_frames_fit_a_code_that_only_the_motion_between_them_shows():
    """`code_fit --stack 2`: an encoder of the previous capture and this one explains, held out, most
    of a code that only the motion between them shows; the one-frame encoder, fitted alike on the
    same captures, explains none of it. A two-frame encoder on a pool without previous frames is refused."""
    pool = _motion_pool(500, 2, 4)
    torch.manual_seed(0)
    two = Student(141, (6, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True)
    pre2 = Preprocessor({**COLOUR, "stack": 2}, "color")
    stacked = fit(two, pool, pre2, 600.0, 0.2, 3e-3, 32, 0, iterations=150, log_every=1e9)["val_best"]["code_r2"]
    single = fit(_student(), pool, Preprocessor(COLOUR, "color"), 600.0, 0.2, 3e-3, 32, 0, iterations=150, log_every=1e9)["val_best"]["code_r2"]
    assert stacked > 0.5, stacked
    assert single < 0.15, single
    with pytest.raises(ValueError, match="two-frame encoder needs the previous capture"):
        fit(two, _pool(100, 1, 0), pre2, 600.0, 0.2, 3e-3, 32, 0, iterations=1, log_every=1e9)


def test_a_capture_one_period_after_the_last_continues_its_episode_and_shares_its_light():
    """code_fit pairs each capture with its env's previous one only within an episode (one camera
    period apart; a reset or a skipped frame starts another), and draws picture k of every capture
    of an episode from one generator, so the pair is lit alike; another episode or picture, not."""
    e = Episodes(2, 0.1, seed=0)
    assert [e.capture(0, t) for t in (0.0, 0.1, 0.2)] == [False, True, True]
    draw = lambda i, k: e.relight_rng(i, k).uniform(size=3)  # noqa: E731
    same = draw(0, 1)
    assert e.capture(0, 0.30000001) and np.array_equal(draw(0, 1), same)
    assert not np.array_equal(draw(0, 2), same) and not np.array_equal(draw(1, 1), same)
    assert not e.capture(0, 0.0)  # reset: a new episode, new light
    assert not np.array_equal(draw(0, 1), same)
    assert e.capture(0, 0.1) and not e.capture(0, 0.3)  # a skipped frame is no pair
    assert not e.capture(1, 0.1)  # env 1's first capture


def test_collected_captures_pair_each_frame_with_its_envs_previous_one_under_the_same_light(tmp_path):
    """A short real collection (`--stack 2 --save-pool`, 1,500 env steps): each capture's `prev` is its env's capture
    one period before (or itself, at an episode's first), and picture k of the pair shares its light:
    the pair differs by the robot's motion, much less than the capture differs from its other
    relit pictures. The fitted two-frame student is written with `stack: 2`."""
    from lucid_ros.policy.spec import load_spec

    out, pool_path = tmp_path / "out", tmp_path / "pool.npz"
    argv = ["--collect-minutes", "30", "--collect-steps", "1500", "--envs", "4", "--relit", "2", "--stack", "2"]  # steps, not time: any machine
    argv += ["--fit-iterations", "1", "--batch", "8"]
    assert main([*argv, "--out-dir", str(out), "--save-pool", str(pool_path)]) == 0
    guide = load_spec("config/policies/go1_depth.yaml", ROBOT)
    pool = Pool.load(pool_path, guide.sha256)
    assert pool.prev is not None and pool.prev.shape == pool.colour.shape and len(pool) > 20
    # each capture's distance to the next obstacle (the hurdle course's spawns are before its first)
    assert pool.ahead is not None and pool.ahead.shape == (len(pool),) and np.isfinite(pool.ahead).any()
    moved = np.array([not np.array_equal(pool.prev[j], pool.colour[j]) for j in range(len(pool))])
    assert moved.sum() > len(pool) // 2  # most captures continue an episode
    diff = lambda a, b: np.abs(a.astype(int) - b.astype(int)).mean()  # noqa: E731
    pair = np.mean([diff(pool.prev[j, 1], pool.colour[j, 1]) for j in np.flatnonzero(moved)])
    relit = np.mean([diff(pool.colour[j, 2], pool.colour[j, 1]) for j in np.flatnonzero(moved)])
    assert pair < 0.5 * relit, (pair, relit)
    spec = load_spec(out / "go1_rgb.yaml", ROBOT)
    assert spec.images[0].preprocess["stack"] == 2 and spec.training["stack"] == 2


def test_captures_coded_by_another_guide_or_not_captures_at_all_are_refused_naming_it(tmp_path):
    """--pool of another depth student's codes would teach the encoder codes this guide's controller
    never read: refused naming guide_sha256 (a ConfigError: exit status 2 from the command line), as
    is a file that is not a pool, or one whose codes and pictures do not pair up."""
    other = tmp_path / "other.npz"
    _pool(40, 1, 0).save(other, "0" * 64)
    with pytest.raises(ConfigError, match="guide_sha256.*another depth student"):
        main(["--pool", str(other), "--out-dir", str(tmp_path / "o")])
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a pool")
    with pytest.raises(ConfigError, match="not a pool of captures"):
        main(["--pool", str(junk), "--out-dir", str(tmp_path / "o")])
    bad = tmp_path / "bad.npz"
    np.savez(bad, codes=np.zeros((3, 64), np.float32), colour=np.zeros((4, 1, 45, 80, 3), np.uint8), guide_sha256=np.array("x"))
    with pytest.raises(ConfigError, match="codes/colour"):
        Pool.load(bad, "x")
    # previous frames are kept through a save, and --stack 2 on a pool without them is refused naming `prev`
    from lucid_ros.policy.spec import load_spec

    pairs = tmp_path / "pairs.npz"
    _motion_pool(40, 2, 0).save(pairs, "x")
    assert Pool.load(pairs, "x").prev.shape == (40, 2, 45, 80, 3)
    guide = load_spec("config/policies/go1_depth.yaml", ROBOT)
    flat = tmp_path / "flat.npz"
    _pool(40, 1, 0).save(flat, guide.sha256)
    with pytest.raises(ConfigError, match="prev.*no previous frames"):
        main(["--pool", str(flat), "--out-dir", str(tmp_path / "o"), "--stack", "2"])
    with pytest.raises(SystemExit) as e:  # too few captures to fit: a usage error, not a traceback
        main(["--pool", str(flat), "--out-dir", str(tmp_path / "o"), "--batch", "256"])
    assert e.value.code == 2


def _depth_pool(n: int, pictures: int, seed: int, guide: Student) -> Pool:
    """The band captures of `_pool`, with a depth frame each: far (0.5) everywhere but the band, near
    (-0.3) there; the code is what the guide's encoder makes of that frame, as a depth student's is."""
    pool = _pool(n, pictures, seed)
    band = pool.colour[:, 0].max(axis=-1) > 60  # the band's pixels, whatever its light
    depth = np.where(band, -0.3, 0.5).astype(np.float32)[:, None]
    with torch.no_grad():
        codes = guide.code_of_depth(torch.from_numpy(depth)).numpy()
    return Pool(codes, pool.colour, depth=depth)


def _drawing_student(guide: Student) -> Student:
    from lucid_ros.training.student import graft_core

    torch.manual_seed(1)
    m = Student(141, (3, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True, draw=True)
    graft_core(m, guide)
    return m


def test_an_encoder_that_draws_depth_learns_the_frame_and_its_code_behind_the_guides_own_encoder():
    """`code_fit --draw-depth`: the RGB encoder draws a depth frame that the guide's encoder (grafted,
    frozen) reads. Fitted to each capture's depth frame and code, it draws, held out, most of the
    frame and explains most of the code; only the drawer changes. On captures whose depth frames
    are shuffled among them (nothing in a picture says its frame) it draws none of it."""
    guide = Student(141, (1, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True)
    with torch.no_grad():
        guide.img_fc.weight.mul_(5.0)  # a code that moves with the frame
    m = _drawing_student(guide)
    assert all(torch.equal(a, b) for a, b in zip(m.convs.parameters(), guide.convs.parameters(), strict=True))
    frozen = [p.clone() for p in (*m.convs.parameters(), *m.img_fc.parameters())]
    pool = _depth_pool(400, 3, 1, guide)
    out = fit(m, pool, Preprocessor(COLOUR, "color"), 600.0, 0.2, 3e-3, 32, 0, iterations=120, log_every=1e9)
    best = out["val_best"]
    assert out["depth_weight"] == 1.0 and out["curve"][0]["val"]["depth_r2"] < 0.2
    assert best["depth_r2"] > 0.6 and best["code_r2"] > 0.5, best
    assert all(torch.equal(a, b) for a, b in zip(frozen, (*m.convs.parameters(), *m.img_fc.parameters()), strict=True))
    shuffled = Pool(pool.codes, pool.colour, depth=pool.depth[np.random.default_rng(0).permutation(len(pool))])
    m = _drawing_student(guide)
    out = fit(m, shuffled, Preprocessor(COLOUR, "color"), 600.0, 0.2, 3e-3, 32, 0, iterations=120, log_every=1e9)
    assert out["val_best"]["depth_r2"] < 0.15, out["val_best"]
    with pytest.raises(ValueError, match="draws depth needs each capture's depth frame"):
        fit(_drawing_student(guide), _pool(100, 1, 0), Preprocessor(COLOUR, "color"), 600.0, 0.2, 3e-3, 32, 0, iterations=1, log_every=1e9)


def test_code_fit_draw_depth_writes_a_student_that_draws_in_onnx_as_in_torch(tmp_path):
    """`--draw-depth` from saved captures: go1_rgb.onnx holds the drawer and the guide's whole encoder
    and controller (bit for bit); ONNX Runtime gives torch's actions and state from colour frames;
    the spec records it; a pool without depth frames is refused naming `depth`."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from lucid_ros.policy.spec import load_spec
    from lucid_ros.training.config import TrainConfig
    from lucid_ros.training.student import student_from_onnx
    from lucid_ros.training.train_walk import trot_generator

    guide = load_spec("config/policies/go1_depth.yaml", ROBOT)
    g = Student(141, (1, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True)
    student_from_onnx(g, guide.onnx_path)
    pool_path = tmp_path / "pool.npz"
    _depth_pool(200, 2, 4, g).save(pool_path, guide.sha256)
    out = tmp_path / "out"
    assert (
        main(["--pool", str(pool_path), "--out-dir", str(out), "--fit-iterations", "10", "--batch", "16", "--val-share", "0.2", "--draw-depth"]) == 0
    )
    spec = load_spec(out / "go1_rgb.yaml", ROBOT)
    assert spec.training["draws_depth"]["encoder"] == "the guide's, frozen" and "depth_r2" in spec.training["depth_guide"]["val_best"]
    assert (out / "drawn.png").stat().st_size > 0  # held-out pictures, their depth frames and the drawn ones
    mine = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(spec.onnx_path)).graph.initializer}
    theirs = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(guide.onnx_path)).graph.initializer}
    for name in ("conv0_w", "conv2_b", "img_w", "fuse_w", "gru_W", "head1_w", "norm_mean"):
        assert np.array_equal(mine[name], theirs[name]), name
    assert mine["draw_down0_w"].shape[1] == 3
    m = Student(141, (3, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True, draw=True)
    student_from_onnx(m, spec.onnx_path)
    rng = np.random.default_rng(0)
    feed = {
        "obs": rng.normal(size=(3, 141)).astype(np.float32), "image": rng.normal(size=(3, 3, 45, 80)).astype(np.float32),
        "h_in": rng.normal(0, 0.3, (1, 3, 256)).astype(np.float32), "image_age": rng.uniform(0, 0.2, (3, 1)).astype(np.float32),
    }  # fmt: skip
    sess = ort.InferenceSession(str(spec.onnx_path), providers=["CPUExecutionProvider"])
    act, h = sess.run(["actions", "h_out"], feed)
    m.tg = trot_generator(spec, ROBOT, TrainConfig().obs)
    with torch.no_grad():
        want, want_h = m.step(*(torch.from_numpy(feed[k]) for k in ("obs", "image", "h_in", "image_age")))
    np.testing.assert_allclose(act, want.numpy(), atol=1e-4)
    np.testing.assert_allclose(h, want_h.numpy(), atol=1e-4)
    flat = tmp_path / "flat.npz"
    _pool(40, 1, 0).save(flat, guide.sha256)
    with pytest.raises(ConfigError, match="depth.*no depth frames"):
        main(["--pool", str(flat), "--out-dir", str(tmp_path / "o"), "--draw-depth"])


def test_mirrored_pictures_are_fitted_to_their_mirrored_depth_and_code():
    """`--flip`: half of each batch is mirrored left-right, its depth target and code with it. On
    captures of an upright band drawn anywhere across the view (near where the band is), the mirrored
    batches teach the same drawing: held out, most of the frame and its code. A mirror of the
    pictures alone (the target left as it was) would teach the band on the wrong side; and `--flip`
    without `--draw-depth` is refused."""
    guide = Student(141, (1, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True)
    with torch.no_grad():
        guide.img_fc.weight.mul_(5.0)
    rng = np.random.default_rng(3)
    n = 400
    col, width = rng.integers(0, 70, n), rng.integers(4, 11, n)
    colour = np.full((n, 2, 45, 80, 3), 20, np.uint8)
    depth = np.full((n, 1, 45, 80), 0.5, np.float32)
    for i in range(n):
        depth[i, 0, :, col[i] : col[i] + width[i]] = -0.3
        for k in range(2):
            colour[i, k, :, col[i] : col[i] + width[i]] = rng.integers(120, 256, 3)
    with torch.no_grad():
        codes = guide.code_of_depth(torch.from_numpy(depth)).numpy()
    pool = Pool(codes, colour, depth=depth)
    out = fit(_drawing_student(guide), pool, Preprocessor(COLOUR, "color"), 600.0, 0.2, 3e-3, 32, 0, iterations=120, log_every=1e9, flip=True)
    assert out["flip"] and out["val_best"]["depth_r2"] > 0.8 and out["val_best"]["code_r2"] > 0.8, out["val_best"]
    with pytest.raises(ValueError, match="only an encoder that draws depth"):
        fit(_student(), _pool(100, 1, 0), Preprocessor(COLOUR, "color"), 600.0, 0.2, 3e-3, 32, 0, iterations=1, log_every=1e9, flip=True)
    with pytest.raises(SystemExit) as e:
        main(["--pool", "x.npz", "--out-dir", "o", "--flip"])
    assert e.value.code == 2


def test_an_encoder_of_two_frames_that_draws_depth_is_fed_both_frames(tmp_path):
    """`--draw-depth --stack 2`: the drawer reads the previous capture and this one (six channels);
    the fit and the held-out drawings feed it both (its encoder, the guide's, reads one drawn frame).
    Before, the fit asked the encoder, not the drawer, how many frames it reads, and fed one."""
    from lucid_ros.training.code_fit import plot_drawn
    from lucid_ros.training.student import graft_core

    guide = Student(141, (1, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True)
    motion = _motion_pool(60, 2, 1)
    depth = np.where(motion.colour[:, 0].max(axis=-1) > 60, -0.3, 0.5).astype(np.float32)[:, None]
    pool = Pool(motion.codes, motion.colour, prev=motion.prev, depth=depth)
    torch.manual_seed(1)
    two = Student(141, (6, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True, draw=True)
    graft_core(two, guide)
    assert two.drawer.down[0].in_channels == 6 and two.convs[0].in_channels == 1
    pre2 = Preprocessor({**COLOUR, "stack": 2}, "color")
    out = fit(two, pool, pre2, 600.0, 0.2, 3e-3, 8, 0, iterations=3, log_every=1e9)
    assert out["iterations"] == 3 and "depth_r2" in out["val_best"]
    plot_drawn(two, pool, pre2, tmp_path / "drawn.png")
    assert (tmp_path / "drawn.png").stat().st_size > 0


def _with_ahead(pool: Pool, ahead: np.ndarray) -> Pool:
    return Pool(pool.codes, pool.colour, pool.obs, pool.state, pool.age, pool.prev, pool.depth, ahead.astype(np.float32))


def test_near_fits_the_captures_made_on_or_just_before_an_obstacle(monkeypatch):
    """`--near M --near-share S`: that share of each batch comes from the captures made with the trunk
    on an obstacle or less than M m before one (Pool.ahead); here every other capture is 0.3 m
    before one: half of a uniform batch, all of a batch with share 1, three quarters with share 0.5.
    A pool without distances, a share outside (0, 1] and a pool with no capture near are refused."""
    import lucid_ros.training.code_fit as cf

    base = _pool(400, 2, 1, held=True)
    ahead = np.where(np.arange(400) % 2 == 0, 0.3, 3.0)
    ahead[1::4] = np.inf  # past the last obstacle: never near
    pool = _with_ahead(base, ahead)
    seen: list[np.ndarray] = []
    real = cf.encoder_input

    def spy(model, pool_, pre, idx, pic):
        if isinstance(idx, np.ndarray) and len(idx) == 32:
            seen.append(idx.copy())
        return real(model, pool_, pre, idx, pic)

    monkeypatch.setattr(cf, "encoder_input", spy)
    for near, lo, hi in ((None, 0.4, 0.6), ((0.8, 1.0), 1.0, 1.0), ((0.8, 0.5), 0.68, 0.82), ((0.2, 1.0), None, None)):
        seen.clear()
        if lo is None:
            with pytest.raises(ValueError, match="no capture was made on an obstacle or less than 0.2 m"):
                _fit(_student(), pool, near=near)
            continue
        out = _fit(_student(), pool, near=near)
        share = float(np.mean(np.concatenate(seen) % 2 == 0))
        assert lo <= share <= hi, (near, share)
        if near is not None:
            assert out["near"] == {"metres": 0.8, "share": near[1], "captures": 160}  # the even ones of the 320 fitted
    with pytest.raises(ValueError, match="no distance to the next obstacle"):
        _fit(_student(), base, near=(0.8, 0.5))
    with pytest.raises(ValueError, match="near share 1.5"):
        _fit(_student(), pool, near=(0.8, 1.5))


def test_held_out_captures_by_distance_to_the_next_obstacle_score_as_the_whole_does():
    """by_distance bins the held-out captures (the last val_share) by Pool.ahead; each bin's R² is
    against the variance over all of them, so one bin holding every held-out capture scores what
    the fit's own held-out score says, and the bins count the captures in them."""
    from lucid_ros.training.code_fit import by_distance

    pre = Preprocessor(COLOUR, "color")
    pool = _with_ahead(_pool(200, 1, 3), np.full(200, 0.2))
    m = _student()
    out = fit(m, pool, pre, 600.0, 0.2, 3e-3, 32, 0, iterations=0, log_every=1e9)
    rows = by_distance(m, pool, pre, 0.2)
    assert rows["0-0.4 m before"]["captures"] == 40 and all(r["captures"] == 0 for k, r in rows.items() if k != "0-0.4 m before")
    assert rows["0-0.4 m before"]["code_r2"] == pytest.approx(out["val_best"]["code_r2"], abs=1e-3)
    spread = _with_ahead(pool, np.array([1.0, 0.5, 0.1, -0.2] * 50))
    rows = by_distance(m, spread, pre, 0.2)
    assert [r["captures"] for r in rows.values()] == [10, 10, 10, 10]


def test_init_continues_a_written_student_fitted_to_the_same_guide(tmp_path):
    """`--init SPEC`: the fit starts from that RGB student (its drawer, encoder and controller; its
    shape from its file) instead of a fresh encoder, and the written spec continues its phases.
    With no batch fitted the drawer written is the one read. A student fitted to another guide's
    code is refused naming `training.depth_guide.sha256`; `--init` with `--score` is a usage error."""
    import onnx
    from onnx import numpy_helper

    from lucid_ros.policy.spec import load_spec
    from lucid_ros.training.student import student_from_onnx

    guide_path, student_path = Path("runs/carry/go1_depth_color_view/go1_depth.yaml"), Path("runs/carry/go1_rgb_draw/go1_rgb.yaml")
    guide = load_spec(guide_path, ROBOT)
    g = Student(141, (1, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True)
    student_from_onnx(g, guide.onnx_path)
    pool_path = tmp_path / "pool.npz"
    _depth_pool(100, 2, 4, g).save(pool_path, guide.sha256)
    out = tmp_path / "out"
    argv = ["--pool", str(pool_path), "--depth-guide", str(guide_path), "--fit-iterations", "0", "--batch", "16", "--val-share", "0.2"]
    assert main([*argv, "--init", str(student_path), "--out-dir", str(out)]) == 0
    spec, before = load_spec(out / "go1_rgb.yaml", ROBOT), load_spec(student_path, ROBOT)
    assert spec.training["init"].startswith(f"continued from {student_path}")
    assert spec.training["depth_guide"]["graft"] is False  # its own controller, not the guide's grafted anew
    assert len(spec.training["phases"]) == len(before.training["phases"]) + 1
    mine = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(spec.onnx_path)).graph.initializer}
    theirs = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(before.onnx_path)).graph.initializer}
    for name in ("draw_down0_w", "draw_out_b", "fuse_w", "gru_W"):
        assert np.array_equal(mine[name], theirs[name]), name
    other = load_spec("config/policies/go1_depth.yaml", ROBOT)
    _depth_pool(60, 1, 5, g).save(tmp_path / "other.npz", other.sha256)
    with pytest.raises(ConfigError, match="training.depth_guide.sha256"):
        main(["--pool", str(tmp_path / "other.npz"), "--init", str(student_path), "--fit-iterations", "0", "--out-dir", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as e:
        main([*argv, "--init", str(student_path), "--score", str(student_path), "--out-dir", str(tmp_path / "o2")])
    assert e.value.code == 2
