"""Test servers' temp dirs (their config, data and log): removed once the child using one is stopped."""

from __future__ import annotations

import shutil
from pathlib import Path

from dnslb.adapters.child import Child

__all__ = ["stop_and_remove"]


def stop_and_remove(child: Child | None, directory: Path | None) -> None:
    """Stop `child` (by PID, see `Child.stop`), then remove `directory`; either may be None."""
    if child is not None:
        child.stop()
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
