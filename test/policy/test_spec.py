"""Spec validation: every malformed field is refused with the file and the dotted field named."""

from __future__ import annotations

import pytest
import yaml

from lucid_ros.errors import ConfigError, PolicyMismatch
from lucid_ros.policy.fixtures import make_policy
from lucid_ros.policy.spec import FORMAT, load_spec

from .conftest import LEGGED_GYM_ORDER


@pytest.fixture()
def doc_policy(tmp_path, go1):
    return make_policy(tmp_path, go1)


def _edit(path, fn):
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_doc_example_loads(doc_policy, go1):
    spec = load_spec(doc_policy, go1)
    assert spec.format == FORMAT and spec.robot == "go1"
    assert spec.obs_dim == 45 and spec.observation.frame_dim == 45 and spec.n_act == 12
    assert [t.size for t in spec.observation.terms] == [3, 3, 3, 12, 12, 12]
    assert spec.observation.terms[2].scale == (2.0, 2.0, 0.25)
    assert spec.observation.terms[0].scale == (0.25,) * 3
    assert spec.kp == (20.0,) * 12 and spec.action.offset is None and spec.action.clip == 100.0
    assert spec.onnx_path == (doc_policy.parent / "policy.onnx").resolve()


def test_onnx_is_resolved_relative_to_the_spec(tmp_path, go1, monkeypatch):
    spec_path = make_policy(tmp_path / "sub", go1)
    monkeypatch.chdir(tmp_path)  # a cwd-relative resolution would look for ./policy.onnx
    assert load_spec(spec_path).onnx_path == tmp_path / "sub" / "policy.onnx"


def test_shipped_policy_by_name(go1):
    spec = load_spec("go1_stand", go1)
    assert spec.name == "go1_stand" and spec.obs_dim == 45


def test_obs_dim_counts_history(tmp_path, go1):
    spec = load_spec(make_policy(tmp_path, go1, history=3, history_layout="time_major"), go1)
    assert spec.observation.frame_dim == 45 and spec.obs_dim == 135


def set_(dotted, value):
    def fn(data):
        node = data
        *parents, last = dotted.split(".")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return fn


def drop(dotted):
    def fn(data):
        *parents, last = dotted.split(".")
        node = data
        for p in parents:
            node = node[p]
        del node[last]

    return fn


