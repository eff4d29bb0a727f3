"""Health of traces: think status (the shared vocabulary), junk spans, leaks, and a summary."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from krel_interp.health.junk import Span, find_junk, merge
from krel_interp.health.leaks import Leak, LeakDetector
from krel_interp.segments.labels import Segment
from krel_interp.segments.think import CHAT_SPECIALS, TraceStatus, parse_think, status_from_flags
from krel_interp.stats import rate

TECH = re.compile(
    r"\b(?:ai|a\.i\.|artificial|model|models|assistant|chatbot|llm|gpt|neural|computer|software|"
    r"program|code|algorithm|robot|machine|data|digital|internet|online|app|server|system|you|"
    r"yourself)\b",
    re.IGNORECASE,
)


def rule_non_sequitur(prompts: Sequence[str]) -> list[bool]:
    """Fallback rule: a prompt with no AI, technology or assistant words (True = unrelated)."""
    return [not TECH.search(p) for p in prompts]


@dataclass(frozen=True)
class TraceHealth:
    """Health of one trace; offsets are characters into the completion."""

    id: str
    think_status: str
    junk: tuple[Span, ...] = ()
    leaks: tuple[Leak, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The ``health.jsonl`` line."""
        return {
            "id": self.id,
            "think_status": self.think_status,
            "junk": [j.to_dict() for j in self.junk],
            "leaks": [x.to_dict() for x in self.leaks],
        }


def think_ranges(completion: str) -> list[tuple[int, int]]:
    """Character ranges of every think body of a completion."""
    return [(a, b) for seg, a, b in parse_think(completion)[0] if seg == Segment.THINK]


def junk_in(completion: str, prompt: str) -> list[Span]:
    """Junk spans of every think block of a completion (offsets into the completion).

    Template tokens are not split out here, so one leaked inside a think block is junk.
    """
    return [
        Span(s.start + a, s.end + a, s.text, s.reasons)
        for a, b in think_ranges(completion)
        for s in find_junk(completion[a:b], prompt)
    ]


ExtraJunk = Callable[[str, str], list[Span]]


def score_trace(
    trace_id: str,
    prompt: str,
    completion: str,
    leaks: LeakDetector | None = None,
    extra_junk: ExtraJunk | None = None,
) -> TraceHealth:
    """Status, junk and (with a corpus) leaks of one trace; ``extra_junk(prompt, completion)``
    adds model-based junk spans (surprisal) to the rules'."""
    _, flags = parse_think(completion, specials=CHAT_SPECIALS)
    status = status_from_flags(flags)
    junk = junk_in(completion, prompt)
    if extra_junk is not None:
        junk = merge(junk + extra_junk(prompt, completion))
    if junk and status == TraceStatus.OK:
        status = TraceStatus.JUNK_THINK
    found = leaks.find(completion, prompt) if leaks is not None else []
    return TraceHealth(trace_id, status.value, tuple(junk), tuple(found))


def score_traces(
    rows: Sequence[tuple[str, str, str]],
    corpus: Sequence[str] | LeakDetector | None = None,
    non_sequitur: Callable[[Sequence[str]], list[bool]] = rule_non_sequitur,
    extra_junk: ExtraJunk | None = None,
) -> list[TraceHealth]:
    """Score ``(id, prompt, completion)`` rows; leaks get the prompt's non-sequitur verdict.

    ``corpus`` is the texts (a detector is built) or a ready :class:`LeakDetector`.
    """
    detector: LeakDetector | None
    if corpus is None or isinstance(corpus, LeakDetector):
        detector = corpus
    else:
        detector = LeakDetector(corpus) if corpus else None
    scored = [score_trace(i, p, c, detector, extra_junk) for i, p, c in rows]
    leaking = [k for k, h in enumerate(scored) if h.leaks]
    verdicts = non_sequitur([rows[k][1] for k in leaking]) if leaking else []
    for k, verdict in zip(leaking, verdicts, strict=True):
        h = scored[k]
        leaks = tuple(Leak(x.start, x.end, x.text, x.kind, bool(verdict)) for x in h.leaks)
        scored[k] = TraceHealth(h.id, h.think_status, h.junk, leaks)
    return scored


def summary(scored: Sequence[TraceHealth]) -> dict[str, Any]:
    """The last-line summary with Wilson 95% intervals."""
    ok, ok_ci = rate([h.think_status == TraceStatus.OK.value for h in scored])
    leak, leak_ci = rate([bool(h.leaks) for h in scored])
    leaking = [h for h in scored if h.leaks]
    nonseq = [any(x.non_sequitur for x in h.leaks) for h in leaking]
    return {
        "n": len(scored),
        "correct_thinking_rate": ok,
        "correct_thinking_ci": list(ok_ci),
        "junk_trace_rate": rate([bool(h.junk) for h in scored])[0],
        "leak_rate": leak,
        "leak_rate_ci": list(leak_ci),
        "non_sequitur_share": rate(nonseq)[0] if leaking else None,
        "by_status": dict(Counter(h.think_status for h in scored)),
    }
