"""Model-diffing methods behind one registry: which latents belong to the organism?

Every method reads :class:`PairedRows` (the same tokens through base and organism) and returns
a :class:`LatentRanking`, best first, without looking at any label:

* ``base_sae_stats``: a base SAE encodes both models' activations; per-latent mean activation
  organism minus base, averaged per family; p-values over families (exact sign flips up to 16
  families, else a one-sample t test) with Benjamini-Hochberg control; family bootstrap
  intervals for the top latents;
* ``diff_sae``: an SAE trained on organism minus base; latents ranked by the activation mass
  they carry on the difference (sum of activation x decoder norm);
* ``crosscoder``: an SAE on [base; organism]; latents ranked by the organism's share of the
  latent-scaling coefficients, beta_org / (|beta_base| + |beta_org|): beta_m is the
  least-squares scale of f_j x d_org,j (the latent's *organism* decoder direction) that best
  explains model m's reconstruction error plus the latent's own contribution to model m
  (Minder et al.'s latent scaling); an organism-only latent has beta_base near 0;
* ``activation_diff_lens`` (baseline, no SAE): the mean organism-minus-base difference at each
  of the first positions of every trace, a direction per position, ranked by its norm.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from safetensors.torch import load_file, save_file
from torch import Tensor

from krel_interp.errors import ConfigError, IncompatibleArtifactError, InputFileError
from krel_interp.io import write_json_atomic
from krel_interp.sae.artifact import LoadedSae
from krel_interp.sae.data import sae_input
from krel_interp.sae.paired import PairedRows

BATCH = 4096
RANKING = "ranking.json"
DIRECTIONS = "directions.safetensors"


@dataclass(frozen=True)
class LatentRanking:
    """Latents (or lens directions) most specific to the organism, best first."""

    method: str
    site: str
    segment: str | None
    latents: tuple[int, ...]
    scores: tuple[float, ...]
    freq_organism: tuple[float | None, ...]
    freq_base: tuple[float | None, ...]
    details: dict[str, Any] = field(default_factory=dict)
    directions: Tensor | None = None  # lens directions [n, d_model]; None for SAE methods

    def top(self, n: int = 20) -> list[dict[str, Any]]:
        """The first ``n`` entries as JSON-ready dicts."""
        rows = zip(self.latents, self.scores, self.freq_organism, self.freq_base, strict=True)
        return [
            {"latent": int(lat), "score": _r(s), "freq_organism": _r(fo), "freq_base": _r(fb)}
            for lat, s, fo, fb in list(rows)[:n]
        ]

    def summary(self, n: int = 20) -> dict[str, Any]:
        """The CLI's last line: method, site, segment and the top ``n``."""
        return {
            "method": self.method,
            "site": self.site,
            "segment": self.segment,
            "top": self.top(n),
        }

    def save(self, out: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """``ranking.json`` (+ ``directions.safetensors`` for the lens) under ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        if self.directions is not None:
            save_file({"directions": self.directions.contiguous()}, str(out / DIRECTIONS))
        else:  # never leave a lens run's directions beside an SAE ranking
            (out / DIRECTIONS).unlink(missing_ok=True)
        record = {**self.summary(len(self.latents)), "details": self.details, **(extra or {})}
        write_json_atomic(out / RANKING, record)
        return out / RANKING

    @classmethod
    def load(cls, out: str | Path) -> tuple[LatentRanking, dict[str, Any]]:
        """A saved ranking and the whole JSON record."""
        path = Path(out) / RANKING
        if not path.exists():
            raise InputFileError(f"{out} holds no {RANKING} (run `sae diff` first)")
        try:
            rec = json.loads(path.read_text())
            top = rec["top"]
            rec["method"], rec["site"], rec["segment"]  # noqa: B018
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputFileError(f"{path}: not a ranking written by `sae diff` ({exc})") from None
        dirs = None
        if (Path(out) / DIRECTIONS).exists():
            dirs = load_file(str(Path(out) / DIRECTIONS))["directions"]
        ranking = cls(
            rec["method"],
            rec["site"],
            rec["segment"],
            tuple(t["latent"] for t in top),
            tuple(t["score"] for t in top),
            tuple(t["freq_organism"] for t in top),
            tuple(t["freq_base"] for t in top),
            rec.get("details", {}),
            dirs,
        )
        return ranking, rec


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


@dataclass(frozen=True)
class DiffMethod:
    """A diffing method: the SAE kind it needs (None: none) and its ranking function."""

    name: str
    needs: str | None
    rank: Callable[[PairedRows, LoadedSae | None], LatentRanking]


DIFF_METHODS: dict[str, DiffMethod] = {}


def register_diff_method(
    name: str, needs: str | None
) -> Callable[[Callable[[PairedRows, LoadedSae | None], LatentRanking]], Any]:
    """Decorator adding a ranking function to :data:`DIFF_METHODS`."""

    def wrap(fn: Callable[[PairedRows, LoadedSae | None], LatentRanking]) -> Any:
        DIFF_METHODS[name] = DiffMethod(name, needs, fn)
        return fn

    return wrap


def get_diff_method(name: str) -> DiffMethod:
    """A registered method, or a one-line error listing them."""
    if name not in DIFF_METHODS:
        raise ConfigError(f"unknown diff method {name!r}; valid: {', '.join(DIFF_METHODS)}")
    return DIFF_METHODS[name]


def check_sae_kind(method: DiffMethod, sae: LoadedSae | None) -> None:
    """The SAE a method needs is given and of the right kind (checkable before any capture)."""
    if method.needs is None:
        return
    if sae is None:
        raise ConfigError(f"method {method.name!r} needs an SAE (--sae) of kind {method.needs!r}")
    if sae.kind != method.needs:
        raise IncompatibleArtifactError(
            f"method {method.name!r} needs a {method.needs!r} SAE; {sae.source} is {sae.kind!r}"
        )


def check_sae_for(method: DiffMethod, sae: LoadedSae | None, rows: PairedRows) -> None:
    """:func:`check_sae_kind`, and the SAE fits the rows' site and width."""
    check_sae_kind(method, sae)
    if sae is not None and method.needs is not None:
        sae.check_fits(rows.site, rows.base.shape[1])


def rank_latents(method: str, rows: PairedRows, sae: LoadedSae | None) -> LatentRanking:
    """Run a registered method after checking its SAE."""
    m = get_diff_method(method)
    check_sae_for(m, sae, rows)
    return m.rank(rows, sae)


@torch.no_grad()
def latent_activations(
    ranking: LatentRanking,
    sae: LoadedSae | None,
    base: Float[Tensor, "rows d_model"],
    organism: Float[Tensor, "rows d_model"],
    latents: tuple[int, ...] | None = None,
) -> Float[Tensor, "rows k"]:
    """Activations of ranked latents (or lens projections) on new paired rows."""
    latents = ranking.latents if latents is None else latents
    if ranking.directions is not None:
        dirs = ranking.directions.float()
        unit = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        return organism.float() @ unit[list(latents)].T
    if sae is None:
        raise ConfigError(f"method {ranking.method!r} needs its SAE to compute activations")
    x = sae_input(sae.kind, base.float(), organism.float())
    return encode_latents(sae, x, latents)


@torch.no_grad()
def encode_latents(
    sae: LoadedSae, x: Float[Tensor, "rows d_in"], latents: Sequence[int] | None = None
) -> Float[Tensor, "rows k"]:
    """The SAE's activations of ``latents`` (all when None) on ``x``, in row batches (float32)."""
    idx = torch.tensor(list(latents), dtype=torch.long) if latents is not None else None
    width = sae.d_sae if idx is None else len(idx)
    parts = [
        (f if idx is None else f[:, idx]).float()
        for f in (sae.sae.encode(x[i : i + BATCH].float()) for i in range(0, len(x), BATCH))
    ]
    return torch.cat(parts) if parts else torch.zeros(0, width)


# --- base SAE statistics ---------------------------------------------------------------


def benjamini_hochberg(p: Tensor) -> Tensor:
    """BH q-values (monotone, capped at 1)."""
    n = len(p)
    order = torch.argsort(p)
    ranked = p[order] * n / torch.arange(1, n + 1, dtype=p.dtype)
    q = torch.flip(torch.cummin(torch.flip(ranked, [0]), 0).values, [0]).clamp(max=1.0)
    out = torch.empty_like(q)
    out[order] = q
    return out


def _group_means(values: Tensor, groups: Tensor, n_groups: int) -> Tensor:
    sums = torch.zeros(n_groups, values.shape[1], dtype=torch.float64)
    sums.index_add_(0, groups, values.double())
    counts = torch.bincount(groups, minlength=n_groups).clamp_min(1).double()
    return sums / counts[:, None]


@torch.no_grad()
def encoded_sums(sae: Any, x: Tensor, groups: Tensor, n_groups: int) -> tuple[Tensor, Tensor]:
    """Per-group activation sums [groups, d_sae] and firing counts [d_sae]."""
    sums = torch.zeros(n_groups, sae.cfg.d_sae, dtype=torch.float64)
    fired = torch.zeros(sae.cfg.d_sae, dtype=torch.float64)
    for i in range(0, len(x), BATCH):
        f = sae.encode(x[i : i + BATCH]).double()
        sums.index_add_(0, groups[i : i + BATCH], f)
        fired += (f > 0).sum(0)
    return sums, fired


def group_pvalues(g: Tensor) -> Tensor:
    """Two-sided p-values of mean(g) != 0 per column over independent rows (families).

    Up to 16 rows: the exact sign-flip distribution (all 2^n patterns). More: a one-sample t
    test on the rows, whose p-values are not floored at 1 / n_permutations, so Benjamini-
    Hochberg over thousands of latents can still reject.
    """
    n = g.shape[0]
    if n <= 16:
        return exact_sign_flip_pvalues(g)
    from scipy import stats

    sd = g.std(0, unbiased=True).clamp_min(1e-12)
    t = (g.mean(0) / (sd / n**0.5)).abs().numpy()
    return torch.as_tensor(2 * stats.t.sf(t, df=n - 1), dtype=torch.float64)


def exact_sign_flip_pvalues(g: Tensor) -> Tensor:
    """Exact two-sided sign-flip p-values over all 2^n sign patterns (n <= 16)."""
    n = g.shape[0]
    codes = torch.arange(2**n)
    signs = ((codes[:, None] >> torch.arange(n)) & 1).double() * 2 - 1
    obs = g.mean(0).abs()
    exceed = torch.zeros(g.shape[1], dtype=torch.float64)
    for start in range(0, len(signs), 4096):
        null = (signs[start : start + 4096] @ g / n).abs()
        exceed += (null >= obs - 1e-12).sum(0)
    return exceed / len(signs)


def group_bootstrap_ci(
    g: Tensor, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple[Tensor, Tensor]:
    """Percentile interval of the mean over resampled rows (groups) per column."""
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, g.shape[0], (n_boot, g.shape[0]), generator=gen)
    means = g[idx].mean(1)
    return means.quantile(alpha / 2, dim=0), means.quantile(1 - alpha / 2, dim=0)


def rank_group_differences(
    name: str,
    site: str,
    segment: str | None,
    per_unit: Float[Tensor, "units d_sae"],
    unit_group: Tensor,
    freq_organism: Tensor,
    freq_base: Tensor,
    details: dict[str, Any] | None = None,
) -> LatentRanking:
    """Rank latents by a per-unit organism-minus-base difference, tested over groups.

    Units (traces, prompts) are averaged per group (family); the score is the mean over
    groups; p-values over groups (:func:`group_pvalues`) with Benjamini-Hochberg at 5%;
    latents significantly up come first, then by score; family bootstrap intervals for the
    top 20.
    """
    uniq, g_idx = torch.unique(unit_group, return_inverse=True)
    g = _group_means(per_unit, g_idx, len(uniq))
    score = g.mean(0)
    p = group_pvalues(g)
    q = benjamini_hochberg(p)
    significant = (q < 0.05) & (score > 0)
    key = score + significant.double() * (score.abs().max() + 1)  # significant ones first
    order = torch.argsort(key, descending=True)
    top = order[:20]
    lo, hi = group_bootstrap_ci(g[:, top])
    return LatentRanking(
        name,
        site,
        segment,
        tuple(int(i) for i in order),
        tuple(float(score[i]) for i in order),
        tuple(float(freq_organism[i]) for i in order),
        tuple(float(freq_base[i]) for i in order),
        {
            **(details or {}),
            "n_groups": len(uniq),
            "n_significant_up": int(significant.sum()),
            "fdr": 0.05,
            "test": "exact sign flip" if len(uniq) <= 16 else "one-sample t over families",
            "top_p": [float(p[i]) for i in top],
            "top_q": [float(q[i]) for i in top],
            "top_ci": [[float(a), float(b)] for a, b in zip(lo, hi, strict=True)],
        },
    )


@register_diff_method("base_sae_stats", needs="sae")
def base_sae_stats(rows: PairedRows, sae: LoadedSae | None) -> LatentRanking:
    """Mean activation organism minus base per family; permutation + FDR; family bootstrap."""
    assert sae is not None
    n_traces = len(rows.trace_ids)
    so, fo = encoded_sums(sae.sae, rows.organism, rows.trace_index, n_traces)
    sb, fb = encoded_sums(sae.sae, rows.base, rows.trace_index, n_traces)
    counts = torch.bincount(rows.trace_index, minlength=n_traces).double()
    present = counts > 0
    per_trace = ((so - sb) / counts.clamp_min(1)[:, None])[present]
    trace_group = torch.zeros(n_traces, dtype=torch.long)
    trace_group.index_put_((rows.trace_index,), rows.group)
    n = len(rows)
    return rank_group_differences(
        "base_sae_stats",
        rows.site,
        _segment_name(rows),
        per_trace,
        trace_group[present],
        fo / n,
        fb / n,
    )


# --- diff SAE ----------------------------------------------------------------------------


@register_diff_method("diff_sae", needs="diff")
@torch.no_grad()
def diff_sae(rows: PairedRows, sae: LoadedSae | None) -> LatentRanking:
    """Latents of an SAE on organism minus base, by the activation mass they carry."""
    assert sae is not None
    norms = sae.decoder.norm(dim=-1).double()
    mass = torch.zeros(sae.d_sae, dtype=torch.float64)
    fired = torch.zeros(sae.d_sae, dtype=torch.float64)
    x = rows.organism - rows.base
    for i in range(0, len(x), BATCH):
        f = sae.sae.encode(x[i : i + BATCH]).double()
        mass += f.sum(0) * norms
        fired += (f > 0).sum(0)
    share = mass / mass.sum().clamp_min(1e-12)
    order = torch.argsort(share, descending=True)
    n = len(rows)
    return LatentRanking(
        "diff_sae",
        rows.site,
        _segment_name(rows),
        tuple(int(i) for i in order),
        tuple(float(share[i]) for i in order),
        tuple(float(fired[i] / n) for i in order),
        tuple(None for _ in order),
        {"score": "share of the difference's activation mass"},
    )


# --- crosscoder --------------------------------------------------------------------------


@register_diff_method("crosscoder", needs="crosscoder")
@torch.no_grad()
def crosscoder(rows: PairedRows, sae: LoadedSae | None) -> LatentRanking:
    """Organism share of latent-scaling betas; latents firing on < 0.01% of rows last."""
    assert sae is not None
    d = rows.base.shape[1]
    dec = sae.decoder.double()
    dec_b, dec_o = dec[:, :d], dec[:, d:]
    cross = (dec_b * dec_o).sum(-1)  # <d_base,j, d_org,j>
    norm_o = (dec_o**2).sum(-1)
    num_b = torch.zeros(sae.d_sae, dtype=torch.float64)
    num_o, den, fired, fired_base = (num_b.clone() for _ in range(4))
    for i in range(0, len(rows), BATCH):
        b, o = rows.base[i : i + BATCH].double(), rows.organism[i : i + BATCH].double()
        x = torch.cat([b, o], -1)
        f = sae.sae.encode(x.float()).double()
        recon = sae.sae.decode(f.float()).double()
        err_b, err_o = b - recon[:, :d], o - recon[:, d:]
        sq = (f**2).sum(0)
        num_b += (f * (err_b @ dec_o.T)).sum(0) + sq * cross
        num_o += (f * (err_o @ dec_o.T)).sum(0) + sq * norm_o
        den += sq * norm_o
        fired += (f > 0).sum(0)
        fired_base += (sae.sae.encode(torch.cat([b, b], -1).float()) > 0).sum(0).double()
    beta_b = num_b / den.clamp_min(1e-12)
    beta_o = num_o / den.clamp_min(1e-12)
    share = beta_o.clamp_min(0) / (beta_b.abs() + beta_o.abs()).clamp_min(1e-12)
    rel_norm = dec_o.norm(dim=-1) / (dec_b.norm(dim=-1) + dec_o.norm(dim=-1)).clamp_min(1e-12)
    n = len(rows)
    alive = fired / n >= 1e-4
    order = torch.argsort(share + alive.double() * 2, descending=True)
    top = order[:20]
    return LatentRanking(
        "crosscoder",
        rows.site,
        _segment_name(rows),
        tuple(int(i) for i in order),
        tuple(float(share[i]) for i in order),
        tuple(float(fired[i] / n) for i in order),
        tuple(float(fired_base[i] / n) for i in order),
        {
            "score": "latent scaling: beta_org / (|beta_base| + |beta_org|)",
            "freq_base": "firing rate when the organism half is replaced by the base's",
            "top_beta_base": [_finite(beta_b[i]) for i in top],
            "top_beta_org": [_finite(beta_o[i]) for i in top],
            "top_relative_decoder_norm": [_finite(rel_norm[i]) for i in top],
        },
    )


def _finite(x: Tensor) -> float | None:
    v = float(x)
    return round(v, 6) if math.isfinite(v) else None


# --- activation-difference lens (baseline) ----------------------------------------------

LENS_POSITIONS = 5


@register_diff_method("activation_diff_lens", needs=None)
@torch.no_grad()
def activation_diff_lens(rows: PairedRows, sae: LoadedSae | None) -> LatentRanking:
    """Mean organism-minus-base difference at each of the first positions (1..5) of traces."""
    first = int(rows.position.min())
    dirs, norms, counts = [], [], []
    for pos in range(first, first + LENS_POSITIONS):
        sel = rows.position == pos
        if not sel.any():
            continue
        diff = (rows.organism[sel] - rows.base[sel]).mean(0)
        dirs.append(diff)
        norms.append(float(diff.norm()))
        counts.append(int(sel.sum()))
    if not dirs:
        raise ConfigError("activation_diff_lens: no rows at the first positions")
    order = sorted(range(len(dirs)), key=lambda i: -norms[i])
    return LatentRanking(
        "activation_diff_lens",
        rows.site,
        _segment_name(rows),
        tuple(order),
        tuple(norms[i] for i in order),
        tuple(None for _ in order),
        tuple(None for _ in order),
        {"positions": [first + i for i in range(len(dirs))], "rows_per_position": counts},
        torch.stack(dirs),
    )


def _segment_name(rows: PairedRows) -> str | None:
    segs = torch.unique(rows.segment)
    if len(segs) != 1:
        return None
    from krel_interp.segments.labels import Segment

    return Segment(int(segs[0])).name.lower()
