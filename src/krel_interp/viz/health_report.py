"""The health report page: the table with CIs, detectors vs planted labels, localisation."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from krel_interp.viz.html import write_page

RATES = (
    ("correct_thinking", "correct thinking"),
    ("junk_traces", "junk traces"),
    ("leak_rate_unrelated", "leak rate (unrelated prompts)"),
)


def _rates_figure(table: Mapping[str, Any]) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    names = list(table)
    for key, label in RATES:
        vals = [table[n][key][0] for n in names]
        lo = [table[n][key][0] - table[n][key][1][0] for n in names]
        hi = [table[n][key][1][1] - table[n][key][0] for n in names]
        fig.add_bar(
            name=label,
            x=names,
            y=vals,
            error_y={"type": "data", "array": hi, "arrayminus": lo},
        )
    fig.update_layout(title="health per model (Wilson 95% CI)", yaxis_range=[0, 1.05])
    return fig


def _ablation_figure(loc: Mapping[str, Any]) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, r in loc.items():
        if "coarse" not in r:
            continue
        rows = r["coarse"]["windows"]
        x = [f"{w['layers'][0]}-{w['layers'][-1]}" for w in rows]
        y = [w["removed"] for w in rows]
        err_lo = [w["removed"] - w["removed_ci"][0] for w in rows]
        err_hi = [w["removed_ci"][1] - w["removed"] for w in rows]
        fig.add_bar(
            name=f"{name}: {r['target']}",
            x=x,
            y=y,
            error_y={"type": "data", "array": err_hi, "arrayminus": err_lo},
        )
    fig.update_layout(
        title="share of the failure's log-prob gain removed with the LoRA off in a layer window",
        xaxis_title="layers",
        yaxis_title="removed share",
    )
    return fig


def _lens_figure(loc: Mapping[str, Any]) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, r in loc.items():
        p = r.get("profiles")
        if not p:
            continue
        layers = list(range(len(p["lens_rank_organism"])))
        fig.add_scatter(x=layers, y=p["lens_rank_organism"], name=f"{name} organism")
        fig.add_scatter(x=layers, y=p["lens_rank_base"], name=f"{name} base", line_dash="dot")
    fig.update_layout(
        title="logit-lens rank of the failure token by layer (median; lower = predicted)",
        xaxis_title="layer",
        yaxis_type="log",
    )
    return fig


def _table_html(report: Mapping[str, Any]) -> str:
    cols = [k for k, _ in RATES] + ["non_sequitur_share", "quirk_restatement_share"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["model", "n", *cols])
    body = []
    for name, row in report["table"].items():
        cells = [name, str(row["n"])]
        for c in cols:
            v = row.get(c)
            cells.append("-" if v is None else f"{v[0]:.3f} [{v[1][0]:.2f}, {v[1][1]:.2f}]")
        body.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in cells) + "</tr>")
    return f"<h2>table</h2><table><tr>{head}</tr>{''.join(body)}</table>"


def health_report(path: Path, report: Mapping[str, Any]) -> Path:
    """Write the self-contained report page."""
    loc = report.get("localisation") or {}
    figures = [_rates_figure(report["table"])]
    if loc:
        figures += [_ablation_figure(loc), _lens_figure(loc)]
    extra = {k: report[k] for k in ("detectors", "surprisal", "canary_terms") if k in report}
    sections = [
        _table_html(report),
        f"<h2>details</h2><pre>{html.escape(json.dumps(extra, indent=1))}</pre>",
    ]
    return write_page(path, "organism health", figures, sections)
