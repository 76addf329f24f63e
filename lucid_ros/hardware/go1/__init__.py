"""Unitree Go1 low-level UDP protocol (legacy unitree_legged_sdk 3.8): codec, remote, driver."""
