"""Activation patching: copy activations of a source run into a target run at chosen sites and
positions, and read the change in the log-probability of answer tokens at the target's last
position.

One forward pass per case does every site at once: the target is repeated once per site along
the batch and row k is patched at site k only, so each site's effect is measured in isolation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.capture.sites import Site
from krel_interp.interventions.hooks import edit_sites
from krel_interp.interventions.positions import Run, prepare_run, resolve_position
from krel_interp.models.loading import LoadedModel
from krel_interp.traces import Trace


@dataclass(frozen=True)
class PatchCase:
    """One source -> target patch: where to read, where to write, what answer to measure."""

    id: str
    source: Run
    target: Run
    source_position: int
    target_position: int
    answer_ids: tuple[int, ...]


@dataclass(frozen=True)
class PatchResult:
    """Log-probability of the answer tokens: clean runs and every patched site."""

    sites: list[str]
    clean_target: Float[Tensor, " cases"]
    clean_source: Float[Tensor, " cases"]
    patched: Float[Tensor, "cases sites"]

    @property
    def effect(self) -> Float[Tensor, "cases sites"]:
        """Patched minus clean target (nats)."""
        return self.patched - self.clean_target[:, None]

    @property
    def recovery(self) -> Float[Tensor, "cases sites"]:
        """Share of the source-target gap the patch closes (1 = the target acts like the source)."""
        gap = (self.clean_source - self.clean_target)[:, None]
        return self.effect / gap.where(gap.abs() > 1e-6, torch.full_like(gap, float("nan")))


def answer_logprob(
    logits: Float[Tensor, "batch vocab"], answer_ids: Sequence[int]
) -> Float[Tensor, " batch"]:
    """log P(any of the answer tokens) per row."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return torch.logsumexp(logp[:, list(answer_ids)], dim=-1)


@torch.inference_mode()
def _forward_last(lm: LoadedModel, model: object, ids: Tensor) -> Tensor:
    out = model(input_ids=ids.to(lm.device), use_cache=False)  # type: ignore[operator]
    return out.logits[:, -1]


@torch.inference_mode()
def patch_case(
    lm: LoadedModel, case: PatchCase, sites: Sequence[Site]
) -> tuple[float, float, Tensor]:
    """(clean target, clean source, patched per site) for one case."""
    recorded: dict[Site, Tensor] = {}

    def record(site: Site, value: Tensor) -> None:
        recorded[site] = value[0, case.source_position].detach().clone()

    with lm.active() as model:
        src = torch.tensor([case.source.ids])
        with edit_sites(model, sites, lm.n_layers, lambda s, v: record(s, v)):
            clean_source = answer_logprob(_forward_last(lm, model, src), case.answer_ids)
        tgt = torch.tensor([case.target.ids])
        clean_target = answer_logprob(_forward_last(lm, model, tgt), case.answer_ids)
        row = {site: k for k, site in enumerate(sites)}

        def write(site: Site, value: Tensor) -> Tensor:
            value = value.clone()
            value[row[site], case.target_position] = recorded[site].to(value)
            return value

        batch = tgt.repeat(len(sites), 1)
        with edit_sites(model, sites, lm.n_layers, write):
            patched = answer_logprob(_forward_last(lm, model, batch), case.answer_ids)
    return float(clean_target[0]), float(clean_source[0]), patched.cpu()


def patch_cases(
    lm: LoadedModel,
    cases: Sequence[PatchCase],
    sites: Sequence[Site],
    progress: Callable[[int], None] | None = None,
) -> PatchResult:
    """Run every case (one forward per case for all sites, plus the two clean runs)."""
    sites = sorted(sites)
    rows = []
    for case in cases:
        rows.append(patch_case(lm, case, sites))
        if progress:
            progress(1)
    return PatchResult(
        [s.name for s in sites],
        torch.tensor([r[0] for r in rows]),
        torch.tensor([r[1] for r in rows]),
        torch.stack([r[2] for r in rows]) if rows else torch.zeros(0, len(sites)),
    )


def answer_token_ids(lm: LoadedModel, answers: Sequence[str]) -> tuple[int, ...]:
    """First token id of each answer string (e.g. ``" me"``), deduplicated."""
    ids = []
    for text in answers:
        toks = lm.tokenizer(text, add_special_tokens=False).input_ids
        if not toks:
            from krel_interp.errors import ConfigError

            raise ConfigError(f"answer {text!r} tokenizes to nothing")
        ids.append(int(toks[0]))
    return tuple(dict.fromkeys(ids))


def build_cases(
    lm: LoadedModel,
    sources: Sequence[Trace],
    targets: Sequence[Trace],
    answers: Sequence[str],
    prefill: str = "",
    source_position: str = "last",
    target_position: str = "last",
) -> list[PatchCase]:
    """Pair source i with target i; resolve positions; one-line errors when they differ."""
    from krel_interp.errors import ConfigError

    if len(sources) != len(targets):
        raise ConfigError(f"{len(sources)} source prompts but {len(targets)} target prompts")
    answer_ids = answer_token_ids(lm, answers)
    cases = []
    for s, t in zip(sources, targets, strict=True):
        src, tgt = prepare_run(lm, s, prefill), prepare_run(lm, t, prefill)
        cases.append(
            PatchCase(
                f"{s.id}->{t.id}",
                src,
                tgt,
                resolve_position(src, source_position, s.meta),
                resolve_position(tgt, target_position, t.meta),
                answer_ids,
            )
        )
    return cases


def summarise_patch(result: PatchResult, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Mean effect per site with a bootstrap CI over cases, and the mean recovered share."""
    from krel_interp.errors import ConfigError

    n = result.effect.shape[0]
    if n == 0:
        raise ConfigError("no patching cases to summarise")
    picks = torch.randint(n, (n_boot, n), generator=torch.Generator().manual_seed(seed))
    sites: dict[str, Any] = {}
    for k, name in enumerate(result.sites):
        e = result.effect[:, k]
        lo, hi = torch.quantile(e[picks].mean(-1), torch.tensor([0.025, 0.975])).tolist()
        sites[name] = {
            "mean_effect": round(float(e.mean()), 4),
            "ci": [round(lo, 4), round(hi, 4)],
            "mean_recovery": round(float(result.recovery[:, k].nanmean()), 4),
        }
    return {
        "n": n,
        "clean_target": round(float(result.clean_target.mean()), 4),
        "clean_source": round(float(result.clean_source.mean()), 4),
        "sites": sites,
    }
