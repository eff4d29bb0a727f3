"""``krel-interp patch``: activation patching from source prompts into target prompts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from krel_interp.cli.common import console, progress_bar, require_file, setup_logging, split_csv

PositionOpt = Annotated[str, typer.Option(help="last | after:TEXT | find:TEXT | slot:NAME")]


def patch(
    model: Annotated[str, typer.Argument(help="Preset or source (a pair preset: its organism)")],
    source_prompts: Annotated[Path, typer.Option(help="JSONL: the runs activations come from")],
    target_prompts: Annotated[Path, typer.Option(help="JSONL: line i is patched from source i")],
    answer: Annotated[list[str], typer.Option(help="Answer token(s) whose log-prob is read")],
    sites: Annotated[str, typer.Option(help="Hook kinds, comma separated")] = "hook_resid_post",
    layers: Annotated[str, typer.Option(help="all | 5 | 0,4,8 | 10-20")] = "all",
    source_position: Annotated[
        str, typer.Option(help="last | after:TEXT | find:TEXT | slot:NAME")
    ] = "last",
    target_position: Annotated[str, typer.Option(help="Position written in the target")] = "last",
    prefill: Annotated[str, typer.Option(help="Text forced at the start of the reply")] = "",
    metric: Annotated[
        str, typer.Option(help="next-token: log P(answer) at the last position")
    ] = "next-token",
    out: Annotated[
        Path | None, typer.Option(help="Writes OUT/cases.jsonl and OUT/patch.json")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object")] = False,
) -> None:
    """Copy activations from source runs into target runs, site by site, and read the change
    in the answer's log-probability (one forward per case for every site)."""
    from krel_interp.capture.config import CaptureConfig
    from krel_interp.capture.runner import resolve_sites
    from krel_interp.errors import ConfigError
    from krel_interp.interventions import build_cases, patch_cases, summarise_patch
    from krel_interp.io import write_json_atomic, write_jsonl_atomic
    from krel_interp.models import load_model
    from krel_interp.models.presets import get_preset, is_pair_preset
    from krel_interp.traces import load_traces

    setup_logging()
    if metric != "next-token":
        raise ConfigError(f"unknown metric {metric!r}; valid: next-token")
    sources = load_traces(require_file(source_prompts, "source prompt file"))
    targets = load_traces(require_file(target_prompts, "target prompt file"))
    if is_pair_preset(model):
        pair = get_preset(model).pair
        assert pair is not None
        lm = load_model(pair.organism)
    else:
        lm = load_model(model)
    config = CaptureConfig(sites=split_csv(sites) or ("hook_resid_post",), layers=layers)
    site_list = resolve_sites(config, lm.n_layers)
    cases = build_cases(lm, sources, targets, answer, prefill, source_position, target_position)
    with progress_bar(f"patching {len(site_list)} sites", len(cases)) as advance:
        result = patch_cases(lm, cases, site_list, advance)
    summary = {"model": model, "answer": list(answer), **summarise_patch(result)}
    if out is not None:
        rows = [
            {"case": c.id, "site": s, "effect": round(float(result.effect[i, k]), 5)}
            for i, c in enumerate(cases)
            for k, s in enumerate(result.sites)
        ]
        write_jsonl_atomic(out / "cases.jsonl", rows)
        write_json_atomic(out / "patch.json", summary)
    best = max(summary["sites"].items(), key=lambda kv: abs(kv[1]["mean_effect"]))
    console.print(
        f"{len(cases)} cases; clean target {summary['clean_target']:.3f}, source "
        f"{summary['clean_source']:.3f} nats; largest effect at {best[0]}: "
        f"{best[1]['mean_effect']:+.3f} (recovery {best[1]['mean_recovery']:.2f})"
    )
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
