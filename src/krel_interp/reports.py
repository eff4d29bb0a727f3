"""End-to-end pages: rollouts -> capture -> per-layer norms by segment -> one HTML file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from krel_interp.capture import ActivationStore, CaptureConfig, capture_traces
from krel_interp.capture.runner import Progress
from krel_interp.capture.stats import segment_norms, site_layers
from krel_interp.generate import GenerationConfig, generate_traces
from krel_interp.models.loading import LoadedModel
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
