"""Segment labels attached to every token of a rendered conversation."""

from __future__ import annotations

from enum import IntEnum


class Segment(IntEnum):
    """What a token is part of. Stored as int8 in activation stores."""

    TEMPLATE = 0
    SYSTEM = 1
    USER = 2
    THINK_OPEN = 3
    THINK = 4
    THINK_CLOSE = 5
    ANSWER = 6

    @classmethod
    def parse(cls, name: str) -> Segment:
        """Parse a case-insensitive name such as ``think`` or ``answer``."""
        from krel_interp.errors import ConfigError

        key = name.strip().upper().replace("-", "_")
        aliases = {"THINK_BODY": "THINK", "SPECIAL": "TEMPLATE"}
        key = aliases.get(key, key)
        if key not in cls.__members__:
            valid = ", ".join(m.lower() for m in cls.__members__)
            raise ConfigError(f"unknown segment {name!r}; valid: {valid}")
        return cls[key]


SEGMENT_NAMES: dict[int, str] = {int(s): s.name.lower() for s in Segment}
