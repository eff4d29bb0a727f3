"""Feature cards as one self-contained HTML page: contexts, logit effects, histograms, rates."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from krel_interp.sae.cards import FeatureCard
from krel_interp.viz.html import write_page


def _context_html(ctx: dict[str, Any]) -> str:
    peak = max((a for a in ctx["acts"] if a > 0), default=1.0) or 1.0
    parts = []
    for i, (tok, act) in enumerate(zip(ctx["tokens"], ctx["acts"], strict=True)):
        alpha = max(0.0, min(1.0, act / peak))
        edge = "outline:1px solid #333;" if i == ctx["center"] else ""
        parts.append(
            f'<span title="{act:.2f}" style="background:rgba(230,126,34,{alpha:.2f});{edge}">'
            f"{html.escape(tok)}</span>"
        )
    head = f"<small>{html.escape(ctx['trace'])} · {ctx['segment']}</small>"
    return f'{head}<div class="trace">{"".join(parts)}</div>'


def _logits_table(up: Sequence[tuple[str, float]], down: Sequence[tuple[str, float]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(repr(a))}</td><td>{x:+.2f}</td>"
        f"<td>{html.escape(repr(b))}</td><td>{y:+.2f}</td></tr>"
        for (a, x), (b, y) in zip(up, down, strict=False)
    )
    return f"<table><tr><th>promotes</th><th></th><th>suppresses</th><th></th></tr>{rows}</table>"


def _rates_table(rates: dict[str, tuple[float, float]]) -> str:
    rows = "".join(
        f"<tr><td>{s}</td><td>{o:.3f}</td><td>{b:.3f}</td></tr>" for s, (o, b) in rates.items()
    )
    return f"<table><tr><th>segment</th><th>organism</th><th>base</th></tr>{rows}</table>"


def _histogram(card: FeatureCard) -> Any:
    import plotly.graph_objects as go

    signed = card.method == "activation_diff_lens"  # a projection, not a sparse activation
    fig = go.Figure()
    for name, values in (("organism", card.acts_organism), ("base", card.acts_base)):
        shown = values if signed else [v for v in values if v != 0]
        label = f"{name} (projection)" if signed else f"{name} (non-zero)"
        fig.add_trace(go.Histogram(x=shown, name=label, opacity=0.6, nbinsx=40))
    fig.update_layout(
        barmode="overlay",
        title=f"latent {card.latent}: activation on the same tokens",
        xaxis_title="activation",
        yaxis_title="rows",
        template="plotly_white",
        height=280,
    )
    return fig


def cards_page(path: str | Path, cards: Sequence[FeatureCard], title: str) -> Path:
    """Write the cards to one HTML page (plotly inlined once; works offline)."""
    from krel_interp.viz.html import figure_html

    sections = []
    for i, card in enumerate(cards):
        score = "" if card.score is None else f" · score {card.score:.4g}"
        contexts = "".join(_context_html(c) for c in card.contexts) or "<p>never fires</p>"
        lens = card.method == "activation_diff_lens"
        rates_title = "share of rows projecting > 0" if lens else "firing rate by segment"
        sections.append(
            f"<h2>{card.method} latent {card.latent}{score}</h2>"
            f"{figure_html(_histogram(card), include_js=i == 0)}"
            f"<div class='cols'><div><h4>logit effects (decoder through the unembedding)</h4>"
            f"{_logits_table(card.logits_up, card.logits_down)}</div>"
            f"<div><h4>{rates_title}</h4>{_rates_table(card.segment_rates)}</div></div>"
            f"<h4>top activating contexts (organism)</h4>{contexts}"
        )
    return write_page(path, title, [], sections)
