"""User cache directory (never inside the repository)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Return ``$KREL_INTERP_CACHE`` or ``$XDG_CACHE_HOME/krel_interp`` (default ~/.cache)."""
    env = os.environ.get("KREL_INTERP_CACHE")
    if env:
        root = Path(env)
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "krel_interp"
    root.mkdir(parents=True, exist_ok=True)
    return root
