"""Helpers the hardware tests share."""


def importable(module: str) -> bool:
    """True when `module` imports (a package that is present but broken, e.g. a half-built
    cyclonedds, counts as absent, so its tests skip instead of failing on import)."""
    try:
        __import__(module)
    except ImportError:
        return False
    return True
