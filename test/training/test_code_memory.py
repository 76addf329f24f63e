"""A student's code memory (student.CodeMemory, `distill --code-memory`): it runs in ONNX as in torch,
a student gains it without changing what it does, and it carries what an earlier frame showed into
steps whose own frame cannot show it (the RGB student's failure in the last stride before a hurdle)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from lucid_ros.training.student import HIDDEN, LATENT, Student, onnx_memory, student_from_onnx, student_to_onnx  # noqa: E402

OBS = 141


def make(memory: int, draw: bool = False, age: bool = True, seed: int = 1) -> Student:
    torch.manual_seed(seed)
    rng = np.random.default_rng(0)
    return Student(OBS, (3, 45, 80), 12, rng.normal(size=OBS), rng.uniform(0.5, 2.0, OBS), None, age=age, draw=draw, memory=memory)


def _randomise_memory_output(model: Student) -> None:
    with torch.no_grad():  # a trained memory: its correction is not zero
        model.memory.out.weight.normal_(0.0, 0.3)
        model.memory.out.bias.normal_(0.0, 0.3)


@pytest.mark.parametrize("draw,age", [(True, True), (False, False)])
def test_a_student_with_a_code_memory_runs_in_onnx_as_in_torch(tmp_path, draw, age):
    model = make(32, draw=draw, age=age)
    _randomise_memory_output(model)
    path = student_to_onnx(model, tmp_path / "s.onnx", "obs", "image", "h_in", "h_out")
    assert onnx_memory(path) == 32 and model.state_size == HIDDEN + 32
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [d for d in sess.get_inputs() if d.name == "h_in"][0].shape[2] == HIDDEN + 32
    rng = np.random.default_rng(3)
    h_t, h_o = model.zero_state(2), np.zeros((1, 2, HIDDEN + 32), np.float32)
    for _ in range(4):
        obs = rng.normal(size=(2, OBS)).astype(np.float32)
        img = rng.normal(size=(2, 3, 45, 80)).astype(np.float32)
        ages = rng.uniform(0.0, 0.2, size=(2, 1)).astype(np.float32)
        with torch.no_grad():
            a_t, h_t = model.step(torch.from_numpy(obs), torch.from_numpy(img), h_t, torch.from_numpy(ages) if age else None)
        a_o, h_o = sess.run(["actions", "h_out"], {"obs": obs, "image": img, "h_in": h_o} | ({"image_age": ages} if age else {}))
        np.testing.assert_allclose(a_o, a_t.numpy(), atol=3e-5, rtol=1e-4)
        np.testing.assert_allclose(h_o, h_t.numpy(), atol=3e-5, rtol=1e-4)
    assert np.abs(h_o[..., HIDDEN:]).max() > 1e-3  # the memory's own state moved: the comparison covered it
    # read back into a network with the same memory: the same actions; into one without: refused, naming it
    back = make(32, draw=draw, age=age, seed=9)
    student_from_onnx(back, path)
    with torch.no_grad():
        obs, img = (
            torch.from_numpy(rng.normal(size=(2, OBS)).astype(np.float32)),
            torch.from_numpy(rng.normal(size=(2, 3, 45, 80)).astype(np.float32)),
        )
        ages = torch.full((2, 1), 0.05) if age else None
        np.testing.assert_allclose(back.step(obs, img, h_t, ages)[0].numpy(), model.step(obs, img, h_t, ages)[0].numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="code memory"):
        student_from_onnx(make(0, draw=draw, age=age), path)


def test_a_student_gains_a_code_memory_without_changing_what_it_does(tmp_path):
    """`distill --code-memory` on a student without one: the memory's output starts at zero, so the
    continued student acts exactly as the file until training gives it weight."""
    plain = make(0, draw=True)
    path = student_to_onnx(plain, tmp_path / "plain.onnx", "obs", "image", "h_in", "h_out")
    grown = make(16, draw=True, seed=5)
    note = student_from_onnx(grown, path)
    assert note is not None and "no code memory" in note
    rng = np.random.default_rng(2)
    h_p, h_g = plain.zero_state(3), grown.zero_state(3)
    with torch.no_grad():
        for _ in range(3):
            obs = torch.from_numpy(rng.normal(size=(3, OBS)).astype(np.float32))
            img = torch.from_numpy(rng.normal(size=(3, 3, 45, 80)).astype(np.float32))
            age = torch.full((3, 1), 0.1)
            a_p, h_p = plain.step(obs, img, h_p, age)
            a_g, h_g = grown.step(obs, img, h_g, age)
            np.testing.assert_allclose(a_g.numpy(), a_p.numpy(), atol=1e-6)
    assert h_g.shape[2] == HIDDEN + 16 and np.abs(h_g[..., HIDDEN:].numpy()).max() > 1e-3


def _sequences(rng, n: int, T: int, targets: np.ndarray) -> tuple[torch.Tensor, ...]:
    """n sequences of T frames: frame 0 shows one of two pictures (left half bright, or right half),
    every later frame is one flat grey (a box face filling the view). The code wanted at every step
    is the code of the picture shown first (`targets[k]`)."""
    kind = rng.integers(0, 2, n)
    imgs = np.zeros((T, n, 3, 45, 80), np.float32)
    for i, k in enumerate(kind):
        imgs[0, i, :, :, :40] = 1.0 if k == 0 else -1.0
        imgs[0, i, :, :, 40:] = -1.0 if k == 0 else 1.0
    obs = rng.normal(size=(T, n, OBS)).astype(np.float32) * 0.1
    want = np.repeat(targets[kind][None], T, axis=0)
    starts = np.zeros((T, n), np.float32)
    starts[0] = 1.0
    return torch.from_numpy(obs), torch.from_numpy(imgs), torch.from_numpy(starts), torch.from_numpy(want.astype(np.float32))


def _fit(model: Student, steps: int) -> tuple[float, float]:
    """Fit what the code steps and the guide's term of a DAgger update fit (the picture half, here
    the encoder and any memory) to the wanted codes; returns the code MSE over the later frames and
    the least a code without memory can make there (the two targets' mean: a quarter of their
    squared difference)."""
    rng = np.random.default_rng(0)
    targets = rng.normal(size=(2, LATENT)).astype(np.float32)
    params = [*model.convs.parameters(), *model.img_fc.parameters(), *(model.memory.parameters() if model.memory is not None else [])]
    opt = torch.optim.Adam(params, lr=3e-3)
    T, n = 6, 16
    for _ in range(steps):
        obs, imgs, starts, want = _sequences(rng, n, T, targets)
        _, z = model.unroll(obs, imgs, model.zero_state(n), starts, torch.full((T, n), 0.05), codes=True)
        loss = torch.mean((z - want) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        obs, imgs, starts, want = _sequences(np.random.default_rng(1), 64, T, targets)
        _, z = model.unroll(obs, imgs, model.zero_state(64), starts, torch.full((T, 64), 0.05), codes=True)
        return float(torch.mean((z[1:] - want[1:]) ** 2)), float(np.mean((targets[0] - targets[1]) ** 2) / 4.0)


def test_a_code_memory_carries_what_an_earlier_frame_showed_into_flat_frames():
    """Frames that cannot tell two obstacles apart (one flat colour) get the right code only from
    memory: without it the best code is the mean of the two, with it the error falls to a small
    part of that."""
    torch.set_num_threads(1)
    without, floor = _fit(make(0, age=True), 150)
    with_memory, _ = _fit(make(32, age=True), 150)
    assert without > 0.9 * floor, (without, floor)
    assert with_memory < 0.1 * floor, (with_memory, floor)


def _flat_after_first_chunks(rng, guide: Student, count: int, T: int = 6, n: int = 8) -> list[dict]:
    """DAgger chunks where the depth guide sees one of two pictures at every step while the colour
    frames show it only at the chunk's first step (an episode starts there) and are flat after."""
    chunks = []
    for _ in range(count):
        kind = rng.integers(0, 2, n)
        pic = np.where(kind[:, None, None, None] == 0, 1.0, -1.0) * np.where(np.arange(80) < 40, 0.5, -0.5)[None, None, None, :]
        depth = np.repeat(np.broadcast_to(pic, (n, 1, 45, 80))[None], T, axis=0).astype(np.float32)
        rgb = np.zeros((T, n, 3, 45, 80), np.float32)
        rgb[0] = np.repeat(depth[0], 3, axis=1)
        start = np.zeros((T, n), np.float32)
        start[0] = 1.0
        chunks.append({
            "obs": [rng.normal(size=(T, n, OBS)).astype(np.float32) * 0.1] * 2, "img": [depth, rgb], "age": [np.full((T, n), 0.05, np.float32)] * 2,
            "label": np.zeros((T, n, 12), np.float32), "start": start, "h0": [guide.zero_state(n), torch.zeros(1, n, HIDDEN + 32)],
        })  # fmt: skip
    return chunks


