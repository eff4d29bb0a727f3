"""Correct thinking: the share of the run's rollouts whose think status is ``ok``.

It pools every rollout the generating metrics of the run make (MMLU, IFEval, XSTest; cached,
so nothing is generated twice), and is None for a model that does not think.
"""

from __future__ import annotations

from krel_interp.naturalness.answers import split_answer
from krel_interp.naturalness.base import MetricContext, Statistic, get_metric, register_metric
from krel_interp.naturalness.config import NaturalnessConfig
from krel_interp.segments.think import TraceStatus
from krel_interp.traces import Trace

FALLBACK = ("ifeval",)


def _sets(config: NaturalnessConfig) -> list[tuple[str, list[Trace], int]]:
    names = [m for m in config.metrics if m != "correct_thinking" and get_metric(m).generates]
    sets: list[tuple[str, list[Trace], int]] = []
    for name in names or FALLBACK:
        sets += get_metric(name).generation_sets(config)
    return sets


@register_metric("correct_thinking")
class CorrectThinking:
    """Share of rollouts with a well-formed think block and an answer."""

    name = "correct_thinking"
    generates = True

    def size(self, config: NaturalnessConfig) -> int:
        return 0

    def generation_sets(self, config: NaturalnessConfig) -> list[tuple[str, list[Trace], int]]:
        return _sets(config)

    def run(self, ctx: MetricContext) -> list[Statistic]:
        if not ctx.thinking:
            return [Statistic("correct_thinking", applicable=False, info={"thinks": False})]
        ids: list[str] = []
        ok: list[float] = []
        statuses: dict[str, int] = {}
        for name, prompts, budget in _sets(ctx.config):
            for t in ctx.generate(name, prompts, budget):
                status = split_answer(t.completion or "").status
                ids.append(f"{name}:{t.id}")
                ok.append(float(status == TraceStatus.OK))
                statuses[status.value] = statuses.get(status.value, 0) + 1
        return [
            Statistic(
                "correct_thinking",
                tuple(ids),
                tuple(ok),
                (1.0,) * len(ids),
                info={"by_status": statuses},
            )
        ]
