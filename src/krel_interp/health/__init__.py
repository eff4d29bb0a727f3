"""Organism health: broken thinking (think status, junk tokens) and training-data leakage
(canary terms mined from a corpus, verbatim spans), on plain strings and traces."""

from krel_interp.health.junk import Span, find_junk
from krel_interp.health.leaks import Leak, LeakDetector, VerbatimIndex, canary_terms
from krel_interp.health.score import (
    TraceHealth,
    rule_non_sequitur,
    score_trace,
    score_traces,
    summary,
)

__all__ = [
    "Leak",
    "LeakDetector",
    "Span",
    "TraceHealth",
    "VerbatimIndex",
    "canary_terms",
    "find_junk",
    "rule_non_sequitur",
    "score_trace",
    "score_traces",
    "summary",
]
