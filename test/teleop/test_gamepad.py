"""Gamepad teleop from real input_event bytes through an os.pipe: decoding, the dead-man, the
buttons, and an unplugged pad (the pipe closed) stopping and damping the robot."""

import os

import pytest

from lucid_ros.errors import ConfigError
from lucid_ros.teleop.config import load_gamepad
from lucid_ros.teleop.evdev import ABS_CODES, EV_ABS, EV_KEY, EV_SYN, EVENT, KEY_CODES, SYN_DROPPED, SYN_REPORT, EvdevReader, decode, pack
from lucid_ros.teleop.gamepad import normalise
from lucid_ros.teleop.sources import CmdGate, GamepadSource

CFG = load_gamepad()
SYN = pack(EV_SYN, SYN_REPORT, 0)


def key(name, value):
    return pack(EV_KEY, KEY_CODES[name], value)


def axis(name, value):
    return pack(EV_ABS, ABS_CODES[name], value)


@pytest.fixture
def pad():
    r, w = os.pipe()
    src = GamepadSource(f"/proc/self/fd/{r}", CFG)
    os.close(r)
    yield src, w
    src.close()
    try:
        os.close(w)
    except OSError:
        pass


def test_input_event_layout_is_the_kernels_24_bytes_and_decodes_across_split_reads():
    assert EVENT.size == 24  # 64-bit Linux: timeval (2 x long), u16 type, u16 code, s32 value
    raw = pack(EV_ABS, 1, -32768, t=12.25) + pack(EV_KEY, 0x136, 1, t=12.5)
    assert raw[16:24] == bytes([3, 0, 1, 0, 0x00, 0x80, 0xFF, 0xFF])  # little-endian type, code, value
    events, rest = decode(raw[:30])
    assert len(events) == 1 and rest == raw[24:30]
    assert (events[0].time, events[0].type, events[0].code, events[0].value) == (12.25, 3, 1, -32768)
    more, rest = decode(rest + raw[30:])
    assert rest == b"" and (more[0].code, more[0].value, more[0].time) == (0x136, 1, 12.5)


def test_reader_gets_whole_events_from_a_pipe_written_in_pieces():
    r, w = os.pipe()
    reader = EvdevReader(r)
    data = axis("ABS_Y", 100) + SYN
    os.write(w, data[:10])
    assert reader.read() == []
    os.write(w, data[10:])
    assert [(e.type, e.code, e.value) for e in reader.read()] == [(3, 1, 100), (0, 0, 0)]
    reader.close()
    os.close(w)


def test_normalise_with_dead_zone_is_continuous_and_reaches_full_scale():
    rng = (-32768, 32767)
    assert normalise(0, rng, 0.1) == 0.0 and normalise(3000, rng, 0.1) == 0.0
    assert normalise(32767, rng, 0.1) == pytest.approx(1.0) and normalise(-32768, rng, 0.1) == pytest.approx(-1.0)
    assert normalise(int(0.1 * 32767) + 40, rng, 0.1) < 0.01  # no jump at the dead zone's edge
    assert normalise(128, (0, 255), 0.0) == pytest.approx(0.5 / 127.5)  # 8-bit stick, centre 127.5


def test_sticks_do_nothing_without_the_deadman_and_release_zeroes_at_once(pad):
    src, w = pad
    os.write(w, axis("ABS_Y", -32768) + axis("ABS_RX", 16384) + SYN)
    assert src.poll(0.0).cmd == (0.0, 0.0, 0.0)  # full forward, no dead-man: nothing
    os.write(w, key("BTN_TL", 1) + SYN)
    t = src.poll(0.1)
    assert t.active and t.cmd[0] == pytest.approx(0.8) and t.cmd[1] == 0.0
    assert t.cmd[2] == pytest.approx(-(0.5 - 0.1) / 0.9, abs=1e-3)  # right stick right = turn right (-z)
    os.write(w, key("BTN_TL", 0) + SYN)
    t = src.poll(0.2)
    assert t.cmd == (0.0, 0.0, 0.0) and not t.active  # stick still forward: released dead-man wins


def test_buttons_fire_on_press_and_stand_needs_the_deadman(pad):
    src, w = pad
    os.write(w, key("BTN_SOUTH", 1) + SYN + key("BTN_SOUTH", 0) + SYN)
    assert src.poll(0.0).actions == []  # stand without the dead-man: ignored
    os.write(w, key("BTN_TL", 1) + key("BTN_SOUTH", 1) + SYN + key("BTN_SOUTH", 2) + SYN + key("BTN_SOUTH", 0) + SYN)
    assert src.poll(0.1).actions == ["stand"]  # once, not on autorepeat (2) or release
    os.write(w, key("BTN_TL", 0) + key("BTN_EAST", 1) + SYN + key("BTN_WEST", 1) + SYN)
    assert src.poll(0.2).actions == ["estop", "damp"]  # never wait for the dead-man


def test_syn_dropped_releases_the_deadman_until_pressed_again(pad):
    src, w = pad
    os.write(w, key("BTN_TL", 1) + axis("ABS_Y", -32768) + SYN)
    assert src.poll(0.0).cmd[0] > 0.7
    os.write(w, pack(EV_SYN, SYN_DROPPED, 0) + axis("ABS_Y", -20000) + SYN)
    assert src.poll(0.1).cmd == (0.0, 0.0, 0.0)
    os.write(w, key("BTN_TL", 1) + SYN)
    assert src.poll(0.2).cmd[0] > 0.7


def test_unplugged_pad_zeroes_and_damps_once_loudly(pad):
    src, w = pad
    os.write(w, key("BTN_TL", 1) + axis("ABS_Y", -32768) + SYN)
    gate = CmdGate()
    assert gate(src.poll(0.0))[0] > 0.7
    os.close(w)  # the pad is gone
    t = src.poll(0.1)
    assert t.actions == ["damp"] and t.cmd == (0.0, 0.0, 0.0) and "end of file" in t.lost
    assert gate(t) == (0.0, 0.0, 0.0)
    again = src.poll(0.2)
    assert again.actions == [] and not again.lost and again.cmd == (0.0, 0.0, 0.0)  # damp asked once


def test_a_pipe_has_no_axis_ranges_so_the_yaml_defaults_apply(pad):
    src, _ = pad
    assert src.reported == []
    assert src.pad.ranges[ABS_CODES["ABS_Y"]] == (-32768, 32767)


def test_bad_mappings_are_refused_by_file_and_field(tmp_path):
    text = CFG.path and open(CFG.path).read()
    cases = {
        "deadman: BTN_TL": ("deadman: BTN_NOPE", "deadman"),
        "estop: BTN_EAST": ("estop: BTN_SOUTH", "buttons.estop"),
        "vx: {axis: ABS_Y,": ("vz: {axis: ABS_Y,", "axes.vz"),
        "needs_deadman: [stand, run, reset]": ("needs_deadman: [estop]", "needs_deadman"),
    }
    for old, (new, fld) in cases.items():
        p = tmp_path / "pad.yaml"
        p.write_text(text.replace(old, new))
        with pytest.raises(ConfigError) as info:
            load_gamepad(p)
        assert info.value.field == fld and str(p) in str(info.value)
