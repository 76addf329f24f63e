"""Fixtures for the hardware tests: a fake Go1 on an ephemeral loopback port and a driver aimed at it."""

from pathlib import Path

import pytest
import yaml

from lucid_ros import paths
from lucid_ros.robots import load_robot


@pytest.fixture(scope="session")
def go1():
    return load_robot("go1")


@pytest.fixture
def fake_go1(go1):
    from lucid_ros.hardware.go1.fake import FakeGo1

    fakes = []

    def make(**kw):
        f = FakeGo1(kw.pop("robot", go1), port=0, **kw).start()
        fakes.append(f)
        return f

    yield make
    for f in fakes:
        f.stop()


@pytest.fixture
def go1_driver(go1):
    from lucid_ros.hardware.go1.driver import Go1UdpDriver

    drivers = []

    def make(fake, robot=None, **kw):
        d = Go1UdpDriver(robot or go1, host="127.0.0.1", port=fake.port, local_ip="127.0.0.1", local_port=0, **kw)
        drivers.append(d)
        return d

    yield make
    for d in drivers:
        d.close()


@pytest.fixture
def swapped_go1(tmp_path: Path):
    """go1.yaml with FR thigh and calf vendor slots exchanged: the classic joint-order mistake."""
    src = paths.config_dir() / "robots" / "go1.yaml"
    raw = yaml.safe_load(src.read_text())
    joints = {j["name"]: j for j in raw["joints"]}
    joints["FR_thigh_joint"]["vendor_index"], joints["FR_calf_joint"]["vendor_index"] = 2, 1
    raw["urdf"] = str(paths.urdf_dir() / "go1.urdf")
    raw["mjcf"] = str(paths.urdf_dir() / "go1.xml")
    out = tmp_path / "go1_swapped.yaml"
    out.write_text(yaml.safe_dump(raw))
    return load_robot(out)
