"""Self-contained HTML pages: coloured traces and plotly figures (plotly.js inlined)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from krel_interp.segments.labels import Segment
from krel_interp.viz.colors import SEGMENT_COLORS, char_segments, runs

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}
.trace{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:13px;
 border:1px solid #ddd;border-radius:6px;padding:.8em;margin:.4em 0 1.2em}
.legend span{padding:2px 6px;margin-right:4px;border-radius:3px;color:#fff}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:1em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}
"""


def legend_html() -> str:
    """Colour legend of the segments."""
    items = "".join(
        f'<span style="background:{c}">{s.name.lower()}</span>' for s, c in SEGMENT_COLORS.items()
    )
    return f'<div class="legend">{items}</div>'


def trace_html(
    text: str, offsets: Sequence[Sequence[int]], segments: Sequence[int], title: str = ""
) -> str:
    """A trace as HTML with each segment in its colour."""
    labels = char_segments(text, [tuple(o) for o in offsets], list(segments))  # type: ignore[misc]
    spans = "".join(
        f'<span style="color:{SEGMENT_COLORS[Segment(seg)]}" title="{Segment(seg).name.lower()}">'
        f"{html.escape(chunk)}</span>"
        for seg, chunk in runs(text, labels)
    )
    head = f"<h4>{html.escape(title)}</h4>" if title else ""
    return f'{head}<div class="trace">{spans}</div>'


def figure_html(fig: Any, include_js: bool) -> str:
    """A plotly figure as an HTML fragment (plotly.js inlined once per page)."""
    return str(fig.to_html(full_html=False, include_plotlyjs="inline" if include_js else False))


def write_page(
    path: str | Path, title: str, figures: Sequence[Any], sections: Sequence[str]
) -> Path:
    """Write one self-contained HTML page (works offline) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figs = "".join(figure_html(f, i == 0) for i, f in enumerate(figures))
    body = f"<h1>{html.escape(title)}</h1>{figs}{legend_html()}{''.join(sections)}"
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


def side_by_side(
    left: Sequence[Any], right: Sequence[Any], names: tuple[str, str], tokenizer: Any
) -> list[str]:
    """Two columns of traces (same prompts), each coloured by segment."""
    from krel_interp.segments import segment_conversation

    sections = []
    for a, b in zip(left, right, strict=True):
        cols = []
        for name, trace in ((names[0], a), (names[1], b)):
            seg = segment_conversation(list(trace.messages), tokenizer)
            cols.append(
                trace_html(
                    seg.text, seg.offsets, seg.segments, title=f"{name} · status={seg.status.value}"
                )
            )
        kind = a.meta.get("kind", "")
        sections.append(
            f"<h3>{html.escape(str(a.id))} ({html.escape(str(kind))})</h3>"
            f"<div class='cols'><div>{cols[0]}</div><div>{cols[1]}</div></div>"
        )
    return sections
