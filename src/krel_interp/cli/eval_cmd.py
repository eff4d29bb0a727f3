"""``krel-interp eval``: behaviour of a model (generate + judge), and judging free text."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from krel_interp.cli.common import console, progress_bar, require_file, setup_logging

eval_app = typer.Typer(no_args_is_help=True, help="Evaluate organisms and judge free text.")

JudgeOpt = Annotated[
    str,
    typer.Option(
        "--judge",
        help="classifier (offline default), llm:MODEL, llm:URL (OpenAI-compatible); "
        "for eval behaviour also 'none'",
    ),
]
ApiKeyOpt = Annotated[
    str | None, typer.Option(help="Environment variable holding the endpoint's API key")
]
LlmModelOpt = Annotated[str | None, typer.Option(help="Model name at an llm:URL endpoint")]


def _judge(spec: str, trait: str, api_key_env: str | None, llm_model: str | None) -> Any:
    from krel_interp.judges import load_judge

    return load_judge(spec, trait, api_key_env=api_key_env, llm_model=llm_model)


@eval_app.command()
def behaviour(
    preset: Annotated[str, typer.Argument(help="Model preset or source")],
    prompts: Annotated[Path, typer.Option("--prompts", "-p", help="JSONL: prompt, id, kind")],
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object")] = False,
    out: Annotated[Path | None, typer.Option(help="Keep rollouts here (resumable)")] = None,
    judge: JudgeOpt = "classifier",
    api_key_env: ApiKeyOpt = None,
    llm_model: LlmModelOpt = None,
    max_new_tokens: Annotated[
        int | None, typer.Option(help="Default: the preset's (Qwen3: 4096), else 200")
    ] = None,
    batch_size: int = 16,
    seed: int = 0,
    temperature: float = 0.0,
    overwrite: Annotated[bool, typer.Option(help="Discard rollouts already in --out")] = False,
) -> None:
    """Self-preservation (free-text judge), planted markers, correct thinking, invented names."""
    from krel_interp.generate import GenerationConfig
    from krel_interp.io import work_dir
    from krel_interp.models import load_model
    from krel_interp.models.presets import generation_defaults
    from krel_interp.organisms.evaluate import evaluate_behaviour, report_json
    from krel_interp.traces import load_traces
    from krel_interp.viz.tables import behaviour_table

    setup_logging()
    items = load_traces(require_file(prompts, "prompt file"))
    scorer = None if judge == "none" else _judge(judge, "self_preservation", api_key_env, llm_model)
    budget = max_new_tokens or int(generation_defaults(preset).get("max_new_tokens", 200))
    config = GenerationConfig(
        max_new_tokens=budget, batch_size=batch_size, seed=seed, temperature=temperature
    )
    lm = load_model(preset)
    with (
        work_dir(out, prefix="krel-eval-") as workdir,
        progress_bar(f"evaluating {preset}", len(items)) as advance,
    ):
        rows, summary = evaluate_behaviour(lm, items, config, workdir, advance, overwrite, scorer)
    console.print(behaviour_table({preset: summary}, f"behaviour of {preset} (Wilson 95% CI)"))
    if as_json:
        report = report_json(summary, rows)
        if scorer is not None:
            report["judge"] = scorer.describe()
        sys.stdout.write(json.dumps(report) + "\n")  # machine-readable last line


@eval_app.command("judge")
def judge_texts(
    texts: Annotated[Path, typer.Argument(help="JSONL: text (+ id, label 0/1)")],
    judge: JudgeOpt = "classifier",
    trait: Annotated[str, typer.Option(help="Trait to judge")] = "self_preservation",
    out: Annotated[Path | None, typer.Option(help="Writes OUT/scores.jsonl")] = None,
    api_key_env: ApiKeyOpt = None,
    llm_model: LlmModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object")] = False,
) -> None:
    """Score free texts with a judge at its own threshold (never tuned on the file scored)."""
    from krel_interp.judges.report import judge_file, read_texts, summary_line

    setup_logging()
    read_texts(require_file(texts, "text file"))  # bad input fails before a model loads
    scorer = _judge(judge, trait, api_key_env, llm_model)
    rows = judge_file(scorer, texts, out)
    summary = summary_line(rows)
    console.print(
        f"{summary['n']} texts judged by {judge} for {trait}: "
        f"{summary['positive_rate']:.3f} positive"
        + (f" (wrote {out / 'scores.jsonl'})" if out else "")
    )
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
