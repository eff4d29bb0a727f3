"""The naturalness table (terminal and HTML) of one organism against its base."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ORDER = (
    "mmlu",
    "mmlu_generated",
    "ifeval_prompt_strict",
    "ifeval_prompt_loose",
    "ifeval_inst_strict",
    "ifeval_inst_loose",
    "xstest_over_refusal",
    "xstest_unsafe_refusal",
    "xstest_over_refusal_judge",
    "decisiveness",
    "preference_holdout_accuracy",
    "intransitive_share",
    "perplexity",
    "correct_thinking",
)


def _num(x: Any) -> str:
    return "—" if x is None else f"{x:.3f}"


def _ci(ci: Any) -> str:
    return "" if not ci or ci[0] is None else f" [{ci[0]:.3f}, {ci[1]:.3f}]"


def table_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """``[metric, organism (CI), base, delta (CI)]`` rows in a fixed order."""
    metrics = summary["metrics"]
    names = [n for n in ORDER if n in metrics] + [n for n in metrics if n not in ORDER]
    rows = []
    for name in names:
        m = metrics[name]
        delta = _num(m["delta"]) + _ci(m["delta_ci"])
        if "ratio" in m:
            delta += f"; ratio {_num(m['ratio'])}{_ci(m.get('ratio_ci'))}"
        rows.append(
            [name, _num(m["value"]) + _ci(m["ci"]), _num(m["base_value"]), delta, str(m["n"])]
        )
    return rows


def rich_table(summary: Mapping[str, Any]) -> Any:
    """A rich table for the terminal."""
    from rich.table import Table

    base = summary["base"] or "—"
    table = Table(title=f"naturalness of {summary['preset']} vs {base} (95% CI, paired bootstrap)")
    for col in ("metric", summary["preset"], base, "delta (organism - base)", "n"):
        table.add_column(col)
    for row in table_rows(summary):
        table.add_row(*row)
    return table


def _figure(summary: Mapping[str, Any]) -> Any:
    import plotly.graph_objects as go

    names = [n for n in ORDER if n in summary["metrics"] and n != "perplexity"]
    deltas, lo, hi = [], [], []
    for n in names:
        m = summary["metrics"][n]
        d = m["delta"]
        deltas.append(d)
        ci = m["delta_ci"] or [d, d]
        lo.append(None if d is None or ci[0] is None else d - ci[0])
        hi.append(None if d is None or ci[1] is None else ci[1] - d)
    fig = go.Figure(
        go.Bar(
            x=names,
            y=deltas,
            error_y={"type": "data", "array": hi, "arrayminus": lo},
            marker_color="#4c78a8",
        )
    )
    fig.update_layout(
        title=f"{summary['preset']} minus {summary['base']} (95% paired-bootstrap CI)",
        yaxis_title="delta",
        height=420,
    )
    return fig


def write_report(path: Path, summary: Mapping[str, Any], details: Mapping[str, Any]) -> Path:
    """One self-contained HTML page: delta chart (with a base), the table, provenance."""
    from krel_interp.viz.html import write_page

    head = ["metric", summary["preset"], summary["base"] or "—", "delta (organism - base)", "n"]
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in table_rows(summary)
    )
    table = (
        "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
        f"{cells}</table>"
    )
    notes = "".join(
        f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>"
        for k, v in details["info"].items()
    )
    figures = [_figure(summary)] if summary["base"] else []
    return write_page(
        path,
        f"naturalness: {summary['preset']}",
        figures,
        [table, f"<h2>provenance</h2><ul>{notes}</ul>"],
    )


def write_report_for(out: Path, stem: str) -> Path:
    """Draw ``out/reports/STEM.html`` from the run's ``STEM.json``."""
    import json

    details = json.loads((out / "reports" / f"{stem}.json").read_text())
    summary = {k: details[k] for k in ("preset", "base", "suite", "metrics")}
    return write_report(out / "reports" / f"{stem}.html", summary, details)
