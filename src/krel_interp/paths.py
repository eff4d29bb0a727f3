"""User cache directory (never inside the repository) and portable path display."""

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


def relative_path(path: str | Path, root: str | Path | None = None) -> str:
    """``path`` relative to ``root`` (default: the working directory) when it lies below it,
    else its file name: no machine-specific absolute paths in artifacts or summaries."""
    p = Path(path).resolve()
    base = Path(root if root is not None else Path.cwd()).resolve()
    return str(p.relative_to(base)) if p.is_relative_to(base) else p.name
