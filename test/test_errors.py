"""One rule for what a user's error does to the exit status (lucid_ros.errors.exit_status), used by
`lucid-ros`, the node executables and teleop: a mismatch 1, a broken configuration 2, Ctrl-C 130,
each said on stderr first; a bug is not swallowed."""

import pytest

from lucid_ros.errors import ConfigError, PolicyMismatch, exit_status


def test_each_kind_of_user_error_has_its_status_and_says_what_is_wrong(capsys):
    assert exit_status(PolicyMismatch("go1_walk.yaml", "actions", "12 in the spec, 19 in the graph"), "lucid-ros") == 1
    assert "lucid-ros: policy mismatch: go1_walk.yaml: actions: 12 in the spec, 19 in the graph" in capsys.readouterr().err
    assert exit_status(ConfigError("h1.yaml", "kp", "missing"), "policy_runner") == 2
    assert "policy_runner: configuration error: h1.yaml: kp: missing" in capsys.readouterr().err
    assert exit_status(KeyboardInterrupt(), "teleop") == 130


def test_a_bug_is_raised_not_turned_into_an_exit_status():
    with pytest.raises(ZeroDivisionError):
        exit_status(ZeroDivisionError("bug"), "lucid-ros")
