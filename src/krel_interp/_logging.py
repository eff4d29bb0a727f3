"""Library logger; handlers are attached only at the edges (CLI, scripts)."""

from __future__ import annotations

import logging

logger = logging.getLogger("krel_interp")
logger.addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """Child logger of ``krel_interp``."""
    return logger.getChild(name)
