"""The vendor's low-level safety helpers, written from their documented behaviour.

PositionLimit clamps position targets into the SDK's joint window; PowerProtect trips when the
summed mechanical power |tauEst * dq| exceeds 1000 W * factor / 10 (factor 1..10). The driver
applies both to every packet it sends (walk-these-ways' bridge uses factor 9).
Arrays are in vendor slot order, first 12 slots (FR, FL, RR, RL; hip, thigh, calf).
"""

from __future__ import annotations

import numpy as np

# Go1 SDK PositionLimit window per joint kind (hip/abduction, thigh, calf).
GO1_LIMITS = {"hip": (-1.047, 1.047), "thigh": (-0.663, 2.966), "calf": (-2.721, -0.837)}
GO1_LOWER = np.tile([GO1_LIMITS[k][0] for k in ("hip", "thigh", "calf")], 4)
GO1_UPPER = np.tile([GO1_LIMITS[k][1] for k in ("hip", "thigh", "calf")], 4)


def position_limit(q: np.ndarray, lower: np.ndarray = GO1_LOWER, upper: np.ndarray = GO1_UPPER) -> np.ndarray:
    """Clamp position targets; the stop value (PosStopF, 'no position control') passes untouched."""
    q = np.asarray(q, dtype=np.float64).copy()
    n = min(len(q), len(lower))
    active = q[:n] < 1e9
    q[:n] = np.where(active, np.clip(q[:n], lower[:n], upper[:n]), q[:n])
    return q


def power(tau_est: np.ndarray, dq: np.ndarray) -> float:
    return float(np.sum(np.abs(np.asarray(tau_est) * np.asarray(dq))))


def power_protect(tau_est: np.ndarray, dq: np.ndarray, factor: int = 9) -> tuple[bool, float]:
    """(tripped, watts): tripped when the summed |tauEst * dq| exceeds 1000 W * factor / 10."""
    if not 1 <= int(factor) <= 10:
        raise ValueError(f"PowerProtect factor must be 1..10, got {factor}")
    w = power(tau_est, dq)
    return w > 1000.0 * int(factor) / 10.0, w
