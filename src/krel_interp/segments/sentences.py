"""Offline regex sentence splitter working on character spans."""

from __future__ import annotations

import re

# Terminal punctuation (plus closing quotes/brackets) followed by whitespace or the end,
# or a newline.
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019\u00bb)\]]*(?=\s|\Z)|\n")


def _strip(chunk: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` of ``chunk`` to exclude leading/trailing whitespace."""
    piece = chunk[start:end]
    left = len(piece) - len(piece.lstrip())
    right = len(piece) - len(piece.rstrip())
    return start + left, max(start + left, end - right)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence character spans of ``text[start:end]``, in absolute coordinates.

    Splits after ``.``, ``!`` or ``?`` (optionally followed by closing quotes or brackets)
    when followed by whitespace or the end of the range, and at every newline. Leading and
    trailing whitespace is stripped from each sentence; empty sentences are skipped, so every
    non-whitespace character of the range lies in exactly one returned span.
    """
    stop = len(text) if end is None else min(end, len(text))
    start = max(0, start)
    if stop <= start:
        return []
    chunk = text[start:stop]
    cuts = [0]
    for match in _BOUNDARY.finditer(chunk):
        if match.group() == "\n":
            cuts.extend((match.start(), match.end()))
        else:
            cuts.append(match.end())
    cuts.append(len(chunk))
    spans: list[tuple[int, int]] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        s, e = _strip(chunk, a, b)
        if s < e:
            spans.append((start + s, start + e))
    return spans
