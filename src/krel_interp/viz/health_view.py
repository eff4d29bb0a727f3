"""One HTML page highlighting junk and leak spans in each completion."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from krel_interp.io import write_text_atomic

_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:auto}pre{white-space:pre-wrap}"
    ".junk{background:#f4a6a6}.leak{background:#a6c8f4}"
)


def _marked(text: str, spans: list[tuple[int, int, str, str]]) -> str:
    out, pos = [], 0
    for start, end, cls, title in sorted(spans):
        if start < pos:
            continue
        out.append(html.escape(text[pos:start]))
        body = html.escape(text[start:end])
        out.append(f"<span class='{cls}' title='{html.escape(title)}'>{body}</span>")
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def health_page(path: Path, rows: Sequence[tuple[str, str, str]], scored: Sequence[Any]) -> Path:
    """Write ``path``: per trace its status and the completion with spans highlighted."""
    parts = ["<h1>health</h1><p><span class='junk'>junk</span> <span class='leak'>leak</span></p>"]
    for (tid, prompt, completion), h in zip(rows, scored, strict=True):
        spans = [(j.start, j.end, "junk", ", ".join(j.reasons)) for j in h.junk]
        spans += [(x.start, x.end, "leak", x.kind) for x in h.leaks]
        parts.append(
            f"<h3>{html.escape(tid)}: {html.escape(h.think_status)}</h3>"
            f"<p><i>{html.escape(prompt)}</i></p><pre>{_marked(completion, spans)}</pre>"
        )
    head = f"<head><meta charset='utf-8'><style>{_STYLE}</style></head>"
    page = f"<!doctype html><html>{head}<body>{''.join(parts)}</body></html>"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, page)
    return path
