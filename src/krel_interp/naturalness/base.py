"""Metric registry, the statistics metrics return, and the context they run in.

A metric module registers a class under a name (``@register_metric("mmlu")``); its ``run``
returns one or more :class:`Statistic` objects (MMLU returns the log-likelihood and the
generated-letter accuracy). A statistic is a ratio of per-item sums, so base and organism can
be compared by a paired bootstrap over the same items.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from krel_interp.errors import ConfigError
from krel_interp.generate import GenerationConfig, generate_traces
from krel_interp.io import Progress, write_jsonl_atomic
from krel_interp.models.loading import LoadedModel
from krel_interp.naturalness.config import NaturalnessConfig
from krel_interp.traces import Trace


@dataclass(frozen=True)
class Statistic:
    """``value = transform(sum(num) / sum(den))`` over items (ids shared by base and organism).

    ``transform`` is ``mean`` (accuracies, rates) or ``exp`` (perplexity from token NLLs).
    ``fixed`` carries a value with no item decomposition (e.g. the share of intransitive
    triads): it has no bootstrap interval. ``value`` is None when the statistic does not apply
    (correct thinking of a model that does not think).
    """

    name: str
    items: tuple[str, ...] = ()
    num: tuple[float, ...] = ()
    den: tuple[float, ...] = ()
    transform: str = "mean"
    fixed: float | None = None
    applicable: bool = True
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not len(self.items) == len(self.num) == len(self.den):
            raise ValueError(f"{self.name}: items, num and den differ in length")
        if self.transform not in ("mean", "exp"):
            raise ValueError(f"{self.name}: unknown transform {self.transform!r}")

    @property
    def value(self) -> float | None:
        """The statistic on all items (None when not applicable or without items)."""
        if not self.applicable:
            return None
        if self.fixed is not None or not self.items:
            return self.fixed
        return self.apply(sum(self.num), sum(self.den))

    def apply(self, num: float, den: float) -> float:
        """``transform(num / den)`` (NaN when ``den`` is 0)."""
        if den == 0:
            return math.nan
        ratio = num / den
        return math.exp(ratio) if self.transform == "exp" else ratio


@dataclass
class MetricContext:
    """What a metric needs: the model, the config, a work directory and progress."""

    lm: LoadedModel
    config: NaturalnessConfig
    workdir: Path
    thinking: bool
    progress: Progress | None = None
    overwrite: bool = False
    intervention: dict[str, Any] | None = None
    _fresh: set[str] = field(default_factory=set)

    def generate(self, name: str, prompts: Sequence[Trace], max_new_tokens: int) -> list[Trace]:
        """Greedy rollouts of ``prompts`` cached (and resumable) under ``workdir/generations``.

        The budget is the metric's own unless the config overrides every budget. An
        ``intervention`` (steering hooks the caller holds, or a ``prefill``) is recorded with
        the rollouts; a prefill is forced at the start of every reply.
        """
        budget = self.config.max_new_tokens or max_new_tokens
        gen = GenerationConfig(
            max_new_tokens=budget,
            batch_size=self.config.batch_size,
            seed=self.config.seed,
            thinking=self.thinking,
            prefill=(self.intervention or {}).get("prefill"),
        )
        out = self.workdir / "generations" / name
        overwrite = self.overwrite and name not in self._fresh  # once per set per run
        self._fresh.add(name)
        return generate_traces(
            self.lm, prompts, gen, out, self.progress, overwrite, self.intervention
        )

    def write_items(self, name: str, rows: Sequence[dict[str, Any]]) -> Path:
        """Per-item results of a metric: ``workdir/items/NAME.jsonl`` (atomic)."""
        return write_jsonl_atomic(self.workdir / "items" / f"{name}.jsonl", rows)


class Metric(Protocol):
    """A naturalness metric: ``run(ctx)`` returns its statistics."""

    name: str
    generates: bool

    def run(self, ctx: MetricContext) -> list[Statistic]:
        """Measure the context's model."""
        ...

    def generation_sets(self, config: NaturalnessConfig) -> list[tuple[str, list[Trace], int]]:
        """The rollouts the metric makes: ``(name, prompts, budget)`` (empty if none)."""
        ...

    def size(self, config: NaturalnessConfig) -> int:
        """Work units for the progress bar (items generated or forward passes)."""
        ...


METRICS: dict[str, Callable[[], Metric]] = {}


def register_metric(name: str) -> Callable[[type], type]:
    """Class decorator: register a metric under ``name``."""

    def wrap(cls: type) -> type:
        METRICS[name] = cls
        return cls

    return wrap


def get_metric(name: str) -> Metric:
    """A metric by registry name; unknown names give a one-line error listing valid ones."""
    from krel_interp.naturalness import metrics  # noqa: F401  (registers the modules)

    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; valid: {', '.join(METRICS)}")
    return METRICS[name]()


def interleave(items: Sequence[Any], key: Callable[[Any], str]) -> list[Any]:
    """All items, round-robin over the groups of ``key`` (groups and members in order)."""
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    width = max((len(g) for g in groups.values()), default=0)
    return [g[d] for d in range(width) for g in groups.values() if d < len(g)]


def take(items: Sequence[Any], n: int | None, key: Callable[[Any], str] | None = None) -> list[Any]:
    """The first ``n`` items (all when None); with ``key``, round-robin over its groups so a
    small subset still spans every subject or type (deterministic, in fixture order)."""
    ordered = list(items) if key is None else interleave(items, key)
    return ordered if n is None else ordered[:n]
