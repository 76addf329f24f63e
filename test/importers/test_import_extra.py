"""import-policy on the runtime install (no torch, no onnx): exit 2 with the install line, no traceback."""

import importlib.util
from unittest import mock

import pytest

from lucid_ros.cli import main
from lucid_ros.errors import ConfigError
from lucid_ros.importers import import_policy


@pytest.mark.parametrize("absent", ["torch", "onnx"])
def test_without_the_import_extra_the_user_is_told_what_to_install(absent, tmp_path, capsys):
    real = importlib.util.find_spec
    with mock.patch("importlib.util.find_spec", lambda m, *a: None if m == absent else real(m, *a)):
        with pytest.raises(ConfigError, match=rf"needs {absent}.*pip install -e '\.\[import\]'"):
            import_policy(tmp_path / "motion.pt", "unitree_rl_gym", "h1", out=tmp_path / "o")
        assert main(["import-policy", str(tmp_path / "motion.pt"), "--from", "unitree_rl_gym", "--robot", "h1", "--out", str(tmp_path / "o")]) == 2
    assert "pip install -e '.[import]'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
