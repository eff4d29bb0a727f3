"""Think-aware answers: the text a benchmark scores is the answer segment, never the think.

One definition of thinking status is shared with the rest of the toolkit
(:class:`~krel_interp.segments.think.TraceStatus`); correct thinking means status ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass

from krel_interp.segments.labels import Segment
from krel_interp.segments.think import CHAT_SPECIALS, TraceStatus, parse_think, status_from_flags


@dataclass(frozen=True)
class Answer:
    """The answer segment of a completion (None when there is none) and its think status."""

    text: str | None
    status: TraceStatus


def split_answer(completion: str, thinking: bool = True) -> Answer:
    """The answer of ``completion``: text outside think blocks, stripped; None when empty.

    For a model that does not think the whole completion is the answer and the status is
    ``missing_think`` only when a thinking model was expected (``thinking=True``).
    """
    spans, flags = parse_think(completion, specials=CHAT_SPECIALS)
    answer = "".join(completion[a:b] for seg, a, b in spans if seg == Segment.ANSWER).strip()
    status = status_from_flags(flags)
    if not thinking and status == TraceStatus.MISSING_THINK:
        status = TraceStatus.OK
    return Answer(answer or None, status)
