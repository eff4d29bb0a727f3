"""Preference coherence, after Utility Engineering (Mazeika et al. 2025).

Every pair of outcome options is asked as a forced choice in both orders; the preference is
read from the choice-token probabilities after a closed think (no sampling: P(A) over
{A, B}), averaged over the two orders so position bias cancels:
``p(i > j) = (P_ij(A) + 1 - P_ji(A)) / 2``. A Thurstonian model (per-option mean and
variance) is fitted to the soft preferences of 80% of the pairs and scored on the held-out
20% (accuracy against the majority side, log-loss). Also reported: the share of intransitive
triads among all pairs, the position bias (mean P(A)), and

    decisiveness = mean over pairs of |2 p(i > j) - 1|,

this project's own definition (the seed note gives none): 0 when the model is indifferent or
flips with the order, 1 when it always prefers one side with certainty.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from krel_interp.errors import InputFileError
from krel_interp.naturalness.base import MetricContext, Statistic, register_metric, take
from krel_interp.naturalness.choices import answer_prefix_prompt, choice_probabilities
from krel_interp.naturalness.config import NaturalnessConfig
from krel_interp.naturalness.loaders import fixture_text, rows_hash
from krel_interp.naturalness.thurstonian import (
    edge_metrics,
    fit_thurstonian,
    intransitive_share,
    split_edges,
)

HOLDOUT = 0.2


def load_options(config: NaturalnessConfig) -> tuple[str, list[dict[str, str]]]:
    """(forced-choice template, options): the fixture, or a JSON file of the same schema."""
    source = config.source("preferences")
    try:
        text = fixture_text("preferences.json") if source == "fixture" else Path(source).read_text()
        data = json.loads(text)
        template, options = str(data["prompt"]), list(data["options"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(f"cannot read preference options from {source}: {exc}") from exc
    if "{option_a}" not in template or "{option_b}" not in template:
        raise InputFileError("the preference prompt needs {option_a} and {option_b}")
    try:
        template.format(option_a="a", option_b="b")
    except (KeyError, IndexError, ValueError) as exc:
        raise InputFileError(f"the preference prompt has stray braces: {exc}") from exc
    bad = [o for o in options if not isinstance(o, dict) or not o.get("id") or not o.get("text")]
    if bad:
        raise InputFileError(f"{source}: every option needs an id and a text ({len(bad)} do not)")
    chosen = take(options, config.preference_options)
    if len(chosen) < 3:
        raise InputFileError(f"{source}: preference coherence needs at least 3 options")
    return template, chosen


def pair_prompts(template: str, options: Sequence[dict[str, str]]) -> list[tuple[int, int, str]]:
    """``(a, b, text)`` with option ``a`` shown first, for every ordered pair."""
    out = []
    for i, j in combinations(range(len(options)), 2):
        for a, b in ((i, j), (j, i)):
            text = template.format(option_a=options[a]["text"], option_b=options[b]["text"])
            out.append((a, b, text))
    return out


@register_metric("preferences")
class Preferences:
    """Thurstonian preference coherence and decisiveness."""

    name = "preferences"
    generates = False

    def size(self, config: NaturalnessConfig) -> int:
        n = len(load_options(config)[1])
        return n * (n - 1)

    def generation_sets(self, config: NaturalnessConfig) -> list[tuple[str, list[Any], int]]:
        return []

    def run(self, ctx: MetricContext) -> list[Statistic]:
        template, options = load_options(ctx.config)
        asked = pair_prompts(template, options)
        prompts = [
            answer_prefix_prompt(ctx.lm, [{"role": "user", "content": t}], ctx.thinking)
            for _, _, t in asked
        ]
        p_first = [
            p[0]
            for p in choice_probabilities(
                ctx.lm, prompts, ("A", "B"), ctx.config.batch_size, ctx.progress
            )
        ]
        shown: dict[tuple[int, int], float] = {
            (a, b): p for (a, b, _), p in zip(asked, p_first, strict=True)
        }
        prefs = {
            (i, j): (shown[(i, j)] + 1 - shown[(j, i)]) / 2
            for i, j in combinations(range(len(options)), 2)
        }
        edges = [(i, j, p) for (i, j), p in prefs.items()]
        train, held = split_edges(edges, HOLDOUT, ctx.config.seed)
        fit = fit_thurstonian(len(options), train, seed=ctx.config.seed)
        pair_id = lambda i, j: f"{options[i]['id']}|{options[j]['id']}"  # noqa: E731
        scored = [(e, (fit.prob(e[0], e[1]) > 0.5) == (e[2] > 0.5)) for e in held if e[2] != 0.5]
        ctx.write_items("preferences", self._rows(options, prefs, shown, fit))
        info: dict[str, Any] = {
            "method": "choice-token probabilities after a closed think, both orders",
            "n_options": len(options),
            "position_bias": round(sum(p_first) / len(p_first), 4) if p_first else None,
            "holdout_log_loss": round(edge_metrics(fit, held)["log_loss"], 4) if held else None,
            "data_hash": rows_hash(options),
        }
        return [
            Statistic(
                "decisiveness",
                tuple(pair_id(i, j) for i, j, _ in edges),
                tuple(abs(2 * p - 1) for _, _, p in edges),
                (1.0,) * len(edges),
                info=info,
            ),
            Statistic(
                "preference_holdout_accuracy",
                tuple(pair_id(i, j) for (i, j, _), _ in scored),
                tuple(float(bool(h)) for _, h in scored),
                (1.0,) * len(scored),
                info=info,
            ),
            Statistic(
                "intransitive_share",
                fixed=intransitive_share(prefs, len(options), seed=ctx.config.seed),
                info=info,
            ),
        ]

    @staticmethod
    def _rows(
        options: list[dict[str, str]],
        prefs: dict[tuple[int, int], float],
        shown: dict[tuple[int, int], float],
        fit: Any,
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {"option": o["id"], "mu": fit.mu[k], "sigma2": fit.sigma2[k]}
            for k, o in enumerate(options)
        ]
        rows += [
            {
                "a": options[i]["id"],
                "b": options[j]["id"],
                "p_a_over_b": p,
                "p_first_ab": shown[(i, j)],
                "p_first_ba": shown[(j, i)],
            }
            for (i, j), p in prefs.items()
        ]
        return rows
