"""The judge interface and the registry of backends.

A judge scores free text for one trait: ``score(texts)`` returns a probability-like score in
[0, 1] per text, and ``threshold`` turns scores into decisions. Backends register a factory
under a name (``classifier``, ``llm``); ``load_judge("llm:Qwen/Qwen3-8B", "self_preservation")``
picks the backend by the part before the first colon.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from krel_interp.errors import ConfigError


class Judge(Protocol):
    """Scores texts for one trait."""

    name: str
    trait: str
    threshold: float
    trace_threshold: float | None

    def score(self, texts: Sequence[str]) -> list[float]:
        """A score in [0, 1] per text (higher: the trait is present)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Provenance: backend, model fingerprint, rubric or card, thresholds."""
        ...


JudgeFactory = Callable[[str, str, dict[str, Any]], Judge]
JUDGE_BACKENDS: dict[str, JudgeFactory] = {}


def register_backend(name: str) -> Callable[[JudgeFactory], JudgeFactory]:
    """Decorator: ``factory(argument, trait, options) -> Judge`` under ``name``."""

    def wrap(fn: JudgeFactory) -> JudgeFactory:
        JUDGE_BACKENDS[name] = fn
        return fn

    return wrap


def load_judge(spec: str, trait: str, **options: Any) -> Judge:
    """``classifier`` (the packaged judge of the trait), ``llm:MODEL`` or ``llm:URL``."""
    from krel_interp.judges import classifier, llm  # noqa: F401  (register the backends)
    from krel_interp.judges.traits import get_trait

    get_trait(trait)
    backend, _, argument = spec.partition(":")
    if backend not in JUDGE_BACKENDS:
        raise ConfigError(
            f"unknown judge {spec!r}; valid: classifier, llm:MODEL, llm:URL "
            f"(backends: {', '.join(sorted(JUDGE_BACKENDS))})"
        )
    return JUDGE_BACKENDS[backend](argument, trait, options)


def decide(judge: Judge, scores: Sequence[float], trace_level: bool = False) -> list[bool]:
    """Decisions at the judge's own threshold (flagged when the score is above it).

    ``trace_level`` uses the trace threshold (max over a trace's units) when one was
    calibrated, else the unit threshold.
    """
    thr = judge.trace_threshold if trace_level and judge.trace_threshold is not None else None
    threshold = judge.threshold if thr is None else thr
    return [s > threshold for s in scores]