def test_dagger_fits_the_code_memory_alone_to_the_guides_codes_over_whole_chunks():
    """`distill --code-memory 32 --memory-steps N`: the memory steps fit the memory (and nothing
    else fits it: not the actions), over whole kept chunks from their start states; after 12
    updates it gives frames that show nothing the guide's code of what the first frame showed."""
    from lucid_ros.training.distill import Dagger

    torch.manual_seed(3)
    guide = Student(OBS, (1, 45, 80), 12, np.zeros(OBS), np.ones(OBS), None, age=True)
    student = Student(OBS, (3, 45, 80), 12, np.zeros(OBS), np.ones(OBS), None, age=True, memory=32)
    with torch.no_grad():  # the student's encoder reads a grey colour frame as the guide reads the depth frame
        student.convs[0].weight.copy_(guide.convs[0].weight.repeat(1, 3, 1, 1) / 3.0)
        for dst, src in [(student.convs[0].bias, guide.convs[0].bias), *zip([*student.convs[1:].parameters(), *student.img_fc.parameters()],
                                                                            [*guide.convs[1:].parameters(), *guide.img_fc.parameters()], strict=True)]:  # fmt: skip
            dst.copy_(src)
    d = Dagger.__new__(Dagger)
    d.models, d.rng, d.keep, d.n_replay, d.kept = [guide, student], np.random.default_rng(0), 4, 0, []
    d.set_guide(0, 1.0, code_lr=3e-3, memory_steps=20)
    d.opts = [torch.optim.Adam(d.action_parameters(k), lr=1e-3) for k in range(2)]
    memory = {id(p) for p in student.memory.parameters()}
    assert {id(p) for p in d.memory_opts[1].param_groups[0]["params"]} == memory
    assert not memory & {id(p) for p in d.action_parameters(1)}
    chunks = _flat_after_first_chunks(np.random.default_rng(1), guide, 4)
    for i in range(12):
        d.update(chunks[i % 4], epochs=1)
    probe = _flat_after_first_chunks(np.random.default_rng(7), guide, 1, n=32)[0]
    ages = torch.from_numpy(probe["age"][1])
    with torch.no_grad():
        want = guide.latent(torch.from_numpy(probe["img"][0]).flatten(0, 1)).reshape(6, 32, -1)
        raw = student.latent(torch.from_numpy(probe["img"][1]).flatten(0, 1)).reshape(6, 32, -1)
        _, read = student.unroll(torch.from_numpy(probe["obs"][1]), torch.from_numpy(probe["img"][1]), student.zero_state(32),
                                 torch.from_numpy(probe["start"]), ages, codes=True)  # fmt: skip
    var = float(want[1:].var(dim=(0, 1)).mean())
    r2 = lambda z: 1.0 - float(torch.mean((z[1:] - want[1:]) ** 2)) / var  # noqa: E731
    assert r2(raw) < 0.0, r2(raw)  # a flat frame's own code says nothing of which picture came first
    assert r2(read) > 0.8, (r2(read), d.memory_r2)


