"""Fixtures for the graph tests."""

import pytest
from graph_tools import fixture_policy


@pytest.fixture
def hold_policy(tmp_path):
    return lambda robot="go1", kind="zeros", **kw: fixture_policy(tmp_path, robot, kind, **kw)
