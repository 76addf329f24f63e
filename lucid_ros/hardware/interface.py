"""The hardware interface every backend implements (ros2_control's lifecycle, in plain Python).

    configure()   open sockets / participants, start receiving; nothing is sent
    activate()    check the robot is plausible (pose, joint order, nobody else commanding it)
                  and start the send loop; raises ActivationRefused naming the problem
    read()        newest measurement in canonical joint order, or None when the robot is silent
    write(cmd)    hand over the newest JointCommand (canonical order); the send loop applies it
    deactivate()  damp, stop sending, close

A read or write problem is a state `health()` reports (and the node turns into diagnostics and a
safety request), never an exception that kills the node.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from lucid_ros.types import ImuSample, JointCommand, JointSample


class ActivationRefused(RuntimeError):
    """The driver will not command this robot; the message says why and what to check."""


@dataclass
class Reading:
    stamp: float  # wall-clock seconds (time.time) at reception: the graph's clock on a robot
    joints: JointSample
    imu: ImuSample
    remote: bytes | None = None  # the vendor remote's raw bytes, if the protocol carries them
    tick: int = 0


@dataclass
class Health:
    level: str  # OK, WARN, ERROR
    message: str
    values: dict[str, Any] = field(default_factory=dict)


class HardwareInterface(ABC):
    state: str = "unconfigured"  # unconfigured -> inactive -> active (-> inactive); or "error"

    @abstractmethod
    def configure(self) -> None: ...

    @abstractmethod
    def activate(self) -> None: ...

    @abstractmethod
    def read(self) -> Reading | None: ...

    @abstractmethod
    def write(self, cmd: JointCommand) -> None: ...

    @abstractmethod
    def deactivate(self) -> None: ...

    @abstractmethod
    def health(self) -> Health: ...

    def close(self) -> None:
        """Release everything (deactivates first if needed)."""
        if self.state == "active":
            self.deactivate()
