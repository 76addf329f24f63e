"""Where RealSense devices come from: the one device-facing piece of the RealSense source.

On a robot that is USB (`UsbDevices`); a test or a replay registers its own provider (a
`pyrealsense2.software_device`) by name, and everything after the `rs.device` is the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pyrealsense2 as rs


class DeviceProvider(Protocol):
    """Where devices come from: USB on a robot, a software_device in tests."""

    def serials(self) -> list[str]: ...

    def get(self, serial: str) -> Any | None: ...  # an rs.device, or None when not connected

    def watch(self, removed: Callable[[str], None]) -> None: ...  # removed(serial) when one disappears


class UsbDevices:
    """Real cameras through one rs.context; removals come from its devices-changed callback."""

    def __init__(self) -> None:
        self.ctx = rs.context()
        self.handed_out: dict[str, Any] = {}

    def serials(self) -> list[str]:
        return [d.get_info(rs.camera_info.serial_number) for d in self.ctx.query_devices()]

    def get(self, serial: str) -> Any | None:
        for d in self.ctx.query_devices():
            if d.get_info(rs.camera_info.serial_number) == serial:
                self.handed_out[serial] = d
                return d
        return None

    def watch(self, removed: Callable[[str], None]) -> None:
        def changed(info: Any) -> None:  # librealsense's thread: only flag, the worker does the rest
            for serial, dev in list(self.handed_out.items()):
                if info.was_removed(dev):
                    removed(serial)

        self.ctx.set_devices_changed_callback(changed)


_PROVIDERS: dict[str, Callable[[], DeviceProvider]] = {"usb": UsbDevices}


def register_device_provider(name: str, factory: Callable[[], DeviceProvider]) -> None:
    """Named providers for the camera node's `realsense.device_provider` parameter (tests, replay)."""
    _PROVIDERS[name] = factory
