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
