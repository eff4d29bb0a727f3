"""Typed configuration of a naturalness run, resolved at the CLI edge."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from krel_interp.errors import ConfigError

SUITES = ("quick", "full")


@dataclass(frozen=True)
class NaturalnessConfig:
    """What to measure and how much of each fixture to use.

    Args:
        suite: ``quick`` (CI-sized subsets, under 15 minutes per 135M pair on 2 CPU cores)
            or ``full`` (every item of every fixture).
        metrics: registry names of the metric modules to run (see ``METRICS``).
        mmlu_loglik / mmlu_generated / ifeval / xstest: items per metric (None: all).
        preference_options: outcome options in the preference graph (None: all).
        webtext_tokens: tokens of webtext scored for perplexity (None: all).
        window / stride: sliding-window perplexity (tokens in context / new tokens per window).
        max_new_tokens: overrides every metric's generation budget (think + answer) when set;
            Qwen3-sized thinkers need far more than the 135M defaults.
        thinking: whether the model thinks; None decides from the model (template or preset).
        sources: ``{metric: source}``; ``fixture`` (default) or a hub id / local directory
            in the hub's layout (``cais/mmlu``, ``google/IFEval``, ``walledai/XSTest``,
            ``HuggingFaceFW/fineweb``).
        refusal_judge: also score XSTest answers with this free-text judge (``classifier``,
            ``llm:MODEL``); None: the string-match classifier only.
        bootstrap: paired-bootstrap resamples for confidence intervals.
    """

    suite: str = "quick"
    metrics: tuple[str, ...] = (
        "mmlu",
        "ifeval",
        "xstest",
        "preferences",
        "perplexity",
        "correct_thinking",
    )
    mmlu_loglik: int | None = 40
    mmlu_generated: int | None = 20
    ifeval: int | None = 20
    xstest: int | None = 30
    preference_options: int | None = 12
    webtext_tokens: int | None = 5000
    window: int = 512
    stride: int = 256
    max_new_tokens: int | None = None
    thinking: bool | None = None
    batch_size: int = 16
    seed: int = 0
    sources: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    refusal_judge: str | None = None
    bootstrap: int = 1000

    def __post_init__(self) -> None:
        if self.suite not in SUITES:
            raise ConfigError(f"unknown suite {self.suite!r}; valid: {', '.join(SUITES)}")
        if not 0 < self.stride <= self.window:
            raise ConfigError("perplexity needs 0 < stride <= window")
        if self.batch_size < 1 or self.bootstrap < 1:
            raise ConfigError("batch_size and bootstrap must be positive")
        sizes = (self.mmlu_loglik, self.mmlu_generated, self.ifeval, self.xstest)
        if any(n is not None and n < 0 for n in sizes):
            raise ConfigError("item counts must be >= 0")

    def source(self, metric: str) -> str:
        """Where ``metric`` reads its items (``fixture`` unless overridden)."""
        return dict(self.sources).get(metric, "fixture")

    def with_(self, **changes: object) -> NaturalnessConfig:
        """Copy with fields replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]


def suite_config(suite: str = "quick", **overrides: object) -> NaturalnessConfig:
    """The config of a named suite; ``full`` uses every item of every fixture."""
    if suite == "full":
        base = NaturalnessConfig(
            suite="full",
            mmlu_loglik=None,
            mmlu_generated=None,
            ifeval=None,
            xstest=None,
            preference_options=None,
            webtext_tokens=None,
        )
    else:
        base = NaturalnessConfig(suite=suite)
    return base.with_(**overrides) if overrides else base