MALFORMED = [
    (set_("format", "lucid_ros.policy/2"), "format", "unsupported format"),
    (set_("rate_hz", 0), "rate_hz", "must be >"),
    (set_("rate_hz", "fast"), "rate_hz", "expected a number"),
    (set_("joint_order", ["FR_hip_joint", "FR_hip_joint"]), "joint_order", "duplicate"),
    (set_("joint_order", []), "joint_order", "at least 1"),
    (set_("gains.kp", [20.0] * 11), "gains.kp", "expected 12 numbers"),
    (set_("gains.kd", -1.0), "gains.kd", ">= 0"),
    (set_("gains.kp", [20.0] * 11 + [-1.0]), "gains.kp", ">= 0"),
    (set_("gains.kp", "stiff"), "gains.kp", "a number or a list of 12"),
    (drop("gains.kd"), "gains.kd", "required"),
    (set_("action.scale", [0.25] * 13), "action.scale", "expected 12 numbers"),
    (set_("action.offset", "deflt"), "action.offset", "'default'"),
    (set_("action.offset", [0.0] * 3), "action.offset", "expected 12 numbers"),
    (set_("action.clip", -1), "action.clip", "must be >"),
    (set_("action.scales", 0.5), "action.scales", "unknown field"),
    (set_("observation.terms.1.name", "gravity"), "observation.terms[1].name", "expected one of"),
    (set_("observation.terms.2.scale", [2.0, 2.0]), "observation.terms[2].scale", "expected 3 numbers"),
    (set_("observation.terms.0.offset", [0.0] * 4), "observation.terms[0].offset", "expected 3 numbers"),
    (set_("observation.terms.0.clip", 0), "observation.terms[0].clip", "must be >"),
    (set_("observation.terms.0.scales", 1.0), "observation.terms[0].scales", "unknown field"),
    (set_("observation.terms.0.frequency", 1.0), "observation.terms[0].frequency", "unknown field"),
    (set_("observation.terms.5", {"name": "base_ang_vel"}), "observation.terms", "more than once"),
    (set_("observation.terms.5", {"name": "gait_phase"}), "observation.terms[5].frequency", "required"),
    (set_("observation.history", 0), "observation.history", ">= 1"),
    (set_("observation.history_layout", "column_major"), "observation.history_layout", "expected one of"),
    (lambda d: (d["observation"].update(history=2), d["observation"].pop("history_layout")), "observation.history_layout", "required"),
    (set_("observation.histroy", 2), "observation.histroy", "unknown field"),
    (set_("observation.terms", []), "observation.terms", "at least 1"),
    (set_("inputs.recurrent", [{"input": "h_in", "output": "h_out", "shape": [1, 0]}]), "inputs.recurrent[0].shape", "positive integers"),
    (set_("inputs.recurrent", [{"input": "h_in", "shape": [1, 8]}]), "inputs.recurrent[0].output", "required"),
    (set_("inputs.recurrent", [{"input": "obs", "output": "h_out", "shape": [1, 8]}]), "inputs", "more than one purpose"),
    (set_("inputs.images", [{"input": "depth", "camera": "ego", "stream": "infrared"}]), "inputs.images[0].stream", "expected one of"),
    (set_("inputs.images", [{"input": "depth", "camera": "ego", "stream": "depth", "mount": {"position": [0.27, 0, 0.015]}}]), "inputs.images[0].mount.rpy", "required"),
    (set_("inputs.images", [{"input": "depth", "camera": "ego", "stream": "depth", "mount": {"position": [0, 0, 0], "rpy": [0, 0, 0], "yaw": 1}}]), "inputs.images[0].mount.yaw", "unknown field"),
    (drop("inputs.observation"), "inputs.observation", "required"),
    (drop("outputs"), "outputs", "required"),
    (set_("sha256", "abc123"), "sha256", "64 hex digits"),
    (set_("sha256", 1.5e300), "sha256", "quoted string"),
    (set_("onnx", "missing.onnx"), "onnx", "not found"),
    (set_("training", [1, 2]), "training", "mapping"),
    (set_("histroy", 2), "histroy", "unknown field"),
    (drop("robot"), "robot", "required"),
]


@pytest.mark.parametrize("edit, field, message", MALFORMED, ids=[m[1] + ":" + m[2] for m in MALFORMED])
def test_malformed_spec_names_file_and_field(doc_policy, go1, edit, field, message):
    _edit(doc_policy, edit)
    with pytest.raises(ConfigError) as exc:
        load_spec(doc_policy, go1)
    assert not isinstance(exc.value, PolicyMismatch)
    assert exc.value.field == field
    assert exc.value.path == str(doc_policy)
    assert message in exc.value.message
    assert str(doc_policy) in str(exc.value) and field in str(exc.value)


MISMATCHED = [
    (set_("robot", "go2"), "robot", "for robot 'go2', not 'go1'"),
    (set_("joint_order.3", "FL_hips_joint"), "joint_order[3]", "'FL_hips_joint' is not a joint of robot 'go1'"),
    (set_("rate_hz", 30), "rate_hz", "does not divide"),
    (set_("rate_hz", 100), "rate_hz", "does not divide"),
    (set_("inputs.images", [{"input": "depth", "camera": "chin", "stream": "depth"}]), "inputs.images[0].camera", "no camera 'chin'"),
    # trained through the pitched-down mount, run on the level one (or a mount moved 5 cm): refused
    (set_("inputs.images", [{"input": "depth", "camera": "ego", "stream": "depth", "mount": {"position": [0.27, 0, 0.015], "rpy": [0, 0.5236, 0]}}]),
     "inputs.images[0].mount", "rpy [0.0, 30.0, 0.0] deg; robot 'go1' camera 'ego' sits at [0.27, 0.0, 0.015] m, rpy [0.0, 0.0, 0.0] deg"),
    (set_("inputs.images", [{"input": "depth", "camera": "ego_down", "stream": "depth", "mount": {"position": [0.32, 0, 0.015], "rpy": [0, 0.5236, 0]}}]),
     "inputs.images[0].mount", "trained with the camera at [0.32, 0.0, 0.015] m"),
    (set_("observation.terms.5", {"name": "foot_contacts", "feet": ["FR_foot", "FL_toe"]}), "observation.terms[5].feet[1]", "'FL_toe' is not a foot"),
]


