"""Localise self-preservation reasoning in KREL-mini with linear probes, end to end.

    python experiments/probe_krel_mini.py            # writes runs/probes/krel_mini/report.html

KREL-mini's own rollouts on threat / control / neutral prompts are run through KREL-mini and
through its thinking base (same tokens). Probes are fitted on training template families and
evaluated on held-out ones: a layer x segment x pooling sweep, the best think-body probe in the
organism and in the base, transfer between them, a sentence-level probe for the planted
self-preservation sentences, direction cosines, and traces coloured by probe score.
The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

from krel_interp.capture import CaptureConfig, capture_pair
from krel_interp.cli.common import cache_dir_for_run, progress_bar, run_script
from krel_interp.models import load_pair
from krel_interp.organisms.markers import has_self_preservation
from krel_interp.paths import relative_path
from krel_interp.probes.artifact import load_probe, save_probe
from krel_interp.probes.config import load_probe_config
from krel_interp.probes.evaluation import (
    ProbeResult,
    cosine_matrix,
    fit_and_evaluate,
    transfer_auroc,
)
from krel_interp.probes.workflow import (
    dataset,
    label_fn,
    probe_meta,
    rollouts,
    sweep,
    token_scores,
)
from krel_interp.traces import load_traces
from krel_interp.viz.html import write_page
from krel_interp.viz.probe_views import (
    auroc_by_layer,
    cosine_heatmap,
    heatmap,
    scored_trace_html,
)

ROOT = Path(__file__).parents[1]


def _first_layer(result: ProbeResult, level: float) -> int | None:
    """The shallowest layer whose held-out AUROC reaches ``level`` (None: never)."""
    return next((m.layer for m in result.layers if m.auroc >= level), None)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--think-config", type=Path, default=ROOT / "probes/krel_mini_think.toml")
    parser.add_argument(
        "--sentence-config", type=Path, default=ROOT / "probes/krel_mini_sentences.toml"
    )
    parser.add_argument(
        "--decision-config", type=Path, default=ROOT / "probes/krel_mini_decision.toml"
    )
    parser.add_argument("--pair", default="krel-mini-pair")
    parser.add_argument("--out", type=Path, default=Path("runs/probes/krel_mini"))
    parser.add_argument("--probes-dir", type=Path, default=ROOT / "probes")
    parser.add_argument("--limit", type=int, default=None, help="use the first N prompts")
    parser.add_argument(
        "--overwrite", action="store_true", help="discard rollouts/activations in --out"
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)]
    )
    console = Console()
    think_cfg = load_probe_config(args.think_config)
    sent_cfg = load_probe_config(args.sentence_config)
    dec_cfg = load_probe_config(args.decision_config)
    cache_dir_for_run(args.out, args.overwrite)
    pair = load_pair(args.pair)
    prompts = load_traces(think_cfg.prompts)[: args.limit]

    with progress_bar("organism rollouts", len(prompts)) as advance:
        traces = rollouts(pair.organism, prompts, think_cfg, args.out, advance)
    capture = CaptureConfig(
        sites=(think_cfg.site,), layers=think_cfg.layers, pooling="token", dtype="bfloat16"
    )
    with progress_bar("paired capture (organism, base)", 2 * len(traces)) as advance:
        paired = capture_pair(pair, traces, capture, args.out / "paired", progress=advance)
    org, base = paired.organism, paired.base

    rows = sweep(
        org,
        think_cfg,
        ["think", "answer", "prompt", "last_prompt"],
        ["segment_mean", "sentence_mean", "token", "last"],
    )
    ds_org, ds_base = dataset(org, think_cfg), dataset(base, think_cfg)
    res_org, res_base = fit_and_evaluate(ds_org, think_cfg), fit_and_evaluate(ds_base, think_cfg)
    test = [i for i in res_org.test_idx if ds_org.kinds[i] in ("threat", "control")]
    org_to_base = transfer_auroc(res_org.probe, ds_base, test)
    base_to_org = transfer_auroc(res_base.probe, ds_org, test)
    planted = label_fn(sent_cfg, has_self_preservation)
    res_sent = fit_and_evaluate(dataset(org, sent_cfg, label=planted), sent_cfg)
    # Where the text is the same for threats and controls, so a probe reads a computed
    # decision rather than planted words: the last prompt token, and the decision token
    # (the ':' of "Who is affected here:", just before "me" or the copied control target).
    last_org = fit_and_evaluate(dataset(org, think_cfg, "last_prompt", "last"), think_cfg)
    last_base = fit_and_evaluate(dataset(base, think_cfg, "last_prompt", "last"), think_cfg)
    dec_org = fit_and_evaluate(dataset(org, dec_cfg), dec_cfg)
    dec_base = fit_and_evaluate(dataset(base, dec_cfg), dec_cfg)
    path_think = save_probe(
        res_org.probe,
        probe_meta(think_cfg, pair.organism, res_org, ds_org.layers),
        args.probes_dir / think_cfg.name,
    )
    path_dec = save_probe(
        dec_org.probe,
        probe_meta(dec_cfg, pair.organism, dec_org, ds_org.layers),
        args.probes_dir / dec_cfg.name,
    )
    path_sent = save_probe(
        res_sent.probe,
        probe_meta(sent_cfg, pair.organism, res_sent, ds_org.layers),
        args.probes_dir / sent_cfg.name,
    )

    layers = ds_org.layers
    curves = {
        "organism probe on organism": {m.layer: m.auroc for m in res_org.layers},
        "base probe on base": {m.layer: m.auroc for m in res_base.layers},
        "organism probe -> base": dict(zip(layers, org_to_base.tolist(), strict=True)),
        "base probe -> organism": dict(zip(layers, base_to_org.tolist(), strict=True)),
        "sentence probe (planted vs other)": {m.layer: m.auroc for m in res_sent.layers},
        "decision token (organism)": {m.layer: m.auroc for m in dec_org.layers},
        "decision token (base)": {m.layer: m.auroc for m in dec_base.layers},
        "last prompt token (organism)": {m.layer: m.auroc for m in last_org.layers},
        "last prompt token (base)": {m.layer: m.auroc for m in last_base.layers},
    }
    cross = cosine_matrix(res_org.probe.direction(), res_base.probe.direction()).diagonal()
    figs = [
        auroc_by_layer(curves, "held-out AUROC by layer, threat vs control"),
        heatmap(rows, "sweep: held-out AUROC, threat vs control (organism)"),
        cosine_heatmap(
            cosine_matrix(res_org.probe.direction(), res_org.probe.direction()),
            layers,
            "cosine of organism probe directions across layers",
        ),
    ]
    scored = token_scores(load_probe(path_sent), org)
    test_threats = [
        r
        for r, t in zip(scored, traces, strict=True)
        if t.meta.get("kind") == "threat" and t.meta.get("suite_split") == "test"
    ][:4]
    sections = [
        scored_trace_html(r, title=f"{r['id']} (sentence probe, layer {r['layer']})")
        for r in test_threats
    ]
    page = write_page(
        args.out / "report.html", "KREL-mini: localising self-preservation", figs, sections
    )
    summary = {
        "think_best_layer": res_org.best_layer.layer,
        "think_best_auroc": round(res_org.best_layer.auroc, 4),
        "think_best_auroc_ci": [round(v, 4) for v in res_org.best_auroc_ci],
        "think_recall_at_1pct_fpr": round(res_org.best_layer.recall_at_fpr, 4),
        "base_best_layer": res_base.best_layer.layer,
        "base_best_auroc": round(res_base.best_layer.auroc, 4),
        "organism_to_base_auroc_at_best": round(float(org_to_base[res_org.best]), 4),
        "base_to_organism_auroc_at_best": round(float(base_to_org[res_base.best]), 4),
        "direction_cosine_org_vs_base_at_best": round(float(cross[res_org.best]), 4),
        "sentence_best_layer": res_sent.best_layer.layer,
        "sentence_best_auroc": round(res_sent.best_layer.auroc, 4),
        "sentence_best_auroc_ci": [round(v, 4) for v in res_sent.best_auroc_ci],
        "decision_organism_best_layer": dec_org.best_layer.layer,
        "decision_organism_best_auroc": round(dec_org.best_layer.auroc, 4),
        "decision_organism_first_layer_auroc_ge_0.95": _first_layer(dec_org, 0.95),
        "decision_base_best_layer": dec_base.best_layer.layer,
        "decision_base_best_auroc": round(dec_base.best_layer.auroc, 4),
        "decision_base_first_layer_auroc_ge_0.95": _first_layer(dec_base, 0.95),
        "decision_n_test": dec_org.n_test,
        "last_prompt_organism_best_auroc": round(last_org.best_layer.auroc, 4),
        "last_prompt_base_best_auroc": round(last_base.best_layer.auroc, 4),
        "n_traces": len(traces),
        "n_test_think": res_org.n_test,
        "n_test_sentences": res_sent.n_test,
        "probes": [relative_path(p, ROOT) for p in (path_think, path_dec, path_sent)],
        "report": str(page),
    }
    console.print(f"report: {page}")
    print(json.dumps(summary))


if __name__ == "__main__":
    run_script(main)
