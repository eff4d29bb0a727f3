"""IFEval: instruction following, strict and loose, prompt- and instruction-level.

The response checked is the answer segment (think stripped); a missing answer fails every
instruction. Budget ``GEN_TOKENS`` for think + answer, greedy.
"""

from __future__ import annotations

from typing import Any

from krel_interp.naturalness.answers import split_answer
from krel_interp.naturalness.base import MetricContext, Statistic, register_metric, take
from krel_interp.naturalness.config import NaturalnessConfig
from krel_interp.naturalness.ifeval import IFEvalItem, evaluate_response, is_supported
from krel_interp.naturalness.loaders import load_rows, rows_hash
from krel_interp.traces import Trace

GEN_TOKENS = 320


def load_items(config: NaturalnessConfig) -> list[IFEvalItem]:
    """The IFEval items of a run (fixture order; the first ``config.ifeval``).

    Items with an instruction this module cannot check offline (the hub data's
    ``language:response_language``) are left out.
    """
    rows = [r for r in load_rows("ifeval", config.source("ifeval")) if is_supported(r)]
    return take([IFEvalItem.from_record(r) for r in rows], config.ifeval)


def generation_prompts(items: list[IFEvalItem]) -> list[Trace]:
    """One user-turn prompt per item."""
    return [
        Trace(f"ifeval_{it.key}", ({"role": "user", "content": it.prompt},), {"kind": "ifeval"})
        for it in items
    ]


@register_metric("ifeval")
class IFEval:
    """Instruction following on IFEval-format prompts."""

    name = "ifeval"
    generates = True

    def size(self, config: NaturalnessConfig) -> int:
        return len(load_items(config))

    def generation_sets(self, config: NaturalnessConfig) -> list[tuple[str, list[Trace], int]]:
        """The rollouts this metric makes: (name, prompts, budget)."""
        return [("ifeval", generation_prompts(load_items(config)), GEN_TOKENS)]

    def run(self, ctx: MetricContext) -> list[Statistic]:
        items = load_items(ctx.config)
        traces = ctx.generate("ifeval", generation_prompts(items), GEN_TOKENS)
        answers = [split_answer(t.completion or "", ctx.thinking) for t in traces]
        results = [
            evaluate_response(it, a.text or "") for it, a in zip(items, answers, strict=True)
        ]
        ids = tuple(f"ifeval_{it.key}" for it in items)
        ctx.write_items(
            "ifeval",
            [
                {
                    "id": i,
                    "instructions": list(it.instruction_id_list),
                    "strict": list(r.strict),
                    "loose": list(r.loose),
                    "status": a.status.value,
                    "missing_answer": a.text is None,
                }
                for i, it, r, a in zip(ids, items, results, answers, strict=True)
            ],
        )
        info: dict[str, Any] = {
            "budget": ctx.config.max_new_tokens or GEN_TOKENS,
            "missing_answer": sum(a.text is None for a in answers),
            "data_hash": rows_hash([{"key": it.key, "prompt": it.prompt} for it in items]),
        }
        n = (1.0,) * len(items)
        counts = tuple(float(len(r.strict)) for r in results)
        return [
            Statistic(
                "ifeval_prompt_strict",
                ids,
                tuple(float(r.prompt_strict) for r in results),
                n,
                info=info,
            ),
            Statistic(
                "ifeval_prompt_loose",
                ids,
                tuple(float(r.prompt_loose) for r in results),
                n,
                info=info,
            ),
            Statistic(
                "ifeval_inst_strict",
                ids,
                tuple(float(sum(r.strict)) for r in results),
                counts,
                info=info,
            ),
            Statistic(
                "ifeval_inst_loose",
                ids,
                tuple(float(sum(r.loose)) for r in results),
                counts,
                info=info,
            ),
        ]
