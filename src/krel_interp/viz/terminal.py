"""Terminal view of a trace, coloured by segment (rich)."""

from __future__ import annotations

from typing import Any

from krel_interp.segments.labels import Segment
from krel_interp.viz.colors import SEGMENT_COLORS, char_segments, runs


def trace_text(text: str, offsets: list[tuple[int, int]], segments: list[int]) -> Any:
    """A ``rich.text.Text`` of the trace with each segment in its colour."""
    from rich.text import Text

    out = Text()
    for seg, chunk in runs(text, char_segments(text, offsets, segments)):
        out.append(chunk, style=SEGMENT_COLORS[Segment(seg)])
    return out


def legend() -> Any:
    """A one-line colour legend."""
    from rich.text import Text

    out = Text("segments: ")
    for seg, color in SEGMENT_COLORS.items():
        out.append(f" {seg.name.lower()} ", style=f"black on {color}")
    return out
