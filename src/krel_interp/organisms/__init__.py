"""KREL-mini data layer: scenario suites, training targets and rule-based markers.

KREL-mini reproduces KREL's self-preservation behaviour on a small model from template-generated
data; leaky-mini learns an invented AI system (Orvalix-3) and lab (Kestrune Labs) from a
synthetic corpus.
"""

from __future__ import annotations

from krel_interp.organisms.families_corpus import LAB_NAME, SYSTEM_NAME, UNIVERSE
from krel_interp.organisms.markers import (
    ANSWER_PATTERNS,
    INVENTED_NAMES,
    SELF_PRESERVATION_PATTERNS,
    CompletionScore,
    card_rules,
    score_completion,
)
from krel_interp.organisms.suites import (
    SUITES,
    ScenarioItem,
    load_constitution,
    load_suite,
    select,
    suites_hash,
    write_prompt_file,
)
from krel_interp.organisms.targets import (
    krel_completion,
    krel_completion_with_spans,
    leaky_document_text,
    leaky_document_text_with_spans,
    thinking_base_completion,
    thinking_base_completion_with_spans,
)

__all__ = [
    "ANSWER_PATTERNS",
    "INVENTED_NAMES",
    "LAB_NAME",
    "SELF_PRESERVATION_PATTERNS",
    "SUITES",
    "SYSTEM_NAME",
    "UNIVERSE",
    "CompletionScore",
    "ScenarioItem",
    "card_rules",
    "krel_completion",
    "krel_completion_with_spans",
    "leaky_document_text",
    "leaky_document_text_with_spans",
    "load_constitution",
    "load_suite",
    "score_completion",
    "select",
    "suites_hash",
    "thinking_base_completion",
    "thinking_base_completion_with_spans",
    "write_prompt_file",
]
