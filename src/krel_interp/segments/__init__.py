"""Think-aware segmentation of rendered conversations into labelled tokens."""

from __future__ import annotations

from krel_interp.segments.labels import SEGMENT_NAMES, Segment
from krel_interp.segments.segment import SegmentedTrace, segment_conversation, segment_text
from krel_interp.segments.sentences import split_sentences
from krel_interp.segments.think import (
    STATUS_ORDER,
    ThinkTags,
    TraceStatus,
    parse_think,
    status_from_flags,
)

__all__ = [
    "SEGMENT_NAMES",
    "STATUS_ORDER",
    "Segment",
    "SegmentedTrace",
    "ThinkTags",
    "TraceStatus",
    "parse_think",
    "segment_conversation",
    "segment_text",
    "split_sentences",
    "status_from_flags",
]
