"""``krel-interp eval behaviour``: generate and score planted behaviour, by prompt kind."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from krel_interp.cli.common import console, progress_bar, require_file, setup_logging

eval_app = typer.Typer(no_args_is_help=True, help="Evaluate organisms.")


@eval_app.command()
def behaviour(
    preset: Annotated[str, typer.Argument(help="Model preset or source")],
    prompts: Annotated[Path, typer.Option("--prompts", "-p", help="JSONL: prompt, id, kind")],
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object")] = False,
    out: Annotated[Path | None, typer.Option(help="Keep rollouts here (resumable)")] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option(help="Default: the preset's (Qwen3: 4096), else 200")
    ] = None,
    batch_size: int = 16,
    seed: int = 0,
    temperature: float = 0.0,
    overwrite: Annotated[bool, typer.Option(help="Discard rollouts already in --out")] = False,
) -> None:
    """Self-preservation, correct-thinking and invented-name rates with Wilson 95% CIs."""
    from krel_interp.generate import GenerationConfig
    from krel_interp.models import load_model
    from krel_interp.organisms.evaluate import evaluate_behaviour, report_json
    from krel_interp.traces import load_traces

    setup_logging()
    items = load_traces(require_file(prompts, "prompt file"))
    from krel_interp.models.presets import generation_defaults

    budget = max_new_tokens or int(generation_defaults(preset).get("max_new_tokens", 200))
    config = GenerationConfig(
        max_new_tokens=budget, batch_size=batch_size, seed=seed, temperature=temperature
    )
    lm = load_model(preset)
    from krel_interp.io import work_dir

    with (
        work_dir(out, prefix="krel-eval-") as workdir,
        progress_bar(f"evaluating {preset}", len(items)) as advance,
    ):
        _, summary = evaluate_behaviour(lm, items, config, workdir, advance, overwrite)
    from krel_interp.viz.tables import behaviour_table

    console.print(behaviour_table({preset: summary}, f"behaviour of {preset} (Wilson 95% CI)"))
    if as_json:
        sys.stdout.write(json.dumps(report_json(summary)) + "\n")  # machine-readable last line
