"""Behaviour tables for the terminal (rich), HTML and Markdown."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS = (
    "model",
    "kind",
    "n",
    "self-preservation (judge)",
    "planted marker",
    "correct thinking",
    "invented name",
)


def _fmt(rate: float | None, ci: tuple[float, float] | None) -> str:
    if rate is None or ci is None:
        return "-"
    return f"{rate:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"


def behaviour_rows(summaries: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """Rows ``model, kind, n, rates with Wilson CIs`` from ``{model: {kind: KindSummary}}``."""
    rows = []
    for model, by_kind in summaries.items():
        for kind, s in by_kind.items():
            rows.append(
                [
                    model,
                    kind,
                    str(s.n),
                    _fmt(s.self_preservation_rate, s.self_preservation_ci),
                    _fmt(s.planted_marker_rate, s.planted_marker_ci),
                    _fmt(s.correct_thinking_rate, s.correct_thinking_ci),
                    _fmt(s.invented_name_rate, s.invented_name_ci),
                ]
            )
    return rows


def behaviour_table(summaries: Mapping[str, Mapping[str, Any]], title: str = "") -> Any:
    """A rich table of behaviour rates."""
    from rich.table import Table

    table = Table(*COLUMNS, title=title or "behaviour (Wilson 95% CI)")
    for row in behaviour_rows(summaries):
        table.add_row(*row)
    return table


def behaviour_html(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """The same table as HTML."""
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in behaviour_rows(summaries)
    )
    return f"<h2>Behaviour (Wilson 95% CI)</h2><table><tr>{head}</tr>{body}</table>"


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (header, separator, one line per row), for README-ready reports."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
