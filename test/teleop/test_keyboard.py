"""Keyboard teleop: the documented keys, speed steps within limits, a released key stopping the
robot after key_timeout, and the e-stop key."""

import os

import pytest

from lucid_ros.errors import ConfigError
from lucid_ros.teleop.config import load_keyboard
from lucid_ros.teleop.keyboard import Keyboard, key_names
from lucid_ros.teleop.sources import CmdGate, KeyboardSource
from lucid_ros.teleop.terminal import raw_terminal

CFG = load_keyboard()


def test_key_bytes_to_names_arrows_are_not_escape():
    assert key_names(b"w a\x1b") == ["w", "space", "a", "esc"]
    assert key_names(b"\x1b[A\x1b[D\x1b[15~q") == ["up", "left_arrow", "q"]  # F5 skipped whole
    assert key_names(b"\x03") == ["ctrl-c"]


def test_motion_keys_drive_their_axis_and_release_times_out_to_zero():
    kb = Keyboard(CFG)
    kb.feed(["w"], 0.0)
    assert kb.command(0.1) == (0.4, 0.0, 0.0)
    kb.feed(["w"], 0.5)  # auto-repeat keeps it alive
    assert kb.command(1.0) == (0.4, 0.0, 0.0)
    assert kb.command(0.5 + CFG.key_timeout + 0.01) == (0.0, 0.0, 0.0)  # let go: stops
    kb.feed(["d", "e"], 2.0)
    assert kb.command(2.0) == (0.0, -0.2, -0.6)
    kb.feed(["space"], 2.1)
    assert kb.command(2.1) == (0.0, 0.0, 0.0)
    kb.feed(["s"], 3.0)
    kb.feed(["z"], 3.1)  # a key the mapping does not know stops too
    assert kb.command(3.1) == (0.0, 0.0, 0.0)


def test_speed_steps_stay_within_limits():
    kb = Keyboard(CFG)
    for _ in range(30):
        kb.feed(["]"], 0.0)
    kb.feed(["w", "q"], 0.0)
    assert kb.command(0.0) == (CFG.max["vx"], 0.0, CFG.max["wz"])
    for _ in range(30):
        kb.feed(["["], 0.0)
    kb.feed(["w"], 0.0)
    assert kb.command(0.0)[0] == pytest.approx(CFG.step * CFG.max["vx"])  # never down to zero or below


def test_safety_keys_and_estop_stops_motion():
    kb = Keyboard(CFG)
    assert kb.feed(["1", "2", "3", "0"], 0.0) == ["stand", "run", "damp", "reset"]
    kb.feed(["w"], 1.0)
    assert kb.feed(["esc"], 1.0) == ["estop"] and kb.command(1.0) == (0.0, 0.0, 0.0)
    assert kb.feed(["ctrl-c"], 1.0) == ["quit"]


def test_keyboard_source_reads_a_pipe_and_the_gate_sends_zeros_then_goes_quiet():
    r, w = os.pipe()
    with raw_terminal(r) as fd:  # not a tty: used as it is
        src, gate = KeyboardSource(fd, CFG), CmdGate(zero_repeats=2)
        assert gate(src.poll(0.0)) is None  # idle teleop is silent
        os.write(w, b"ww")
        assert gate(src.poll(0.1)) == (0.4, 0.0, 0.0)
        sent = [gate(src.poll(t)) for t in (1.0, 1.1, 1.2)]
        assert sent == [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0), None]
        os.write(w, b"\x1b")
        assert src.poll(1.3).actions == ["estop"]
        os.close(w)
        assert src.poll(1.4).actions == ["quit"]
    os.close(r)


def test_a_mapping_without_an_estop_key_is_refused(tmp_path):
    p = tmp_path / "kb.yaml"
    p.write_text(open(CFG.path).read().replace("esc: estop", "esc: zero"))
    with pytest.raises(ConfigError, match="estop") as info:
        load_keyboard(p)
    assert info.value.field == "keys"
    p.write_text(open(CFG.path).read().replace("w: forward", "w: fly"))
    with pytest.raises(ConfigError, match="fly"):
        load_keyboard(p)
