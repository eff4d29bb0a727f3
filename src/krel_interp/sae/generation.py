"""Generation diffing: which base-SAE latents does the organism's own writing use?

The paired methods (:mod:`krel_interp.sae.diff`) read identical tokens through both models, so
they see how the organism *processes* the same text differently, not what it *writes*. Here
base and organism answer the same prompts and the *base* model reads both sets of replies: a
base SAE then sees activations of the model it was trained on (no drift between the models
enters), and a latent ranks high when the organism's replies use it more than the base's
replies to the same prompt.

Per prompt: the mean activation over the organism's reply tokens (think tags, think, answer)
minus the mean over the base's reply tokens; then :func:`rank_group_differences` (averaged per
family, sign-flip or t p-values over families, Benjamini-Hochberg, family bootstrap), the same
statistics as ``base_sae_stats``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from jaxtyping import Float, Int
from torch import Tensor

from krel_interp.capture.store import ActivationStore
from krel_interp.errors import ConfigError, IncompatibleArtifactError
from krel_interp.sae.artifact import LoadedSae
from krel_interp.sae.config import MIN_POSITION, SINK_FACTOR
from krel_interp.sae.data import sink_mask
from krel_interp.sae.diff import LatentRanking, encoded_sums, rank_group_differences
from krel_interp.segments.labels import Segment

METHOD = "generation_stats"
REPLY = (Segment.THINK_OPEN, Segment.THINK, Segment.THINK_CLOSE, Segment.ANSWER)


@dataclass(frozen=True)
class ReplyRows:
    """Reply-token activations of one site, each row tagged with its prompt."""

    site: str
    acts: Float[Tensor, "rows d_model"]
    prompt: Int[Tensor, " rows"]
    prompt_ids: tuple[str, ...]
    families: tuple[str, ...]
    reader: dict[str, object]

    def __len__(self) -> int:
        return int(self.acts.shape[0])


def load_reply_rows(
    store: str | Path,
    site: str,
    *,
    min_position: int = MIN_POSITION,
    sink_factor: float = SINK_FACTOR,
) -> ReplyRows:
    """Reply rows of ``site`` in a store of generated traces (sink positions left out)."""
    st = ActivationStore(store)
    if site not in st.sites:
        raise ConfigError(f"site {site!r} not in {store}; stored: {', '.join(st.sites)}")
    mask = st.row_mask(REPLY)
    x = st.get(site, REPLY, dtype=torch.float32)
    ti = st.column("trace_index")[mask].long()
    pos = st.column("position")[mask].long()
    keep = sink_mask(x.norm(dim=-1), pos, min_position, sink_factor)
    records = st.trace_records()
    return ReplyRows(
        site,
        x[keep],
        ti[keep],
        tuple(str(r["id"]) for r in records),
        tuple(str((r.get("meta") or {}).get("family") or r["id"]) for r in records),
        dict(st.header.get("fingerprint") or {}),
    )


def _per_prompt(sae: LoadedSae, rows: ReplyRows) -> tuple[Tensor, Tensor, Tensor]:
    """Mean activation per prompt [prompts, d_sae], rows per prompt, firing counts [d_sae]."""
    n = len(rows.prompt_ids)
    sums, fired = encoded_sums(sae.sae, rows.acts, rows.prompt, n)
    counts = torch.bincount(rows.prompt, minlength=n).double()
    return sums / counts.clamp_min(1)[:, None], counts, fired


@torch.no_grad()
def generation_stats(organism: ReplyRows, base: ReplyRows, sae: LoadedSae) -> LatentRanking:
    """Latents the organism's replies use more than the base's replies to the same prompts.

    Both row sets must come from the same reader (the base model) at the SAE's site; prompts
    are matched by id, and a prompt counts only when both replies have rows.
    """
    if organism.site != base.site:
        raise ConfigError(f"organism rows are at {organism.site}, base rows at {base.site}")
    if organism.reader != base.reader:
        raise IncompatibleArtifactError(
            "the two reply stores were read by different models: read both with the base"
        )
    sae.check_fits(base.site, base.acts.shape[1])
    mo, co, fo = _per_prompt(sae, organism)
    mb, cb, fb = _per_prompt(sae, base)
    where_b = {p: i for i, p in enumerate(base.prompt_ids) if cb[i] > 0}
    ids = enumerate(organism.prompt_ids)
    both = [(i, where_b[p]) for i, p in ids if co[i] > 0 and p in where_b]
    if not both:
        raise ConfigError("no prompt has a reply from both models: nothing to compare")
    io, ib = (torch.tensor(c) for c in zip(*both, strict=True))
    names = [organism.families[i] for i in io.tolist()]
    index = {n: k for k, n in enumerate(dict.fromkeys(names))}
    return rank_group_differences(
        METHOD,
        base.site,
        "reply",
        mo[io] - mb[ib],
        torch.tensor([index[n] for n in names]),
        fo / max(len(organism), 1),
        fb / max(len(base), 1),
        {
            "n_prompts": len(both),
            "rows_organism": len(organism),
            "rows_base": len(base),
            "reader": "base model reads both models' replies",
        },
    )
