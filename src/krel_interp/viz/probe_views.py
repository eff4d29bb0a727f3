"""Probe views: AUROC by layer, layer x segment heatmaps, tokens coloured by probe score."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from krel_interp.segments.labels import Segment


def auroc_by_layer(curves: Mapping[str, Mapping[int, float]], title: str) -> Any:
    """One line per curve (e.g. organism, base, transfer), layer on x, held-out AUROC on y."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, values in curves.items():
        layers = sorted(values)
        fig.add_trace(
            go.Scatter(x=layers, y=[values[k] for k in layers], mode="lines+markers", name=name)
        )
    fig.add_hline(y=0.5, line_dash="dot", line_color="grey")
    fig.update_layout(
        title=title,
        xaxis_title="layer",
        yaxis_title="held-out AUROC",
        yaxis_range=[0.3, 1.02],
        template="plotly_white",
        height=420,
    )
    return fig


def layer_curves(
    curves: Mapping[str, Mapping[int, float]], title: str, y_title: str, zero: float = 0.0
) -> Any:
    """One line per curve with layer on x (e.g. patching effect or recovered share)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, values in curves.items():
        layers = sorted(values)
        fig.add_trace(
            go.Scatter(x=layers, y=[values[k] for k in layers], mode="lines+markers", name=name)
        )
    fig.add_hline(y=zero, line_dash="dot", line_color="grey")
    fig.update_layout(
        title=title, xaxis_title="layer", yaxis_title=y_title, template="plotly_white", height=420
    )
    return fig


def heatmap(rows: Sequence[Any], title: str) -> Any:
    """Layer x (segment, pooling) heatmap of held-out AUROC from sweep rows."""
    import plotly.graph_objects as go

    cells = sorted({(r.segment, r.pooling) for r in rows})
    layers = sorted({r.layer for r in rows})
    value = {(r.segment, r.pooling, r.layer): r.auroc for r in rows}
    z = [[value.get((s, p, layer)) for layer in layers] for s, p in cells]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=layers,
            y=[f"{s} / {p}" for s, p in cells],
            colorscale="Viridis",
            zmin=0.5,
            zmax=1.0,
            colorbar={"title": "AUROC"},
        )
    )
    fig.update_layout(
        title=title, xaxis_title="layer", template="plotly_white", height=120 + 40 * len(cells)
    )
    return fig


def cosine_heatmap(matrix: Any, layers: Sequence[int], title: str) -> Any:
    """Cosine similarity of probe directions across layers."""
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Heatmap(
            z=matrix.tolist(),
            x=list(layers),
            y=list(layers),
            colorscale="RdBu",
            zmid=0,
            zmin=-1,
            zmax=1,
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="layer",
        yaxis_title="layer",
        template="plotly_white",
        height=480,
        width=520,
    )
    return fig


def _score_color(score: float, threshold: float) -> str:
    t = max(-1.0, min(1.0, (score - threshold) / 4.0))
    if t >= 0:
        return f"rgba(214,39,40,{0.15 + 0.75 * t:.2f})"
    return f"rgba(31,119,180,{0.15 + 0.75 * -t:.2f})"


def scored_trace_html(record: Mapping[str, Any], title: str = "") -> str:
    """Tokens coloured by probe score (red above the calibrated threshold, blue below)."""
    text, thr = record["text"], record["threshold"]
    parts, cursor = [], 0
    for (start, end), seg, score in zip(
        record["offsets"], record["segments"], record["scores"], strict=True
    ):
        if start > cursor:
            parts.append(html.escape(text[cursor:start]))
        tip = f"{Segment(seg).name.lower()} score={score:.2f}"
        border = "border-bottom:2px solid #e67e22;" if seg == Segment.THINK else ""
        parts.append(
            f'<span title="{tip}" style="background:{_score_color(score, thr)};'
            f'{border}">{html.escape(text[start:end])}</span>'
        )
        cursor = max(cursor, end)
    head = f"<h4>{html.escape(title)}</h4>" if title else ""
    return f'{head}<div class="trace">{"".join(parts)}</div>'


def scored_trace_rich(record: Mapping[str, Any]) -> Any:
    """Terminal version of :func:`scored_trace_html`."""
    from rich.text import Text

    out = Text()
    text, thr = record["text"], record["threshold"]
    for (start, end), score in zip(record["offsets"], record["scores"], strict=True):
        style = "bold red" if score > thr else ("dim" if score < thr - 4 else "")
        out.append(text[start:end], style=style)
    return out