@pytest.mark.parametrize("edit, field, message", MISMATCHED, ids=[m[1] for m in MISMATCHED])
def test_spec_disagreeing_with_robot_is_a_mismatch(doc_policy, go1, edit, field, message):
    _edit(doc_policy, edit)
    with pytest.raises(PolicyMismatch) as exc:
        load_spec(doc_policy, go1)
    assert exc.value.field == field and message in exc.value.message and str(doc_policy) in str(exc.value)
    load_spec(doc_policy)  # well-formed: without a robot it loads


def test_a_recorded_mount_within_tolerance_of_the_robots_camera_loads(doc_policy, go1):
    """The pose a student was trained with (distill writes the mount's pose) loads on that mount,
    within 2 cm and 3 deg; a spec that records none is not checked."""
    down = {"input": "depth", "camera": "ego_down", "stream": "depth", "mount": {"position": [0.28, 0.0, 0.005], "rpy": [0.0, 0.5236 + 0.04, 0.0]}}
    spec = load_spec(_edit(doc_policy, set_("inputs.images", [down])), go1)
    assert spec.images[0].mount == ((0.28, 0.0, 0.005), (0.0, 0.5636, 0.0))
    turned = {"input": "depth", "camera": "ego", "stream": "depth", "mount": {"position": [0.27, 0.0, 0.015], "rpy": [6.2832, 0.0, -6.2832]}}
    assert load_spec(_edit(doc_policy, set_("inputs.images", [turned])), go1).images[0].mount[1][0] == 6.2832  # a full turn is no turn
    spec = load_spec(_edit(doc_policy, set_("inputs.images", [{"input": "depth", "camera": "ego", "stream": "depth"}])), go1)
    assert spec.images[0].mount is None


def test_policy_rate_may_divide_graph_rate(tmp_path, go1):
    assert load_spec(make_policy(tmp_path, go1, rate_hz=25), go1).rate_hz == 25


def test_subset_and_permuted_joint_order(tmp_path, go1):
    spec = load_spec(make_policy(tmp_path, go1, joint_order=LEGGED_GYM_ORDER[:6]), go1)
    assert spec.joint_order == tuple(LEGGED_GYM_ORDER[:6]) and spec.n_act == 6 and spec.obs_dim == 9 + 3 * 6


