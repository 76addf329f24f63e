"""Launch files: always byte-compiled; loaded for real where ROS 2 `launch` is installed."""

import importlib.util
import py_compile
from pathlib import Path

import pytest

LAUNCH = sorted((Path(__file__).resolve().parent.parent / "launch").glob("*.launch.py"))
HAVE_LAUNCH = importlib.util.find_spec("launch") is not None and importlib.util.find_spec("launch_ros") is not None


@pytest.mark.parametrize("path", LAUNCH, ids=[p.name for p in LAUNCH])
def test_launch_file_compiles(path):
    py_compile.compile(str(path), doraise=True)


@pytest.mark.skipif(not HAVE_LAUNCH, reason="ROS 2 'launch'/'launch_ros' are not installed (no PyPI wheels); run on a ROS 2 install")
@pytest.mark.parametrize("path", LAUNCH, ids=[p.name for p in LAUNCH])
def test_launch_description_loads(path):
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.generate_launch_description() is not None


def test_every_launched_executable_is_a_console_script():
    import re

    setup = (Path(__file__).resolve().parent.parent / "setup.py").read_text()
    scripts = set(re.findall(r'"([a-z0-9_\-]+) = lucid_ros', setup))
    sim = (Path(__file__).resolve().parent.parent / "launch" / "sim.launch.py").read_text()
    for exe in re.findall(r'executable="([a-z0-9_]+)"', sim):
        assert exe in scripts, f"sim.launch.py starts '{exe}', which setup.py does not install"


def test_monitor_launch_starts_installed_lucid_ros_executables():
    import re

    root = Path(__file__).resolve().parent.parent
    scripts = set(re.findall(r'"([a-z0-9_\-]+) = lucid_ros', (root / "setup.py").read_text()))
    text = (root / "launch" / "monitor.launch.py").read_text()
    ours = re.findall(r'package="lucid_ros",\s*executable="([a-z0-9_]+)"', text)
    assert ours == ["monitor"] and set(ours) <= scripts
