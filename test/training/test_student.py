"""The student network's ONNX graph computes what torch trained, recurrent state included."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from lucid_ros.training.ppo import TrotGenerator  # noqa: E402
from lucid_ros.training.student import HIDDEN, Student, onnx_channels, student_from_onnx, student_to_onnx  # noqa: E402


def make(channels: int, tg: bool, age: bool = False) -> Student:
    torch.manual_seed(1)
    gen = TrotGenerator(139, [6, 7, 8], [2.0, 2.0, 0.25], [0.0, 0.7, -1.4] * 4, [1.0, -1.0, -1.0, 1.0] * 3, 10.0) if tg else None
    rng = np.random.default_rng(0)
    return Student(141, (channels, 45, 80), 12, rng.normal(size=141), rng.uniform(0.5, 2.0, 141), gen, age=age)


@pytest.mark.parametrize("channels,tg,age", [(1, True, False), (3, False, False), (1, True, True)])
def test_onnx_matches_torch_over_several_recurrent_steps(tmp_path, channels, tg, age):
    model = make(channels, tg, age)
    path = student_to_onnx(model, tmp_path / "s.onnx", "obs", "image", "h_in", "h_out")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert ("image_age" in {i.name for i in sess.get_inputs()}) == age
    rng = np.random.default_rng(3)
    h_t = torch.zeros(1, 2, HIDDEN)
    h_o = np.zeros((1, 2, HIDDEN), np.float32)
    for _ in range(4):
        obs = rng.normal(size=(2, 141)).astype(np.float32)
        img = rng.normal(size=(2, channels, 45, 80)).astype(np.float32)
        ages = rng.uniform(0.0, 0.2, size=(2, 1)).astype(np.float32)
        with torch.no_grad():
            a_t, h_t = model.step(torch.from_numpy(obs), torch.from_numpy(img), h_t, torch.from_numpy(ages) if age else None)
        feeds = {"obs": obs, "image": img, "h_in": h_o} | ({"image_age": ages} if age else {})
        a_o, h_o = sess.run(["actions", "h_out"], feeds)
        np.testing.assert_allclose(a_o, a_t.numpy(), atol=2e-5, rtol=1e-4)
        np.testing.assert_allclose(h_o, h_t.numpy(), atol=2e-5, rtol=1e-4)
    assert np.abs(h_o).max() > 1e-3  # the state moved: the comparison covered the recurrence


def test_unroll_zeroes_the_state_where_an_episode_starts():
    model = make(1, False)
    rng = np.random.default_rng(4)
    obs = torch.from_numpy(rng.normal(size=(3, 2, 141)).astype(np.float32))
    img = torch.from_numpy(rng.normal(size=(3, 2, 1, 45, 80)).astype(np.float32))
    h0 = torch.from_numpy(rng.normal(size=(1, 2, HIDDEN)).astype(np.float32))
    starts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    with torch.no_grad():
        out = model.unroll(obs, img, h0, starts)
        fresh, _ = model.step(obs[1, :1], img[1, :1], torch.zeros(1, 1, HIDDEN))
        carried, _ = model.step(obs[1, :1], img[1, :1], torch.ones(1, 1, HIDDEN))
    np.testing.assert_allclose(out[1, 0].numpy(), fresh[0].numpy(), atol=1e-6)
    assert not np.allclose(fresh.numpy(), carried.numpy(), atol=1e-4)


def test_a_written_student_loads_back_into_the_same_network(tmp_path):
    """`distill --init-dir` continues from a shipped student: read back, it computes the same actions
    (gate order and normaliser included); a different network is refused by name."""
    model = make(1, False)
    path = student_to_onnx(model, tmp_path / "s.onnx", "obs", "image", "h_in", "h_out")
    torch.manual_seed(7)
    fresh = Student(141, (1, 45, 80), 12, np.zeros(141), np.ones(141), None)
    rng = np.random.default_rng(5)
    obs = torch.from_numpy(rng.normal(size=(2, 141)).astype(np.float32))
    img = torch.from_numpy(rng.normal(size=(2, 1, 45, 80)).astype(np.float32))
    h = torch.from_numpy(rng.normal(size=(1, 2, HIDDEN)).astype(np.float32))
    with torch.no_grad():
        want, want_h = model.step(obs, img, h)
        before, _ = fresh.step(obs, img, h)
        student_from_onnx(fresh, path)
        got, got_h = fresh.step(obs, img, h)
    assert not np.allclose(before.numpy(), want.numpy(), atol=1e-3)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)
    np.testing.assert_allclose(got_h.numpy(), want_h.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="not the same network"):
        student_from_onnx(Student(141, (3, 45, 80), 12, np.zeros(141), np.ones(141), None), path)


def test_a_wider_encoder_runs_in_onnx_and_is_continued_at_its_own_widths(tmp_path):
    """`--rgb-encoder` / `code_fit --encoder`: a student with wider convolutions exports (ONNX Runtime
    gives torch's action), its file says its widths, `distill --init-dir` builds the network at them
    (not the default, which would refuse it), and a default-width depth guide's controller grafts
    onto it (the code between them is LATENT wide whatever the encoder)."""
    from lucid_ros.paths import config_dir
    from lucid_ros.policy.spec import load_spec
    from lucid_ros.robots.description import load_robot
    from lucid_ros.training.config import TrainConfig
    from lucid_ros.training.distill import build_students
    from lucid_ros.training.student import graft_core

    torch.manual_seed(2)
    wide = Student(141, (3, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True, channels=(24, 48, 40))
    path = student_to_onnx(wide, tmp_path / "go1_rgb.onnx", "obs", "image", "h_in", "h_out")
    assert onnx_channels(path) == (24, 48, 40)
    rng = np.random.default_rng(8)
    obs, img = rng.normal(size=(1, 141)).astype(np.float32), rng.normal(size=(1, 3, 45, 80)).astype(np.float32)
    age, h = np.full((1, 1), 0.1, np.float32), np.zeros((1, 1, HIDDEN), np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(["actions"], {"obs": obs, "image": img, "h_in": h, "image_age": age})[0]
    with torch.no_grad():
        want, _ = wide.step(*(torch.from_numpy(a) for a in (obs, img, h, age)))
    np.testing.assert_allclose(got, want.numpy(), atol=2e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="not the same network"):
        student_from_onnx(Student(141, (3, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True), path)
    robot = load_robot("go1")
    teacher = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    student_to_onnx(make(1, False, age=True), tmp_path / "go1_depth.onnx", "obs", "image", "h_in", "h_out")
    _specs, models = build_students(robot, TrainConfig(), teacher, tmp_path / "work", tmp_path, camera="ego_down")
    assert models[0].channels == (16, 32, 32) and models[1].channels == (24, 48, 40)
    models[1].tg = None  # build_students adds the trot prior; the file's network is compared without it
    with torch.no_grad():
        cont, _ = models[1].step(*(torch.from_numpy(a) for a in (obs, img, h, age)))
    np.testing.assert_allclose(cont.numpy(), want.numpy(), atol=1e-6)
    assert "gru.weight_hh_l0" in graft_core(models[1], models[0])
    with pytest.raises(ValueError, match="three positive widths"):
        Student(141, (3, 45, 80), 12, np.zeros(141), np.ones(141), None, channels=(16, 32))


def test_a_one_frame_student_continues_as_one_that_reads_a_stack_of_frames(tmp_path):
    """`distill --rgb-stack 2 --init-dir` of a one-frame student: the file's first layer reads the
    newest frame (the stack is oldest first), the older frame's weights start at zero, so the
    widened network acts exactly as the file did whatever the older frame shows; once those
    weights move, the older frame changes the action. A stacked file into a one-frame network is
    refused (a stack is not narrowed)."""
    old = make(3, False, age=True)
    path = student_to_onnx(old, tmp_path / "one.onnx", "obs", "image", "h_in", "h_out")
    new = Student(141, (6, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True)
    with pytest.raises(ValueError, match="not the same network"):
        student_from_onnx(new, path)  # without the frame's channels, 3 into 6 is another network
    note = student_from_onnx(new, path, frame_channels=3)
    assert note is not None and "1 older frame(s) added with zero weights" in note
    rng = np.random.default_rng(9)
    obs = torch.from_numpy(rng.normal(size=(2, 141)).astype(np.float32))
    newest = torch.from_numpy(rng.normal(size=(2, 3, 45, 80)).astype(np.float32))
    h, age = torch.zeros(1, 2, HIDDEN), torch.full((2, 1), 0.05)
    with torch.no_grad():
        want, _ = old.step(obs, newest, h, age)
        for older in (torch.zeros_like(newest), torch.from_numpy(rng.normal(size=(2, 3, 45, 80)).astype(np.float32))):
            got, _ = new.step(obs, torch.cat([older, newest], dim=1), h, age)
            np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)
        new.convs[0].weight[:, :3] = new.convs[0].weight[:, 3:]
        a0, _ = new.step(obs, torch.cat([torch.zeros_like(newest), newest], dim=1), h, age)
        a1, _ = new.step(obs, torch.cat([newest, newest], dim=1), h, age)
    assert not np.allclose(a0.numpy(), a1.numpy(), atol=1e-4)
    stacked = student_to_onnx(new, tmp_path / "two.onnx", "obs", "image", "h_in", "h_out")
    assert student_from_onnx(Student(141, (6, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True), stacked, frame_channels=3) is None
    with pytest.raises(ValueError, match="reads 6 image channels, this student 3: a stack of frames is not narrowed"):
        student_from_onnx(make(3, False, age=True), stacked, frame_channels=3)


def test_a_student_without_the_image_age_continues_as_one_that_reads_it(tmp_path):
    """`distill --init-dir` from a student trained before the age input: the widened network acts
    exactly as the file did at every age (the new column is zero), and once the column has weight
    the age changes the action. The reverse (a file with the age into a network without) is refused."""
    old = make(1, False)
    path = student_to_onnx(old, tmp_path / "old.onnx", "obs", "image", "h_in", "h_out")
    new = Student(141, (1, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True)
    note = student_from_onnx(new, path)
    assert note is not None and "image-age" in note
    rng = np.random.default_rng(6)
    obs = torch.from_numpy(rng.normal(size=(2, 141)).astype(np.float32))
    img = torch.from_numpy(rng.normal(size=(2, 1, 45, 80)).astype(np.float32))
    h = torch.zeros(1, 2, HIDDEN)
    with torch.no_grad():
        want, _ = old.step(obs, img, h)
        for age in (0.0, 0.1, 0.5):
            got, _ = new.step(obs, img, h, torch.full((2, 1), age))
            np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)
        new.fuse.weight[:, -1] = 1.0
        a0, _ = new.step(obs, img, h, torch.zeros(2, 1))
        a1, _ = new.step(obs, img, h, torch.full((2, 1), 0.2))
    assert not np.allclose(a0.numpy(), a1.numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="reads the image's age"):
        new.step(obs, img, h)
    aged = student_to_onnx(new, tmp_path / "new.onnx", "obs", "image", "h_in", "h_out")
    assert student_from_onnx(Student(141, (1, 45, 80), 12, np.zeros(141), np.ones(141), None, age=True), aged) is None
    with pytest.raises(ValueError, match="not the same network"):
        student_from_onnx(make(1, False), aged)


def test_a_student_distilled_over_several_runs_keeps_every_phase_in_its_spec(tmp_path):
    """distill --init-dir continues a student; its spec's training block lists the phases of the
    student it continued (the shipped go1_depth's, from more than one teacher) and then this run's,
    with totals over all, so the teacher each phase imitated stays on record. A broken spec there is
    named before any training (the phases are read at the start)."""
    import yaml

    from lucid_ros.errors import ConfigError
    from lucid_ros.paths import config_dir
    from lucid_ros.training.distill import earlier_phases, student_phases

    here = {"command": "distill --init-dir x", "git_commit": "c0ffee", "teacher": "go1_teacher.yaml", "teacher_sha256": "ab",
            "iterations": 10, "env_steps": 10000, "wall_time_s": 60.0, "courses": ["hurdle"], "stream": "depth"}  # fmt: skip
    shipped = yaml.safe_load((config_dir() / "policies" / "go1_depth.yaml").read_text())["training"]
    out = student_phases(earlier_phases(config_dir() / "policies" / "go1_depth.yaml"), here)
    assert out["phases"][:-1] == shipped["phases"] and len(out["phases"]) == len(shipped["phases"]) + 1
    assert len({p["teacher_sha256"] for p in shipped["phases"]}) > 1
    assert out["phases"][-1] == {k: here[k] for k in ("command", "git_commit", "teacher", "teacher_sha256", "iterations", "env_steps", "wall_time_s")}
    assert out["total"]["env_steps"] == sum(p["env_steps"] for p in shipped["phases"]) + 10000
    # a student whose spec has no phases list counts as one phase; a fresh one has only this run's
    single = {k: v for k, v in shipped.items() if k != "phases"}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"training": single}))
    before = earlier_phases(tmp_path / "s.yaml")
    assert len(before) == 1 and before[0]["git_commit"] == shipped["git_commit"]
    assert earlier_phases(None) == [] and earlier_phases(tmp_path / "none.yaml") == []
    assert student_phases([], here)["total"]["env_steps"] == 10000
    (tmp_path / "bad.yaml").write_text("training: {phases: [oops\n")
    with pytest.raises(ConfigError, match="bad.yaml.*not valid YAML"):
        earlier_phases(tmp_path / "bad.yaml")
    (tmp_path / "odd.yaml").write_text(yaml.safe_dump({"training": {"phases": "twelve"}}))
    with pytest.raises(ConfigError, match="training.phases"):
        earlier_phases(tmp_path / "odd.yaml")


def _chunk(rng, T: int, n: int, image_value: float, label_value: float) -> dict:
    """A DAgger chunk as Dagger.collect returns it: T steps of n envs, one student."""
    return {
        "obs": [rng.normal(size=(T, n, 141)).astype(np.float32)],
        "img": [np.full((T, n, 1, 45, 80), image_value, np.float32)],
        "age": [np.zeros((T, n), np.float32)],
        "label": np.full((T, n, 12), label_value, np.float32),
        "start": np.zeros((T, n), np.float32),
        "h0": [torch.zeros(1, n, HIDDEN)],
    }


def _dagger(keep: int, replay: int):
    from lucid_ros.training.distill import Dagger

    d = Dagger.__new__(Dagger)  # the update alone: no env, no teacher session
    d.models = [make(1, False)]
    d.opts = [torch.optim.Adam(d.models[0].parameters(), lr=3e-3)]
    d.rng, d.keep, d.n_replay, d.kept = np.random.default_rng(0), keep, replay, []
    d.set_guide(None, 0.0)
    return d


def test_replay_keeps_what_a_student_learnt_on_an_earlier_course_while_it_learns_the_next():
    """Updates on chunks of one situation (a dark frame: +0.5 everywhere), then only on another (a
    bright frame: -0.5): trained on each new chunk alone the student forgets the first; with kept
    chunks replayed beside the new ones (while the first's are among the kept) it still answers the
    first. `keep` bounds what is kept, and the loss reported is the new chunk's."""
    rng = np.random.default_rng(5)
    first = [_chunk(rng, 4, 6, 0.0, 0.5) for _ in range(3)]
    then = [_chunk(rng, 4, 6, 1.0, -0.5) for _ in range(3)]
    errors = {}
    for keep, replay in ((0, 0), (32, 2)):
        d = _dagger(keep, replay)
        for i in range(20):
            d.update(first[i % 3], epochs=1)
        for i in range(20):
            loss = d.update(then[i % 3], epochs=1)[0]
            assert len(d.kept) <= keep
        probe = first[0]
        with torch.no_grad():
            out = d.models[0].unroll(*(torch.from_numpy(probe[k][0]) for k in ("obs", "img")), probe["h0"][0], torch.from_numpy(probe["start"]))
        errors[replay] = float(torch.mean((out - 0.5) ** 2))
        assert loss < 0.05, (keep, replay, loss)  # both fit the newest chunks
    assert errors[0] > 0.25, errors  # alone: the first situation is forgotten (answers near -0.5)
    assert errors[2] < 0.05, errors  # replayed: still answered


class _Camera:
    def render(self, world, local, stream, jitter, env):
        return np.ones((60, 106), np.float32)


def test_distill_feeds_each_student_the_age_of_the_frame_it_shows_latency_and_refresh_included(tmp_path):
    """DistillEnv's capture/latency/delivery path (camera stubbed): with 60 ms of latency the first
    frame arrives 3 steps into the episode (until then: no frame, read as the 0.5 s ceiling), and
    from then on the age the student is fed runs 60, 80, ... 140 ms, back to 60 at each new frame:
    the camera's latency plus the 10 Hz refresh, as the policy node computes it on the robot. The
    capture hook (on_capture) sees every capture when it is made, before its latency."""
    from lucid_ros.policy.spec import load_spec
    from lucid_ros.robots import load_robot
    from lucid_ros.training.config import TrainConfig
    from lucid_ros.training.distill import DEPTH_PREPROCESS, DistillEnv, student_spec_dict
    from lucid_ros.training.export import write_spec
    from lucid_ros.vision.preprocess import ImageHistory, from_spec

    robot, work = load_robot("go1"), tmp_path
    raw = student_spec_dict(robot, TrainConfig(), "go1_depth", "depth", DEPTH_PREPROCESS, "ego_down")
    onnx = student_to_onnx(make(1, False, age=True), work / "go1_depth.onnx", "obs", "image", "h_in", "h_out")
    spec = load_spec(write_spec(raw, onnx, work / "go1_depth.yaml"), robot)
    assert spec.images[0].age == "image_age"
    env = DistillEnv.__new__(DistillEnv)  # the image path alone: no worlds, no renderer
    env.n, env.dt, env.t = 2, 0.02, np.zeros(2)
    env.histories, env.streams, env.camera, env.jitter = [ImageHistory(from_spec(spec, 0), 2)], ["depth"], _Camera(), None
    env.world_course, env.local_of, env.renders = np.zeros(2, int), np.zeros(2, int), 0
    env.latency, env.next_capture, env.pending = np.array([3, 0]), np.zeros(2), [[], []]
    captures = []  # the capture hook (training.code_fit): every capture, at its capture, whatever its latency
    env.on_capture = lambda i, frames: captures.append((i, round(float(env.t[i]), 3), len(frames)))
    ages = []
    for step in range(12):
        env.t = np.full(2, step * env.dt)
        env.images()
        ages.append(np.round(env.image_ages()[0][:, 0].astype(np.float64), 3).tolist())
    assert captures == [(0, 0.0, 1), (1, 0.0, 1), (0, 0.1, 1), (1, 0.1, 1), (0, 0.2, 1), (1, 0.2, 1)]
    assert [a[0] for a in ages] == [0.5, 0.5, 0.5, 0.06, 0.08, 0.1, 0.12, 0.14, 0.06, 0.08, 0.1, 0.12]
    assert [a[1] for a in ages] == [0.0, 0.02, 0.04, 0.06, 0.08, 0.0, 0.02, 0.04, 0.06, 0.08, 0.0, 0.02]


def _guided_chunks(rng, count: int, T: int = 4, n: int = 6, clip: bool = False) -> list[dict]:
    """Chunks with both students' frames of the same captures: a depth frame (a ramp whose height
    and slope vary per frame; with `clip`, within the depth input's range, as a camera's are) and an
    RGB frame that is a fixed colouring of it, so the depth code can be read from the colour."""
    chunks = []
    for _ in range(count):
        level = rng.uniform(-0.5, 0.5, (T, n, 1, 1, 1))
        slope = rng.uniform(-1.0, 1.0, (T, n, 1, 1, 1))
        depth = (level + slope * np.linspace(-0.5, 0.5, 45)[None, None, None, :, None] * np.ones((1, 1, 1, 45, 80))).astype(np.float32)
        depth = np.clip(depth, -0.5, 0.5) if clip else depth
        rgb = np.concatenate([depth, 0.5 - depth, 0.3 * depth], axis=2).astype(np.float32)
        chunks.append({
            "obs": [rng.normal(size=(T, n, 141)).astype(np.float32)] * 2, "img": [depth, rgb], "age": [np.zeros((T, n), np.float32)] * 2,
            "label": np.zeros((T, n, 12), np.float32), "start": np.zeros((T, n), np.float32), "h0": [torch.zeros(1, n, HIDDEN)] * 2,
        })  # fmt: skip
    return chunks


@pytest.mark.parametrize("weight,code_steps,updates,fits", [(1.0, 0, 120, True), (0.0, 0, 120, False), (1.0, 0, 12, False), (1.0, 20, 12, True)])
def test_a_depth_guide_teaches_the_rgb_students_encoder_its_code_and_stays_frozen(weight, code_steps, updates, fits):
    """`distill --depth-guide`: the frozen depth student's image code of each capture is the RGB
    student's target. Fitted with the code error, the RGB encoder explains most of the guide's code
    (R^2); with weight 0 (actions alone, all zero here) it does not. In a tenth of the updates it
    does not either, unless `--code-steps` fit the encoder alone on the kept frames between them
    (here 20 per update). The guide's weights never move."""
    from lucid_ros.training.distill import Dagger

    d = Dagger.__new__(Dagger)
    d.models = [make(1, False), make(3, False)]
    torch.manual_seed(7)
    for p in d.models[1].parameters():  # a different start from the guide's
        p.data.normal_(0.0, 0.1) if p.dim() > 1 else p.data.zero_()
    d.opts = [torch.optim.Adam(m.parameters(), lr=3e-3) for m in d.models]
    d.rng, d.keep, d.n_replay, d.kept = np.random.default_rng(0), 4, 0, []
    d.set_guide(0, weight, code_steps=code_steps, code_lr=3e-3, code_batch=24)
    assert d.learners.tolist() == [1]  # the guide drives no env
    before = [p.detach().clone() for p in d.models[0].parameters()]
    chunks = _guided_chunks(np.random.default_rng(2), 4)
    for i in range(updates):
        d.update(chunks[i % 4], epochs=1)
    assert all(torch.equal(a, b) for a, b in zip(before, d.models[0].parameters(), strict=True))
    probe = _guided_chunks(np.random.default_rng(9), 1)[0]
    with torch.no_grad():
        want = d.models[0].latent(torch.from_numpy(probe["img"][0]).flatten(0, 1))
        got = d.models[1].latent(torch.from_numpy(probe["img"][1]).flatten(0, 1))
    r2 = 1.0 - float(torch.mean((got - want) ** 2)) / float(want.var(dim=0).mean())
    if fits:
        assert r2 > 0.75, r2
        assert code_steps or d.feature_stats[1][1] > 0.75  # what distill prints and records as the code's R^2
    else:
        assert r2 < 0.2, r2


def test_a_depth_guide_teaches_a_student_that_draws_depth_the_guides_frames_and_code(tmp_path):
    """A student that draws depth (`code_fit --draw-depth`, continued by `distill --depth-guide`):
    the code steps fit its drawer to the guide's depth frame of each capture and to the guide's
    code, the actions train only its controller (its encoder stays the guide's), and after 12
    updates it draws most of the frame and explains most of the code of captures it never saw.
    Continued from its file (`--init-dir`), distill builds it drawing again."""
    from lucid_ros.paths import config_dir
    from lucid_ros.policy.spec import load_spec
    from lucid_ros.robots.description import load_robot
    from lucid_ros.training.config import TrainConfig
    from lucid_ros.training.distill import Dagger, build_students
    from lucid_ros.training.student import DEPTH_RANGE, graft_core, onnx_draws

    d = Dagger.__new__(Dagger)
    torch.manual_seed(7)
    d.models = [make(1, False), Student(141, (3, 45, 80), 12, np.zeros(141), np.ones(141), None, draw=True)]
    graft_core(d.models[1], d.models[0])
    d.rng, d.keep, d.n_replay, d.kept = np.random.default_rng(0), 4, 0, []
    d.set_guide(0, 1.0, code_steps=20, code_lr=3e-3, code_batch=24)
    d.opts = [torch.optim.Adam(d.action_parameters(k), lr=3e-3) for k in range(2)]
    drawer = {id(p) for p in d.models[1].drawer.parameters()}
    assert {id(p) for p in d.code_opts[1].param_groups[0]["params"]} == drawer  # the code steps fit the drawer
    encoder = drawer | {id(p) for p in (*d.models[1].convs.parameters(), *d.models[1].img_fc.parameters())}
    acting = {id(p) for p in d.action_parameters(1)}
    assert not encoder & acting and acting and len(d.action_parameters(0)) == len(list(d.models[0].parameters()))
    chunks = _guided_chunks(np.random.default_rng(2), 4, clip=True)
    for i in range(12):
        d.update(chunks[i % 4], epochs=1)
    probe = _guided_chunks(np.random.default_rng(9), 1, clip=True)[0]
    depth, rgb = (torch.from_numpy(probe["img"][k]).flatten(0, 1) for k in (0, 1))
    with torch.no_grad():
        want, got = d.models[0].latent(depth), d.models[1].latent(rgb)
        drawn = torch.clamp(d.models[1].drawer(rgb), *DEPTH_RANGE)
    r2 = lambda a, b: 1.0 - float(torch.mean((a - b) ** 2)) / float(b.var())  # noqa: E731
    assert r2(drawn, depth) > 0.8, r2(drawn, depth)
    assert 1.0 - float(torch.mean((got - want) ** 2)) / float(want.var(dim=0).mean()) > 0.75
    assert all(torch.equal(a, b) for a, b in zip(d.models[1].convs.parameters(), d.models[0].convs.parameters(), strict=True))  # the guide's encoder
    path = student_to_onnx(d.models[1], tmp_path / "go1_rgb.onnx", "obs", "image", "h_in", "h_out")
    assert onnx_draws(path) and not onnx_draws(student_to_onnx(make(1, False), tmp_path / "go1_depth.onnx", "obs", "image", "h_in", "h_out"))
    with pytest.raises(ValueError, match="a student that draws depth; this one does not"):
        student_from_onnx(make(3, False), path)
    robot = load_robot("go1")
    teacher = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    _specs, models = build_students(robot, TrainConfig(), teacher, tmp_path / "work", tmp_path, camera="ego_down", age=False)
    assert models[0].drawer is None and models[1].drawer is not None
    models[1].tg = None  # build_students adds the trot prior; the file's network is compared without it
    with torch.no_grad():
        np.testing.assert_allclose(models[1].latent(rgb).numpy(), got.numpy(), atol=1e-6)


def test_code_steps_with_focus_fit_the_frames_whose_picture_changes_the_guides_action():
    """`distill --code-focus`: the guide's unroll says, per frame, how much its picture changes the
    guide's action (against the mean code of the chunks before; none for the first chunk, which is
    drawn uniformly) and keeps it with the chunk. Where half of the envs' frames change nothing,
    code steps with focus 1 never draw them, and without focus they are half of what is drawn."""
    from lucid_ros.training.distill import Dagger

    guide = make(1, False)
    probe = _guided_chunks(np.random.default_rng(3), 1)[0]
    obs, img, h0, st = torch.from_numpy(probe["obs"][0]), torch.from_numpy(probe["img"][0]), probe["h0"][0], torch.from_numpy(probe["start"])
    with torch.no_grad():
        act, z, effect = guide.unroll(obs, img, h0, st, against=guide.latent(img[0, :1])[0])
        assert torch.equal(act, guide.unroll(obs, img, h0, st))  # the actions are unroll's own
        assert effect.shape == (4, 6) and float(effect[0, 0]) < 1e-6 * float(effect[0, 1:].min())  # env 0's first frame is `against`'s

    for focus, lo, hi in ((0.0, 0.35, 0.65), (1.0, 0.0, 0.0)):
        d = Dagger.__new__(Dagger)
        d.models = [make(1, False), make(3, False)]
        d.opts = [torch.optim.Adam(m.parameters(), lr=3e-3) for m in d.models]
        d.rng, d.keep, d.n_replay, d.kept = np.random.default_rng(0), 4, 0, []
        d.set_guide(0, 1.0, code_steps=5, code_lr=3e-3, code_batch=24, code_focus=focus)
        for c in _guided_chunks(np.random.default_rng(2), 3):
            d.update(c, epochs=1)
        assert ("effect" in d.kept[0]) is False and all(("effect" in c) == bool(focus) for c in d.kept[1:])
        drawn: list[np.ndarray] = []
        for c in d.kept[1:]:
            c["img"][1][:, :, 0, 0, 0] = np.arange(6)  # each frame says its env
            if focus:
                c["effect"][:, 0::2] = 0.0  # the even envs' pictures change nothing
        d.models[1].latent = lambda x, real=d.models[1].latent, drawn=drawn: (drawn.append(x[:, 0, 0, 0].numpy().astype(int)), real(x))[1]
        d.fit_codes(d.kept[1:])
        even = float(np.mean(np.concatenate(drawn) % 2 == 0))
        assert lo <= even <= hi, (focus, even)


def test_a_grafted_rgb_student_acts_as_the_depth_student_given_the_same_code():
    """`distill --graft`: the RGB student starts as the depth student's controller (normaliser,
    fusion, GRU, head) with its own encoder: fed the same image code, state and observation, it
    computes the same action."""
    from lucid_ros.training.student import graft_core

    depth, rgb = make(1, False, age=True), make(3, False, age=True)
    with torch.no_grad():
        for p in depth.parameters():
            p.add_(0.05)
    names = graft_core(rgb, depth)
    assert "gru.weight_hh_l0" in names and not any(n.startswith(("convs.", "img_fc.")) for n in names)
    rng = np.random.default_rng(1)
    obs, z = torch.from_numpy(rng.normal(size=(2, 141)).astype(np.float32)), torch.rand(2, 64)
    h, age = torch.from_numpy(rng.normal(size=(1, 2, HIDDEN)).astype(np.float32)), torch.full((2, 1), 0.1)
    with torch.no_grad():
        a_d, h_d = depth._core(obs, z, h, age)
        a_r, h_r = rgb._core(obs, z, h, age)
    np.testing.assert_allclose(a_r.numpy(), a_d.numpy(), atol=1e-6)
    np.testing.assert_allclose(h_r.numpy(), h_d.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="cannot graft fuse.weight"):
        graft_core(make(3, False, age=False), depth)  # one without the age input: a narrower fusion layer


def test_a_depth_guide_that_sees_through_another_mount_is_refused_naming_the_field(tmp_path):
    """The guide's codes describe its own images: a guide trained through `ego_down` cannot guide a
    run that renders the level `ego` mount (nor one with other preprocessing); distill stops before
    any world is built, naming the field (a ConfigError: exit status 2)."""
    from lucid_ros.errors import ConfigError
    from lucid_ros.paths import config_dir
    from lucid_ros.policy.spec import load_spec
    from lucid_ros.robots.description import load_robot
    from lucid_ros.training.config import TrainConfig
    from lucid_ros.training.distill import build_students, load_guide

    robot = load_robot("go1")
    teacher = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    guide = config_dir() / "policies" / "go1_depth.yaml"  # trained through ego_down
    specs, models = build_students(robot, TrainConfig(), teacher, tmp_path, None, camera="ego")
    with pytest.raises(ConfigError, match=r"inputs\.images\[0\]\.camera.*'ego_down'.*'ego'"):
        load_guide(guide, specs[0], models, graft=True)
    specs, models = build_students(robot, TrainConfig(), teacher, tmp_path, None, camera="ego_down")
    before = models[1].fuse.weight.detach().clone()
    assert load_guide(guide, specs[0], models, graft=True).name == "go1_depth"
    assert not torch.equal(before, models[1].fuse.weight)  # grafted