def test_distill_continues_a_memory_at_its_width_and_code_fit_refuses_one_naming_it(tmp_path):
    """`distill --code-memory 16` writes a student whose spec declares the wider state; continued
    from its folder it keeps its memory (no flag needed), another width is refused; code_fit, which
    fits single captures, refuses to score or continue it (a ConfigError: exit status 2)."""
    from lucid_ros.errors import ConfigError
    from lucid_ros.paths import config_dir
    from lucid_ros.policy.spec import load_spec
    from lucid_ros.robots.description import load_robot
    from lucid_ros.training.code_fit import main as code_fit
    from lucid_ros.training.config import TrainConfig
    from lucid_ros.training.distill import build_students

    robot = load_robot("go1")
    teacher = load_spec(config_dir() / "policies" / "go1_teacher.yaml", robot)
    first = tmp_path / "first"
    first.mkdir()
    specs, models = build_students(robot, TrainConfig(), teacher, first, None, camera="ego_down", draw_color=True, memory=16)
    assert models[0].memory is None and models[1].memory.size == 16
    assert specs[1].recurrent[0].shape == (1, 1, HIDDEN + 16) and specs[0].recurrent[0].shape == (1, 1, HIDDEN)
    _specs, again = build_students(robot, TrainConfig(), teacher, tmp_path / "again", first, camera="ego_down")
    assert again[1].memory is not None and again[1].memory.size == 16 and again[1].drawer is not None
    with pytest.raises(ValueError, match="code memory 16 wide, not 32"):
        build_students(robot, TrainConfig(), teacher, tmp_path / "other", first, camera="ego_down", memory=32)
    with pytest.raises(ConfigError, match="code memory"):
        code_fit(["--pool", str(tmp_path / "no_pool.npz"), "--out-dir", str(tmp_path / "score"), "--score", str(first / "go1_rgb.yaml")])
