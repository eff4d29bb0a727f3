"""Building steering vectors, one registered method each.

Every method captures the residual stream (``hook_resid_post``) of the traces it is given at
the chosen layers, restricted to one segment, with the project's capture code, and returns a
raw direction per layer; the artifact stores it as a unit direction plus the mean token norm
of the model's residual stream at that layer (the unit of ``coef``).

* ``caa``: contrastive mean difference, positive minus negative traces (``meta.label`` 1/0),
  think-aware: with ``segment="think"`` only think tokens count. CAA-style pairs share the
  prompt and differ in the completion (a motive in the think vs none).
* ``persona``: ``caa`` over the same prompts under two system prompts (persona vectors); the
  contrast traces are made by :func:`persona_traces`.
* ``diff``: organism minus base mean over identical tokens (needs a pair).
* ``probe``: a trained probe's weight mapped back from standardised to raw activation space
  (``w / scale``), so adding it moves the probe's score.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from krel_interp.capture import CaptureConfig, capture_traces
from krel_interp.capture.runner import traces_hash
from krel_interp.capture.sites import parse_layers
from krel_interp.errors import ConfigError
from krel_interp.io import Progress
from krel_interp.models.loading import LoadedModel
from krel_interp.segments.labels import Segment
from krel_interp.steering.vector import SITE, SteeringVector, unit_rows
from krel_interp.traces import Trace


@dataclass(frozen=True)
class BuildConfig:
    """How a vector is built: method, layers, the segment whose tokens count, batching."""

    method: str = "caa"
    layers: str = "all"
    segment: str = "think"
    batch_size: int = 8
    max_tokens: int = 1024

    def __post_init__(self) -> None:
        Segment.parse(self.segment)
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}; valid: {', '.join(METHODS)}")


@dataclass(frozen=True)
class TokenMeans:
    """Per-trace mean activation over the segment's tokens, and the mean token norm."""

    means: Float[Tensor, "traces layers d_model"]
    present: list[bool]  # trace had tokens in the segment
    mean_norms: tuple[float, ...]


def token_means(
    lm: LoadedModel,
    traces: Sequence[Trace],
    layers: list[int],
    config: BuildConfig,
    workdir: Path,
    progress: Progress | None = None,
) -> TokenMeans:
    """Capture the segment's tokens at ``layers`` and average them per trace."""
    capture = CaptureConfig(
        layers=",".join(map(str, layers)),
        segments=(config.segment,),
        pooling="token",
        dtype="float32",
        batch_size=config.batch_size,
        max_tokens=config.max_tokens,
    )
    store = capture_traces(lm, traces, capture, workdir, progress=progress)
    index = store.column("trace_index")
    means = torch.zeros(len(traces), len(layers), lm.d_model)
    norms = []
    counts = torch.bincount(index, minlength=len(traces)).float()
    for k, layer in enumerate(layers):
        x = store.get(f"blocks.{layer}.{SITE}", dtype=torch.float32)
        sums = torch.zeros(len(traces), x.shape[1]).index_add_(0, index, x)
        means[:, k] = sums / counts.clamp(min=1)[:, None]
        norms.append(float(x.norm(dim=-1).mean()) if len(x) else float("nan"))
    return TokenMeans(means, [bool(c > 0) for c in counts], tuple(norms))


def _labels(traces: Sequence[Trace]) -> list[int]:
    labels = []
    for t in traces:
        value = t.meta.get("label")
        if value not in (0, 1, True, False, "0", "1"):
            raise ConfigError(f"trace {t.id} needs meta label 0 or 1 for a contrast")
        labels.append(int(value))
    if len(set(labels)) < 2:
        raise ConfigError("a contrast needs traces labelled 1 and traces labelled 0")
    return labels


def contrast(
    lm: LoadedModel,
    traces: Sequence[Trace],
    layers: list[int],
    config: BuildConfig,
    workdir: Path,
    progress: Progress | None = None,
    **_: Any,
) -> tuple[Tensor, tuple[float, ...], dict[str, Any]]:
    """Mean over positive traces minus mean over negative ones (``caa`` and ``persona``)."""
    labels = _labels(traces)
    tm = token_means(lm, traces, layers, config, workdir, progress)
    pos = [i for i, y in enumerate(labels) if y == 1 and tm.present[i]]
    neg = [i for i, y in enumerate(labels) if y == 0 and tm.present[i]]
    if not pos or not neg:
        raise ConfigError(f"no {config.segment} tokens on one side of the contrast")
    raw = tm.means[pos].mean(0) - tm.means[neg].mean(0)
    info = {
        "n_positive": len(pos),
        "n_negative": len(neg),
        "dropped": len(traces) - len(pos) - len(neg),
    }
    return raw, tm.mean_norms, info


