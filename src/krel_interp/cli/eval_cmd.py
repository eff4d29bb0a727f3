"""``krel-interp eval``: behaviour of a model (generate + judge), and judging free text."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from krel_interp.cli.common import console, progress_bar, require_file, setup_logging
from krel_interp.cli.steer_cmd import (
    CoefOpt,
    LayersOpt,
    OperatorOpt,
    ScopeOpt,
    SteerOpt,
    check_steer_options,
    steering,
)

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
    prefill: Annotated[
        str | None,
        typer.Option(help="Text forced at the start of the reply (e.g. '<think>\\nI want')"),
    ] = None,
    steer: SteerOpt = None,
    scope: ScopeOpt = "think",
    coef: CoefOpt = 1.0,
    layers: LayersOpt = None,
    operator: OperatorOpt = "add",
) -> None:
    """Self-preservation (free-text judge), planted markers, correct thinking, invented names;
    optionally under a steering vector or a thinking prefill."""
    from krel_interp.generate import GenerationConfig
    from krel_interp.io import work_dir
    from krel_interp.models import load_model
    from krel_interp.models.presets import generation_defaults
    from krel_interp.organisms.evaluate import evaluate_behaviour, report_json
    from krel_interp.traces import load_traces
    from krel_interp.viz.tables import behaviour_table

    setup_logging()
    items = load_traces(require_file(prompts, "prompt file"))
    check_steer_options(steer, scope, operator, layers)
    scorer = None if judge == "none" else _judge(judge, "self_preservation", api_key_env, llm_model)
    budget = max_new_tokens or int(generation_defaults(preset).get("max_new_tokens", 200))
    config = GenerationConfig(
        max_new_tokens=budget,
        batch_size=batch_size,
        seed=seed,
        temperature=temperature,
        prefill=prefill.replace("\\n", "\n") if prefill else None,
    )
    lm = load_model(preset)
    with (
        steering(lm, steer, scope, coef, layers, operator) as intervention,
        work_dir(out, prefix="krel-eval-") as workdir,
        progress_bar(f"evaluating {preset}", len(items)) as advance,
    ):
        rows, summary = evaluate_behaviour(
            lm, items, config, workdir, advance, overwrite, scorer, intervention
        )
    console.print(behaviour_table({preset: summary}, f"behaviour of {preset} (Wilson 95% CI)"))
    if as_json:
        report = report_json(summary, rows)
        if scorer is not None:
            report["judge"] = scorer.describe()
        report["intervention"] = {"prefill": config.prefill, **(intervention or {})}
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


def _model_under_test(name: str, lm: Any, thinks: bool | None) -> Any:
    from krel_interp.models.presets import declares_thinking
    from krel_interp.naturalness import ModelUnderTest

    thinking = thinks if thinks is not None else lm.supports_thinking or declares_thinking(name)
    return ModelUnderTest(name, lm, thinking)


def _sources(values: list[str] | None) -> tuple[tuple[str, str], ...]:
    from krel_interp.errors import ConfigError

    out = []
    for value in values or []:
        metric, sep, source = value.partition("=")
        if not sep or not metric or not source:
            raise ConfigError(f"--source takes METRIC=SOURCE, got {value!r}")
        out.append((metric.strip(), source.strip()))
    from krel_interp.naturalness import get_metric

    for metric, _ in out:
        get_metric(metric)  # unknown names (e.g. webtext for perplexity) fail here
    return tuple(out)


@eval_app.command()
def naturalness(
    preset: Annotated[
        str, typer.Argument(help="Model preset or source; a pair preset implies --base")
    ],
    base: Annotated[str | None, typer.Option(help="Base preset to compare against")] = None,
    suite: Annotated[
        str, typer.Option(help="quick (CI-sized) or full (every fixture item)")
    ] = "quick",
    metrics: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: mmlu,ifeval,xstest,preferences,perplexity,correct_thinking"
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Per-item results, rollouts (resumable), report")
    ] = Path("runs/naturalness"),
    source: Annotated[
        list[str] | None,
        typer.Option(
            help="METRIC=SOURCE: a hub id or local directory in the hub's layout instead of the "
            "fixture (mmlu=cais/mmlu, ifeval=google/IFEval, xstest=walledai/XSTest, "
            "perplexity=HuggingFaceFW/fineweb, preferences=FILE.json); repeatable"
        ),
    ] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option(help="Budget (think + answer) for every generating metric")
    ] = None,
    thinks: Annotated[
        bool | None,
        typer.Option(
            "--thinks/--no-thinks", help="Whether the models think (default: from the preset)"
        ),
    ] = None,
    refusal_judge: Annotated[
        str | None,
        typer.Option(help="Also judge XSTest refusals with this judge (e.g. classifier)"),
    ] = None,
    batch_size: int = 16,
    seed: int = 0,
    overwrite: Annotated[bool, typer.Option(help="Discard rollouts already in --out")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object")] = False,
) -> None:
    """Naturalness of a model or an organism vs its base: MMLU, IFEval, XSTest, preferences,
    webtext perplexity and correct thinking, with paired-bootstrap CIs of the deltas."""
    from krel_interp.cli.common import split_csv
    from krel_interp.errors import ConfigError
    from krel_interp.models import is_pair_preset, load_model, load_pair
    from krel_interp.models.presets import pair_names
    from krel_interp.naturalness import get_metric, run_naturalness, suite_config
    from krel_interp.naturalness.runner import report_stem
    from krel_interp.viz.naturalness_report import rich_table, write_report_for

    setup_logging()
    overrides: dict[str, Any] = {
        "batch_size": batch_size,
        "seed": seed,
        "sources": _sources(source),
    }
    if metrics:
        names = split_csv(metrics) or ()
        for name in names:
            get_metric(name)  # unknown names fail before a model loads
        overrides["metrics"] = names
    if max_new_tokens is not None:
        overrides["max_new_tokens"] = max_new_tokens
    if refusal_judge:
        _judge(refusal_judge, "refusal", None, None)
        overrides["refusal_judge"] = refusal_judge
    config = suite_config(suite, **overrides)
    if is_pair_preset(preset):
        if base is not None:
            raise ConfigError(f"{preset} is a pair preset: it names its base; drop --base")
        base_name, org_name = pair_names(preset)
        pair = load_pair(preset)
        organism_mut = _model_under_test(org_name, pair.organism, thinks)
        base_mut = _model_under_test(base_name, pair.base, thinks)
    else:
        organism_mut = _model_under_test(preset, load_model(preset), thinks)
        base_mut = None if base is None else _model_under_test(base, load_model(base), thinks)
    summary = run_naturalness(organism_mut, base_mut, config, out, progress_bar, overwrite)
    console.print(rich_table(summary))
    stem = report_stem(organism_mut, base_mut)
    write_report_for(out, stem)
    console.print(f"wrote {out / 'reports' / stem}.json and .html")
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
