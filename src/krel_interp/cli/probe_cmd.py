"""``krel-interp probe``: train, sweep, score and evaluate linear probes."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from krel_interp.cli.common import (
    cache_dir_for_run,
    console,
    progress_bar,
    require_file,
    setup_logging,
    split_csv,
)

if TYPE_CHECKING:
    from krel_interp.probes.artifact import ProbeArtifact

probe_app = typer.Typer(no_args_is_help=True, help="Linear probes on captured activations.")
WorkdirOpt = Annotated[Path | None, typer.Option(help="Rollouts + store cache (resumable)")]
OverwriteOpt = Annotated[
    bool, typer.Option(help="Discard rollouts and activations already in the work directory")
]


def sentence_rule(config: Any) -> Any:
    """The sentence rule a probe config names (None for trace targets)."""
    from krel_interp.errors import ConfigError

    if config.target != "sentence":
        return None
    if config.sentence_rule == "krel_mini_planted":
        from krel_interp.organisms.markers import has_self_preservation

        return has_self_preservation
    raise ConfigError(f"unknown sentence rule {config.sentence_rule!r}; valid: krel_mini_planted")


def _workdir(config_name: str, workdir: Path | None, overwrite: bool = False) -> Path:
    return cache_dir_for_run(workdir or Path("runs") / "probes" / config_name, overwrite)


def _prepare(
    config_path: Path, workdir: Path | None, overwrite: bool = False
) -> tuple[Any, Any, Path]:
    from krel_interp.models import load_model
    from krel_interp.probes.config import load_probe_config

    setup_logging()
    config = load_probe_config(require_file(config_path, "probe config"))
    require_file(Path(config.prompts), "prompt file")
    return config, load_model(config.model), _workdir(config.name, workdir, overwrite)


@probe_app.command()
def train(
    config_path: Annotated[Path, typer.Argument(help="Probe config (TOML)")],
    out: Annotated[Path, typer.Option(help="Where probes are written")] = Path("probes"),
    workdir: WorkdirOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Generate, capture, fit on training families, evaluate held out, save the probe."""
    from krel_interp.probes.workflow import label_fn
    from krel_interp.probes.workflow import train as train_probe
    from krel_interp.traces import load_traces

    config, lm, work = _prepare(config_path, workdir, overwrite)
    n = len(load_traces(config.prompts))
    with progress_bar(f"rollouts ({config.model})", n) as advance:
        label = label_fn(config, sentence_rule(config))
        result, path = train_probe(config, lm, work, out, progress=advance, label=label)
    _layer_table(result, config.name)
    best = result.best_layer
    console.print(
        f"layer {best.layer} (chosen by CV on the training side, l2 {result.l2:g}): held-out "
        f"AUROC {best.auroc:.3f} [{result.best_auroc_ci[0]:.3f}, {result.best_auroc_ci[1]:.3f}], "
        f"recall@{config.fpr:.0%}FPR {best.recall_at_fpr:.3f}; saved {path}"
    )
    if result.baselines:
        console.print(
            "baselines (held-out AUROC): "
            + ", ".join(f"{k} {b.auroc:.3f}" for k, b in sorted(result.baselines.items()))
        )


def _layer_table(result: Any, title: str) -> None:
    from rich.table import Table

    table = Table(
        "layer",
        "CV AUROC (train side)",
        "held-out AUROC [95% CI]",
        "accuracy",
        "recall@FPR",
        "threshold",
        title=f"{title}: held-out families (n_test={result.n_test}); bold = chosen by CV",
    )
    for m in result.layers:
        style = "bold" if m is result.best_layer else ""
        table.add_row(
            str(m.layer),
            f"{m.cv_auroc:.3f}",
            f"{m.auroc:.3f} [{m.ci[0]:.2f}, {m.ci[1]:.2f}]",
            f"{m.accuracy:.3f}",
            f"{m.recall_at_fpr:.3f}",
            f"{m.threshold:.2f}",
            style=style,
        )
    console.print(table)


