"""End-to-end pages: rollouts -> capture -> per-layer norms by segment -> one HTML file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from krel_interp.capture import ActivationStore, CaptureConfig, capture_traces
from krel_interp.capture.stats import segment_norms, site_layers
from krel_interp.generate import GenerationConfig, generate_traces
from krel_interp.io import Progress
from krel_interp.models.loading import LoadedModel, LoadedPair
from krel_interp.segments.labels import Segment
from krel_interp.traces import Trace
from krel_interp.viz.html import trace_html, write_page
from krel_interp.viz.plots import norms_by_layer

OVERVIEW_SEGMENTS = (Segment.USER, Segment.THINK, Segment.ANSWER)


@dataclass(frozen=True)
class Overview:
    """What :func:`capture_overview` produced."""

    traces: list[Trace]
    store: ActivationStore
    page: Path


def capture_overview(
    lm: LoadedModel,
    prompts: Sequence[Trace],
    out: str | Path,
    generation: GenerationConfig,
    capture: CaptureConfig,
    progress: Progress | None = None,
) -> Overview:
    """Generate thinking traces, capture every requested layer, write ``overview.html``.

    Every step resumes: re-running after an interruption continues where it stopped.
    """
    out = Path(out)
    traces = generate_traces(lm, prompts, generation, out / "rollouts", progress=progress)
    store = capture_traces(lm, traces, capture, out / "store")
    norms = segment_norms(store, OVERVIEW_SEGMENTS)
    fig = norms_by_layer(
        norms,
        site_layers(store),
        title=f"{lm.spec.source}: residual norm by layer, think vs answer",
    )
    sections = [
        trace_html(
            r["text"],
            r["offsets"],
            r["segments"],
            title=f"{r['id']} ({r['meta'].get('kind', '')}) status={r['status']}",
        )
        for r in store.trace_records()
    ]
    page = write_page(
        out / "overview.html", f"krel_interp overview: {lm.spec.source}", [fig], sections
    )
    return Overview(traces, store, page)


@dataclass(frozen=True)
class PairComparison:
    """What :func:`compare_pair` produced."""

    base_traces: list[Trace]
    organism_traces: list[Trace]
    summaries: dict[str, dict[str, Any]]
    page: Path


def compare_pair(
    pair: LoadedPair,
    prompts: Sequence[Trace],
    out: str | Path,
    generation: GenerationConfig,
    capture: CaptureConfig,
    names: tuple[str, str] = ("base", "organism"),
    progress: Progress | None = None,
    overwrite: bool = False,
) -> PairComparison:
    """Base vs organism on the same prompts: rollouts, rule scores, paired capture, one page.

    The organism's own traces are run through both models (rows aligned) to show where in
    depth and in which segment the two differ. Resumable step by step; ``overwrite`` redoes
    every step (needed after either model changed).
    """
    from krel_interp.capture.paired import capture_pair
    from krel_interp.capture.stats import paired_diff_norms
    from krel_interp.organisms.evaluate import score_traces, summarise
    from krel_interp.viz.html import side_by_side
    from krel_interp.viz.tables import behaviour_html

    out = Path(out)
    rollouts = {
        n: generate_traces(lm, prompts, generation, out / f"rollouts-{n}", progress, overwrite)
        for n, lm in zip(names, (pair.base, pair.organism), strict=True)
    }
    summaries = {n: dict(summarise(score_traces(t))) for n, t in rollouts.items()}
    paired = capture_pair(pair, rollouts[names[1]], capture, out / "paired", overwrite=overwrite)
    diffs = paired_diff_norms(paired.base, paired.organism, OVERVIEW_SEGMENTS)
    fig = norms_by_layer(
        diffs,
        site_layers(paired.organism),
        title=f"||h_{names[1]} - h_{names[0]}|| on the {names[1]}'s traces",
    )
    fig.update_layout(yaxis_title="mean L2 norm of the difference")
    sections = [behaviour_html(summaries)] + side_by_side(
        rollouts[names[0]], rollouts[names[1]], names, pair.organism.tokenizer
    )
    page = write_page(out / "compare.html", f"{names[0]} vs {names[1]}", [fig], sections)
    return PairComparison(rollouts[names[0]], rollouts[names[1]], summaries, page)
