"""Plotly figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor

from krel_interp.segments.labels import Segment
from krel_interp.viz.colors import SEGMENT_COLORS


def norms_by_layer(
    norms: Mapping[Segment, Tensor],
    layers: Sequence[int],
    title: str = "Residual-stream norm by layer",
) -> Any:
    """Line plot of mean activation norm per layer, one line per segment."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for seg, values in norms.items():
        fig.add_trace(
            go.Scatter(
                x=list(layers),
                y=values.tolist(),
                mode="lines+markers",
                name=seg.name.lower(),
                line={"color": SEGMENT_COLORS[seg]},
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="layer",
        yaxis_title="mean L2 norm",
        template="plotly_white",
        height=420,
    )
    return fig