Method = Callable[..., tuple[Tensor, tuple[float, ...], dict[str, Any]]]
METHODS: dict[str, Method] = {}


def register_method(name: str) -> Callable[[Method], Method]:
    """Decorator: a vector-building method under ``name``."""

    def wrap(fn: Method) -> Method:
        METHODS[name] = fn
        return fn

    return wrap


register_method("caa")(contrast)
register_method("persona")(contrast)  # the same contrast, over system-prompt pairs


@register_method("diff")
def _diff(
    lm: LoadedModel,
    traces: Sequence[Trace],
    layers: list[int],
    config: BuildConfig,
    workdir: Path,
    progress: Progress | None = None,
    base: LoadedModel | None = None,
    **_: Any,
) -> tuple[Tensor, tuple[float, ...], dict[str, Any]]:
    if base is None:
        raise ConfigError("method diff needs a pair (organism and base)")
    lm.fingerprint.check_tokens_compatible(base.fingerprint, "base and organism")
    org = token_means(lm, traces, layers, config, workdir / "organism", progress)
    ref = token_means(base, traces, layers, config, workdir / "base", progress)
    keep = [i for i, (a, b) in enumerate(zip(org.present, ref.present, strict=True)) if a and b]
    if not keep:
        raise ConfigError(f"no {config.segment} tokens in the traces")
    raw = org.means[keep].mean(0) - ref.means[keep].mean(0)
    return raw, org.mean_norms, {"n_traces": len(keep), "base": base.fingerprint.to_dict()}


@register_method("probe")
def _probe(
    lm: LoadedModel,
    traces: Sequence[Trace],
    layers: list[int],
    config: BuildConfig,
    workdir: Path,
    progress: Progress | None = None,
    probe: str | None = None,
    **_: Any,
) -> tuple[Tensor, tuple[float, ...], dict[str, Any]]:
    from krel_interp.probes.artifact import load_probe

    if probe is None:
        raise ConfigError("method probe needs --probe PATH")
    artifact = load_probe(probe)
    site = artifact.meta.get("config", {}).get("site")
    if site != SITE:
        raise ConfigError(f"the probe reads {site}; steering vectors are applied at {SITE}")
    notes = artifact.check_model(lm.fingerprint, allow_other_weights=True)
    missing = [x for x in layers if x not in artifact.layers]
    if missing:
        raise ConfigError(f"the probe has no layer(s) {missing}; it has {artifact.layers}")
    rows = [artifact.layers.index(x) for x in layers]
    raw = artifact.probe.weight[rows] / artifact.probe.scale[rows]  # standardised -> raw space
    norms = token_means(lm, traces, layers, config, workdir, progress).mean_norms
    return raw, norms, {"probe": str(probe), "probe_notes": notes}


def build_vector(
    lm: LoadedModel,
    traces: Sequence[Trace],
    config: BuildConfig,
    *,
    workdir: Path | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> SteeringVector:
    """Build a vector by ``config.method`` on ``lm`` from ``traces`` (see the module doc)."""
    layers = parse_layers(config.layers, lm.n_layers)
    with tempfile.TemporaryDirectory(prefix="krel-steer-") as tmp:
        work = workdir or Path(tmp)
        raw, norms, info = METHODS[config.method](
            lm, traces, layers, config, work, progress, **options
        )
    meta = {
        "method": config.method,
        "config": asdict(config),
        "fingerprint": lm.fingerprint.to_dict(),
        "data_hash": traces_hash(traces),
        "n_traces": len(traces),
        "raw_norms": [float(x) for x in raw.norm(dim=-1)],
        **info,
    }
    return SteeringVector(unit_rows(raw.float()), tuple(layers), norms, meta)


def persona_traces(prompts: Sequence[Trace], positive: str, negative: str) -> list[Trace]:
    """Each prompt under a positive and a negative system prompt (labels 1 / 0)."""
    out = []
    for t in prompts:
        user = [m for m in t.prompt_messages if m["role"] != "system"]
        for label, system in ((1, positive), (0, negative)):
            out.append(
                Trace(
                    f"{t.id}:{label}",
                    ({"role": "system", "content": system}, *user),
                    {"label": label},
                )
            )
    return out


def random_like(vector: SteeringVector, seed: int = 0) -> SteeringVector:
    """A seeded random direction per layer with ``vector``'s layers, norms and model: the
    control every steering result needs beside it (same dose, no learned direction)."""
    g = torch.Generator().manual_seed(seed)
    raw = torch.randn(len(vector.layers), vector.d_model, generator=g)
    meta = {
        "method": "random",
        "seed": seed,
        "control_for": vector.meta.get("vector_id") or vector.meta.get("data_hash"),
        "fingerprint": vector.meta["fingerprint"],
    }
    return SteeringVector(unit_rows(raw), vector.layers, vector.mean_norms, meta)
