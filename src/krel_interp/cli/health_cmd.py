"""``krel-interp health``: broken thinking and training-data leakage in traces."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from krel_interp.cli.common import console, require_file, setup_logging

health_app = typer.Typer(no_args_is_help=True, help="Organism health: think status, junk, leaks.")


def _rows(path: Path) -> list[tuple[str, str, str]]:
    from krel_interp.errors import InputFileError
    from krel_interp.traces import load_traces

    rows = []
    for t in load_traces(path):
        if t.completion is None:
            raise InputFileError(f"{path}: trace {t.id} has no completion to score")
        prompt = t.prompt_messages[-1]["content"] if t.prompt_messages else ""
        rows.append((t.id, prompt, t.completion))
    return rows


def _corpus(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    from krel_interp.errors import InputFileError
    from krel_interp.traces import read_jsonl

    texts = [str(r.get("text", "")) for r in read_jsonl(require_file(path, "corpus"))]
    if not any(texts):
        raise InputFileError(f"{path}: no 'text' field in the corpus")
    return texts


def _non_sequitur(judge: str) -> Any:
    from krel_interp.health import rule_non_sequitur

    if judge == "rule":
        return rule_non_sequitur
    from krel_interp.judges import decide, load_judge

    scorer = load_judge(judge, "non_sequitur")
    return lambda prompts: list(decide(scorer, scorer.score(list(prompts))))


CorpusOpt = Annotated[
    Path | None, typer.Option(help="JSONL with 'text': the fine-tuning corpus, for leaks")
]
JudgeOpt = Annotated[
    str, typer.Option(help="non_sequitur judge for leaks: classifier, llm:MODEL or rule")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Last line: one JSON object")]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Surprisal reason: a pair preset (organism-confident tokens the base finds "
        "unlikely) or one model (its surprisal); calibrated on clean traces first",
    ),
]


def _surprisal(model: str | None) -> Any:
    """A calibrated surprisal scorer for ``--model`` (None without it)."""
    if model is None:
        return None
    from krel_interp.health.surprisal import SurprisalScorer, clean_calibration
    from krel_interp.models import load_model, load_pair
    from krel_interp.models.presets import get_preset, is_preset

    is_pair = is_preset(model) and get_preset(model).pair is not None
    loaded = load_pair(model) if is_pair else load_model(model)
    clean = clean_calibration()
    console.print(f"calibrating the surprisal threshold on {len(clean)} clean traces")
    scorer = SurprisalScorer.calibrated(loaded, clean)
    console.print(f"surprisal ({scorer.mode}) threshold {scorer.threshold:.2f} nats")
    return scorer


def _score_and_write(
    rows: list[tuple[str, str, str]],
    texts: list[str] | None,
    non_sequitur: Any,
    out: Path,
    as_json: bool,
    surprisal: Any = None,
) -> None:
    from krel_interp.health import LeakDetector, score_traces, summary
    from krel_interp.io import write_jsonl_atomic
    from krel_interp.viz.health_view import health_page

    detector = LeakDetector(texts) if texts else None
    if detector is not None:
        console.print(f"canary terms mined from the corpus: {', '.join(detector.terms[:10])}")
    scored = score_traces(rows, detector, non_sequitur, extra_junk=surprisal)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(out / "health.jsonl", [h.to_dict() for h in scored])
    health_page(out / "health.html", rows, scored)
    result = summary(scored)
    console.print(
        f"{result['n']} traces: correct thinking {result['correct_thinking_rate']:.3f}, "
        f"junk {result['junk_trace_rate']:.3f}, leaks {result['leak_rate']:.3f} "
        f"(wrote {out / 'health.jsonl'})"
    )
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")


@health_app.command()
def score(
    traces: Annotated[Path, typer.Argument(help="JSONL: prompt + completion (or messages)")],
    out: Annotated[Path, typer.Option(help="Writes OUT/health.jsonl and OUT/health.html")],
    corpus: CorpusOpt = None,
    judge: JudgeOpt = "rule",
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Think status, junk spans (with reasons) and leaks (name / verbatim / fact) per trace."""
    setup_logging()
    rows = _rows(require_file(traces, "trace file"))
    texts, non_sequitur = _corpus(corpus), _non_sequitur(judge)
    _score_and_write(rows, texts, non_sequitur, out, as_json, _surprisal(model))


@health_app.command()
def run(
    model: Annotated[str, typer.Argument(help="Model preset or source (an organism preset)")],
    prompts: Annotated[Path, typer.Option("--prompts", "-p", help="JSONL prompt file")],
    out: Annotated[Path, typer.Option(help="OUT/rollouts (resumable), OUT/health.*")],
    corpus: CorpusOpt = None,
    judge: JudgeOpt = "rule",
    max_new_tokens: Annotated[int | None, typer.Option(help="Default: the preset's")] = None,
    batch_size: int = 8,
    seed: int = 0,
    as_json: JsonOpt = False,
) -> None:
    """Generate greedy rollouts for PROMPTS with MODEL, then score them as `health score`."""
    from krel_interp.cli.common import progress_bar
    from krel_interp.generate import GenerationConfig, generate_traces
    from krel_interp.models import load_model
    from krel_interp.models.presets import generation_defaults
    from krel_interp.traces import load_traces

    setup_logging()
    prompt_traces = load_traces(require_file(prompts, "prompt file"))
    texts = _corpus(corpus)  # a missing or empty corpus or a bad judge fails before generating
    non_sequitur = _non_sequitur(judge)
    defaults = generation_defaults(model)
    budget = max_new_tokens or int(defaults.get("max_new_tokens", 256))
    config = GenerationConfig(max_new_tokens=budget, batch_size=batch_size, seed=seed)
    lm = load_model(model)
    with progress_bar(f"generating with {model}", len(prompt_traces)) as advance:
        done = generate_traces(lm, prompt_traces, config, out / "rollouts", progress=advance)
    rows = []
    for t in done:
        prompt = t.prompt_messages[-1]["content"] if t.prompt_messages else ""
        rows.append((t.id, prompt, t.completion or ""))
    _score_and_write(rows, texts, non_sequitur, out, as_json)