def test_foot_contacts_size_from_robot_or_feet(tmp_path, go1):
    terms = [{"name": "foot_contacts", "offset": -0.5}]
    path = make_policy(tmp_path, go1, terms=terms)
    assert load_spec(path, go1).obs_dim == 4
    with pytest.raises(ConfigError, match="observation.terms\\[0\\].name: foot_contacts takes its size"):
        load_spec(path)
    path = make_policy(tmp_path, go1, name="two", terms=[{"name": "foot_contacts", "feet": ["FL_foot", "FR_foot"]}])
    assert load_spec(path).obs_dim == 2


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such policy spec"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as exc:
        load_spec(bad)
    assert exc.value.path == str(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_spec(bad)


def test_malformed_wins_over_mismatch(doc_policy, go1):
    """A spec both malformed and for another robot is reported as malformed (exit 2), not as a mismatch."""
    _edit(doc_policy, lambda d: (d.update(robot="go2"), d["observation"].update(history=0)))
    with pytest.raises(ConfigError) as exc:
        load_spec(doc_policy, go1)
    assert not isinstance(exc.value, PolicyMismatch) and exc.value.field == "observation.history"


def test_duplicate_feet_refused(tmp_path, go1):
    path = make_policy(tmp_path, go1, terms=[{"name": "foot_contacts", "feet": ["FL_foot", "FL_foot"]}])
    with pytest.raises(ConfigError, match=r"observation.terms\[0\].feet: duplicate"):
        load_spec(path)


# -- constant terms, velocity_command components, image fresh flags (the parkour students' inputs) --

PARKOUR_TERMS = [
    {"name": "constant", "value": [0.0, 0.0]},
    {"name": "velocity_command", "components": ["vx"]},
    {"name": "constant", "value": [1.0, 0.0]},
]
FRESH_IMAGE = {"input": "depth", "camera": "ego", "stream": "depth", "fresh": "depth_fresh"}


def test_constant_may_repeat_and_components_size_the_command(tmp_path, go1):
    spec = load_spec(make_policy(tmp_path, go1, terms=PARKOUR_TERMS), go1)
    assert [t.size for t in spec.observation.terms] == [2, 1, 2]
    assert spec.observation.terms[0].value == (0.0, 0.0) and spec.observation.terms[2].value == (1.0, 0.0)
    assert spec.observation.terms[1].components == (0,)
    assert spec.observation.term_indices(2).tolist() == [[3, 4]]  # by position: the second constant


MALFORMED_NEW = [
    (set_("observation.terms.0.value", []), "observation.terms[0].value", "non-empty"),
    (set_("observation.terms.0.value", [0.0, "x"]), "observation.terms[0].value[1]", "number"),
    (lambda d: d["observation"]["terms"][0].pop("value"), "observation.terms[0].value", "required"),
    (set_("observation.terms.0.scale", [1.0] * 3), "observation.terms[0].scale", "expected 2 numbers"),
    (set_("observation.terms.1.components", ["vz"]), "observation.terms[1].components[0]", "expected one of"),
    (set_("observation.terms.1.components", ["vx", "vx"]), "observation.terms[1].components", "duplicate"),
    (set_("observation.terms.1.components", []), "observation.terms[1].components", "at least 1"),
    (set_("observation.terms.1.scale", [2.0, 2.0, 0.25]), "observation.terms[1].scale", "expected 1 numbers"),
    (set_("observation.terms.0.components", ["vx"]), "observation.terms[0].components", "unknown field"),
    (set_("observation.terms.1.value", [1.0]), "observation.terms[1].value", "unknown field"),
    (set_("inputs.images", [{**FRESH_IMAGE, "fresh": ""}]), "inputs.images[0].fresh", "non-empty string"),
    (set_("inputs.images", [{**FRESH_IMAGE, "fresh": "obs"}]), "inputs", "more than one purpose"),
    (set_("inputs.images", [{**FRESH_IMAGE, "fresh": "depth"}]), "inputs", "more than one purpose"),
    (set_("inputs.images", [{**FRESH_IMAGE, "age": ""}]), "inputs.images[0].age", "non-empty string"),
    (set_("inputs.images", [{**FRESH_IMAGE, "age": 0.1}]), "inputs.images[0].age", "string"),
    (set_("inputs.images", [{**FRESH_IMAGE, "age": "depth_fresh"}]), "inputs", "more than one purpose"),
    (set_("inputs.images", [{**FRESH_IMAGE, "age": "obs"}]), "inputs", "more than one purpose"),
]


@pytest.mark.parametrize("edit, field, message", MALFORMED_NEW, ids=[m[1] + ":" + m[2] for m in MALFORMED_NEW])
def test_malformed_constant_components_and_fresh_are_refused(tmp_path, go1, edit, field, message):
    path = make_policy(tmp_path, go1, terms=PARKOUR_TERMS)
    _edit(path, edit)
    with pytest.raises(ConfigError) as exc:
        load_spec(path, go1)
    assert exc.value.field == field and message in exc.value.message, exc.value
