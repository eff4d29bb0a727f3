"""One colour per segment, shared by the terminal and HTML views."""

from __future__ import annotations

from krel_interp.segments.labels import Segment

SEGMENT_COLORS: dict[Segment, str] = {
    Segment.TEMPLATE: "#9e9e9e",
    Segment.SYSTEM: "#8e44ad",
    Segment.USER: "#2471a3",
    Segment.THINK_OPEN: "#d35400",
    Segment.THINK: "#e67e22",
    Segment.THINK_CLOSE: "#d35400",
    Segment.ANSWER: "#229954",
}


def char_segments(text: str, offsets: list[tuple[int, int]], segments: list[int]) -> list[int]:
    """Segment of every character (characters no token covers keep TEMPLATE)."""
    labels = [int(Segment.TEMPLATE)] * len(text)
    for (start, end), seg in zip(offsets, segments, strict=True):
        for i in range(start, min(end, len(text))):
            labels[i] = seg
    return labels


def runs(text: str, labels: list[int]) -> list[tuple[int, str]]:
    """Contiguous (segment, text) runs."""
    out: list[tuple[int, str]] = []
    for ch, lab in zip(text, labels, strict=True):
        if out and out[-1][0] == lab:
            out[-1] = (lab, out[-1][1] + ch)
        else:
            out.append((lab, ch))
    return out