@probe_app.command()
def sweep(
    config_path: Annotated[Path, typer.Argument(help="Probe config (TOML)")],
    segments: str = "think,answer,prompt,last_prompt",
    poolings: str = "segment_mean,sentence_mean,token,last",
    html: Annotated[Path | None, typer.Option(help="Write a heatmap page")] = None,
    workdir: WorkdirOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Held-out AUROC over layer x segment x pooling (one capture serves every cell)."""
    from rich.table import Table

    from krel_interp.probes.workflow import label_fn, rollouts, token_store
    from krel_interp.probes.workflow import sweep as run_sweep
    from krel_interp.traces import load_traces

    config, lm, work = _prepare(config_path, workdir, overwrite)
    prompts = load_traces(config.prompts)
    with progress_bar(f"rollouts ({config.model})", len(prompts)) as advance:
        traces = rollouts(lm, prompts, config, work, advance)
    store = token_store(lm, traces, config, work / "store")
    label = label_fn(config, sentence_rule(config))
    rows = run_sweep(store, config, split_csv(segments) or (), split_csv(poolings) or (), label)
    table = Table(
        "segment",
        "pooling",
        "best layer",
        "AUROC",
        "recall@FPR",
        "n_test",
        title=f"sweep {config.name}",
    )
    for key in dict.fromkeys((r.segment, r.pooling) for r in rows):
        best = max((r for r in rows if (r.segment, r.pooling) == key), key=lambda r: r.auroc)
        table.add_row(
            *key,
            str(best.layer),
            f"{best.auroc:.3f}",
            f"{best.recall_at_fpr:.3f}",
            str(best.n_test),
        )
    console.print(table)
    if html:
        from krel_interp.viz.html import write_page
        from krel_interp.viz.probe_views import heatmap

        write_page(html, f"probe sweep: {config.name}", [heatmap(rows, config.name)], [])
        console.print(f"heatmap: {html}")


def _artifact_and_model(probe_path: Path) -> tuple[ProbeArtifact, Any]:
    from krel_interp.models import load_model
    from krel_interp.probes.artifact import load_probe

    artifact = load_probe(probe_path)
    lm = load_model(artifact.meta["config"]["model"])
    artifact.check_model(lm.fingerprint)
    return artifact, lm


def _capture_for(artifact: ProbeArtifact, lm: Any, traces: list, work: Path) -> Any:
    from krel_interp.probes.config import ProbeConfig
    from krel_interp.probes.workflow import token_store

    config = ProbeConfig(**artifact.meta["config"])
    return token_store(lm, traces, config, work / "store")


@probe_app.command()
def score(
    probe_path: Annotated[Path, typer.Argument(help="Probe (.json or .safetensors)")],
    traces_path: Annotated[Path, typer.Argument(help="Traces JSONL (with completions)")],
    out: Annotated[Path, typer.Option(help="Per-token scores (JSONL)")],
    html: Annotated[Path | None, typer.Option(help="Coloured traces page")] = None,
    layer: int | None = None,
) -> None:
    """Per-token probe scores over traces (localisation)."""
    from krel_interp.probes.workflow import token_scores
    from krel_interp.traces import load_traces

    setup_logging()
    traces = load_traces(require_file(traces_path, "trace file"))
    artifact, lm = _artifact_and_model(probe_path)
    with tempfile.TemporaryDirectory(prefix="krel-score-") as tmp:
        store = _capture_for(artifact, lm, traces, Path(tmp))
        records = token_scores(artifact, store, layer)
    tmp_out = out.with_name(f".{out.name}.tmp")
    tmp_out.write_text("".join(json.dumps(r) + "\n" for r in records))
    tmp_out.replace(out)
    console.print(f"scores of {len(records)} traces written to {out}")
    if html:
        from krel_interp.viz.html import write_page
        from krel_interp.viz.probe_views import scored_trace_html

        write_page(
            html,
            f"probe {artifact.meta['name']} scores",
            [],
            [scored_trace_html(r, title=r["id"]) for r in records],
        )


@probe_app.command("eval")
def evaluate(
    probe_path: Annotated[Path, typer.Argument(help="Probe (.json or .safetensors)")],
    store: Annotated[Path | None, typer.Option(help="Token-level store")] = None,
    prompts: Annotated[Path | None, typer.Option(help="JSONL: prompt, label 0/1")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    layer: int | None = None,
    workdir: WorkdirOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """AUROC, bootstrap CI and recall at the calibrated 1%-FPR threshold on new data."""
    from krel_interp.capture import ActivationStore
    from krel_interp.errors import ConfigError
    from krel_interp.probes.workflow import evaluate_store, input_embedding

    setup_logging()
    if (store is None) == (prompts is None):
        raise ConfigError("give exactly one of --store or --prompts")
    if store is not None:
        from krel_interp.models import Fingerprint
        from krel_interp.probes.artifact import load_probe

        artifact = load_probe(probe_path)
        data = ActivationStore(require_file(store, "store"))
        artifact.check_model(Fingerprint.from_dict(data.header["fingerprint"]))
        embedding = None
        if "embed" in artifact.baselines:
            from krel_interp.models import load_model

            embedding = input_embedding(load_model(artifact.meta["config"]["model"]))
        result = evaluate_store(artifact, data, layer=layer, embedding=embedding)
    else:
        from krel_interp.io import work_dir

        kept = cache_dir_for_run(workdir, overwrite) if workdir else None
        with work_dir(kept, prefix="krel-probe-eval-") as work:
            data, artifact, lm = _generate_and_capture(probe_path, prompts, work)  # type: ignore[arg-type]
            result = evaluate_store(artifact, data, layer=layer, embedding=input_embedding(lm))
    console.print(
        f"n={result['n']} layer={result['layer']} AUROC {result['auroc']:.3f} "
        f"[{result['auroc_ci'][0]:.3f}, {result['auroc_ci'][1]:.3f}] "
        f"recall@1%FPR {result['recall_at_1pct_fpr']:.3f}"
    )
    if result["baselines"]:
        console.print(
            "baselines (AUROC): "
            + ", ".join(f"{k} {v:.3f}" for k, v in sorted(result["baselines"].items()))
        )
    if as_json:
        keys = ("n", "layer", "auroc", "auroc_ci", "recall_at_1pct_fpr", "baselines")
        sys.stdout.write(json.dumps({k: result[k] for k in keys}) + "\n")


def _generate_and_capture(
    probe_path: Path,
    prompts: Path,
    work: Path,
) -> tuple[Any, ProbeArtifact, Any]:
    from krel_interp.probes.config import ProbeConfig
    from krel_interp.probes.workflow import rollouts
    from krel_interp.traces import load_traces

    items = load_traces(require_file(prompts, "prompt file"))
    _check_labels(items, prompts)
    artifact, lm = _artifact_and_model(probe_path)
    config = ProbeConfig(**artifact.meta["config"])
    with progress_bar(f"rollouts ({config.model})", len(items)) as advance:
        traces = rollouts(lm, items, config, work, advance)
    return _capture_for(artifact, lm, traces, work), artifact, lm


def _check_labels(items: list, path: Path) -> None:
    from krel_interp.errors import InputFileError

    for i, t in enumerate(items, 1):
        if t.meta.get("label") not in (0, 1, True, False):
            raise InputFileError(f"{path}:{i}: needs a 0/1 'label' field")
