"""Character-level parser of think blocks inside an assistant region.

The parser never raises on malformed structure: every anomaly is reported as a flag, and
:func:`status_from_flags` reduces the flags to one :class:`TraceStatus`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from krel_interp.errors import ConfigError
from krel_interp.segments.labels import Segment

Span = tuple[Segment, int, int]

CHAT_SPECIALS = ("<|im_end|>", "<|endoftext|>", "<|im_start|>")
"""Template tokens that may end up in decoded completion text (never think or answer text)."""
"""A labelled half-open character range ``(segment, start, end)``."""


@dataclass(frozen=True)
class ThinkTags:
    """The strings that open and close a think block."""

    open: str = "<think>"
    close: str = "</think>"

    def __post_init__(self) -> None:
        if not self.open or not self.close or self.open == self.close:
            raise ConfigError(f"think tags must be distinct and non-empty: {self!r}")


def strip_prefill(completion: str, prefill: str, tags: ThinkTags | None = None) -> str:
    """``completion`` without the text of the ``prefill`` it starts with, keeping the prefill's
    think tags, so a forced prefix cannot score itself while the model's own think text after
    it still parses as think (removing ``"<think>\\nI want ..."`` whole would leave no think
    block). A completion that does not start with the prefill is returned unchanged."""
    if not prefill or not completion.startswith(prefill):
        return completion
    tags = tags or ThinkTags()
    head = re.match(rf"\s*{re.escape(tags.open)}\s*", prefill)
    kept = head.group(0) if head else ""
    close = prefill.find(tags.close, len(kept))
    if close >= 0:
        kept += prefill[close:]
    return kept + completion[len(prefill) :].lstrip(" ")


class TraceStatus(StrEnum):
    """Primary status of a trace; reported as data, never raised."""

    OK = "ok"
    EMPTY_THINK = "empty_think"
    UNTERMINATED_THINK = "unterminated_think"
    MISSING_THINK = "missing_think"
    MULTIPLE_THINK = "multiple_think"
    ORPHAN_CLOSE = "orphan_close"
    EMPTY_ANSWER = "empty_answer"
    JUNK_THINK = "junk_think"  # well-formed, but junk tokens inside think (health detectors)


STATUS_ORDER: tuple[TraceStatus, ...] = (
    TraceStatus.MISSING_THINK,
    TraceStatus.UNTERMINATED_THINK,
    TraceStatus.ORPHAN_CLOSE,
    TraceStatus.MULTIPLE_THINK,
    TraceStatus.EMPTY_THINK,
    TraceStatus.EMPTY_ANSWER,
    TraceStatus.JUNK_THINK,
)
"""Statuses from most to least severe (the parser never emits ``junk_think``; the health
detectors do)."""


def status_from_flags(flags: Iterable[str]) -> TraceStatus:
    """The most severe status among ``flags``; flags that are not statuses are ignored."""
    present = set(flags)
    for status in STATUS_ORDER:
        if status.value in present:
            return status
    return TraceStatus.OK


@lru_cache(maxsize=64)
def _tag_pattern(tags: ThinkTags, specials: tuple[str, ...]) -> re.Pattern[str]:
    """Alternation of the tags and specials, longest first so the longest match wins."""
    strings = {tags.open, tags.close, *(s for s in specials if s)}
    ordered = sorted(strings, key=lambda s: (-len(s), s))
    return re.compile("|".join(re.escape(s) for s in ordered))


class _Parser:
    """Mutable state of one left-to-right pass over a region."""

    def __init__(self, region: str, tags: ThinkTags, start_inside: bool) -> None:
        self.region = region
        self.tags = tags
        self.spans: list[Span] = []
        self.flags: list[str] = []
        self.inside = start_inside
        self.blocks = 1 if start_inside else 0
        self.seen_tag = False
        self.body_text = False  # current think body has non-whitespace text
        self.lead_text = False  # non-whitespace text before the first tag
        self.closed = False  # some think block was terminated
        self.answer_text = False  # non-whitespace answer text after the first close

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)

    def add(self, seg: Segment, start: int, end: int) -> None:
        if end <= start:
            return
        if self.spans and self.spans[-1][0] == seg and self.spans[-1][2] == start:
            self.spans[-1] = (seg, self.spans[-1][1], end)
        else:
            self.spans.append((seg, start, end))

    def text(self, start: int, end: int) -> None:
        if end <= start:
            return
        has_text = not self.region[start:end].isspace()
        if self.inside:
            self.body_text |= has_text
            self.add(Segment.THINK, start, end)
            return
        if not self.seen_tag:
            self.lead_text |= has_text
        if self.closed:
            self.answer_text |= has_text
        self.add(Segment.ANSWER, start, end)

    def tag(self, tag: str, start: int, end: int) -> None:
        if tag == self.tags.open:
            self.open_tag()
        elif tag == self.tags.close:
            self.close_tag()
        else:
            self.add(Segment.TEMPLATE, start, end)
            return
        self.seen_tag = True
        seg = Segment.THINK_OPEN if tag == self.tags.open else Segment.THINK_CLOSE
        self.add(seg, start, end)

    def open_tag(self) -> None:
        if self.inside:
            self.flag("nested_open")
            return
        self.inside = True
        self.blocks += 1
        self.body_text = False

    def close_tag(self) -> None:
        if self.inside:
            if not self.body_text:
                self.flag("empty_think")
            self.inside = False
            self.closed = True
            return
        self.flag("orphan_close")
        if self.seen_tag:
            return
        # First tag is a close: the open tag was in the prompt, so the lead text is thinking.
        self.spans = [(Segment.THINK if s == Segment.ANSWER else s, a, b) for s, a, b in self.spans]
        self.blocks += 1
        self.closed = True
        if not self.lead_text:
            self.flag("empty_think")

    def finish(self) -> tuple[list[Span], tuple[str, ...]]:
        if self.inside:
            self.flag("unterminated_think")
            if not self.body_text:
                self.flag("empty_think")
        if self.blocks > 1:
            self.flag("multiple_think")
        if self.blocks == 0:
            self.flag("missing_think")
        if self.closed and not self.inside and not self.answer_text:
            self.flag("empty_answer")
        return self.spans, tuple(self.flags)


def parse_think(
    region: str,
    tags: ThinkTags | None = None,
    start_inside: bool = False,
    specials: Sequence[str] = (),
) -> tuple[list[Span], tuple[str, ...]]:
    """Label every character of an assistant ``region``.

    Returns ``(spans, flags)``: ``spans`` are ``(Segment, start, end)`` ranges relative to
    ``region`` that cover it exactly, in order, with adjacent equal labels merged. Open and
    close tags get THINK_OPEN / THINK_CLOSE, text inside a think block THINK, text outside
    ANSWER. Occurrences of ``specials`` (e.g. ``<|im_end|>``) get TEMPLATE and do not count
    as text. ``start_inside`` means the region begins inside a think block whose open tag
    lies before it. Flags: ``missing_think``, ``unterminated_think``, ``orphan_close``,
    ``multiple_think``, ``empty_think``, ``empty_answer``, ``nested_open``.
    """
    tags = tags if tags is not None else ThinkTags()
    extra = tuple(sorted(s for s in set(specials) if s and s not in (tags.open, tags.close)))
    parser = _Parser(region, tags, start_inside)
    pos = 0
    for match in _tag_pattern(tags, extra).finditer(region):
        parser.text(pos, match.start())
        parser.tag(match.group(), match.start(), match.end())
        pos = match.end()
    parser.text(pos, len(region))
    return parser.finish()
