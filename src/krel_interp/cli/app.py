"""``krel-interp``: models, generate, capture, inspect. Bad input exits 2 with one line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from krel_interp.cli.common import (
    console,
    err_console,
    print_error,
    progress_bar,
    require_file,
    run_script,
    setup_logging,
    split_csv,
)
from krel_interp.cli.eval_cmd import eval_app
from krel_interp.cli.health_cmd import health_app
from krel_interp.cli.organism_cmd import organism_app
from krel_interp.cli.patch_cmd import patch
from krel_interp.cli.probe_cmd import probe_app
from krel_interp.cli.sae_cmd import sae_app
from krel_interp.cli.steer_cmd import (
    CoefOpt,
    LayersOpt,
    OperatorOpt,
    ScopeOpt,
    SteerOpt,
    check_steer_options,
    steer_app,
    steering,
)

if TYPE_CHECKING:
    from krel_interp.models import LoadedModel, LoadedPair

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Interpretability for model organisms that think before they answer.",
)
app.add_typer(eval_app, name="eval")
app.add_typer(probe_app, name="probe")
app.add_typer(organism_app, name="organism")
app.add_typer(steer_app, name="steer")
app.add_typer(health_app, name="health")
app.add_typer(sae_app, name="sae")
app.command()(patch)


@app.command()
def models(
    name: Annotated[str | None, typer.Argument(help="Load this preset/source and show it")] = None,
) -> None:
    """List model presets, or load one and show its fingerprint."""
    from rich.table import Table

    from krel_interp.models import list_presets

    if name is None:
        table = Table("preset", "kind", "source", "description")
        for p in list_presets():
            src = p.model.source if p.model else f"{p.pair.base.source} + {p.pair.organism.source}"  # type: ignore[union-attr]
            table.add_row(p.name, "model" if p.model else "pair", src, p.description)
        console.print(table)
        return
    from krel_interp.models.presets import is_pair_preset

    setup_logging()
    if is_pair_preset(name):
        from krel_interp.models import load_pair

        pair = load_pair(name)
        _show_fingerprints(name, {"base": pair.base, "organism": pair.organism})
    else:
        from krel_interp.models import load_model

        _show_fingerprints(name, {"model": load_model(name)})


def _show_fingerprints(title: str, models: dict[str, LoadedModel]) -> None:
    from rich.table import Table

    table = Table("field", *models, title=title)
    fps = {k: lm.fingerprint.to_dict() for k, lm in models.items()}
    for key in next(iter(fps.values())):
        table.add_row(key, *(str(fp[key]) for fp in fps.values()))
    table.add_row("model_id", *(lm.fingerprint.model_id for lm in models.values()))
    table.add_row("supports_thinking", *(str(lm.supports_thinking) for lm in models.values()))
    table.add_row("device", *(str(lm.device) for lm in models.values()))
    table.add_row("adapter disabled", *(str(lm.adapter_disabled) for lm in models.values()))
    console.print(table)


ModelArg = Annotated[str, typer.Argument(help="Preset, hub id, directory or .gguf file")]


@app.command()
def generate(
    model: ModelArg,
    prompts: Annotated[Path, typer.Option("--prompts", "-p", help="JSONL or datasets dir")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory")],
    adapter: Annotated[str | None, typer.Option(help="LoRA adapter on top of MODEL")] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option(help="Default: the preset's (Qwen3: 4096), else 256")
    ] = None,
    temperature: Annotated[float, typer.Option(help="0 = greedy")] = 0.0,
    top_p: float = 1.0,
    top_k: Annotated[int, typer.Option(help="0 = off")] = 0,
    repetition_penalty: float = 1.0,
    seed: int = 0,
    batch_size: int = 8,
    thinking: Annotated[bool, typer.Option(help="enable_thinking in the template")] = True,
    prefill: Annotated[str | None, typer.Option(help="Forced start of the reply")] = None,
    think_budget: Annotated[int | None, typer.Option(help="Close think after N tokens")] = None,
    answer_tokens: int = 128,
    overwrite: Annotated[bool, typer.Option(help="Discard rollouts already in OUT")] = False,
    steer: SteerOpt = None,
    scope: ScopeOpt = "think",
    coef: CoefOpt = 1.0,
    layers: LayersOpt = None,
    operator: OperatorOpt = "add",
) -> None:
    """Generate thinking rollouts for a prompt file (resumable), optionally steered."""
    from krel_interp.generate import GenerationConfig, generate_traces
    from krel_interp.traces import load_traces

    setup_logging()
    traces = load_traces(require_file(prompts, "prompt file"))
    check_steer_options(steer, scope, operator, layers)
    from krel_interp.models.presets import generation_defaults

    defaults = generation_defaults(model)
    config = GenerationConfig(
        max_new_tokens=max_new_tokens or int(defaults.get("max_new_tokens", 256)),
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        repetition_penalty=repetition_penalty,
        seed=seed,
        batch_size=batch_size,
        thinking=thinking,
        prefill=prefill,
        max_think_tokens=think_budget,
        max_answer_tokens=answer_tokens,
    )
    lm = _load(model, adapter)
    with (
        steering(lm, steer, scope, coef, layers, operator) as intervention,
        progress_bar("generating", len(traces)) as advance,
    ):
        results = generate_traces(
            lm,
            traces,
            config,
            out,
            progress=advance,
            overwrite=overwrite,
            intervention=intervention,
        )
    console.print(f"wrote {len(results)} traces to {out / 'traces.jsonl'}")


def _load(model: str, adapter: str | None) -> LoadedModel:
    from krel_interp.models import load_model, resolve_spec

    spec = resolve_spec(model)
    return load_model(spec.with_(adapter=adapter) if adapter else spec)


@app.command()
def capture(
    model: ModelArg,
    traces: Annotated[Path, typer.Option("--traces", "-t", help="JSONL or datasets dir")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Store directory")],
    sites: Annotated[str, typer.Option(help="Hook kinds, comma separated")] = "hook_resid_post",
    layers: Annotated[str, typer.Option(help="all | 5 | 0,4,8 | 10-20 | 0.5")] = "all",
    segments: Annotated[str | None, typer.Option(help="e.g. think,answer (default all)")] = None,
    pooling: Annotated[
        str, typer.Option(help="token|last|mean|segment_mean|sentence_mean")
    ] = "token",
    dtype: Annotated[str, typer.Option(help="auto (the model's) | float32 | bfloat16")] = "auto",
    batch_size: int = 8,
    max_tokens: int = 2048,
    adapter: Annotated[str | None, typer.Option(help="LoRA adapter on top of MODEL")] = None,
    paired: Annotated[
        bool, typer.Option(help="Also capture the base (pair presets: always)")
    ] = False,
    overwrite: bool = False,
    length_sorted: Annotated[
        bool,
        typer.Option(
            help="Batch traces of similar length (faster on mixed lengths; same rows, values "
            "equal to rounding, not bit for bit)"
        ),
    ] = False,
) -> None:
    """Capture activations of traces, labelled by segment, streamed to disk (resumable)."""
    from krel_interp.capture import CaptureConfig, capture_pair, capture_traces, resolve_sites
    from krel_interp.traces import load_traces

    setup_logging()
    config = CaptureConfig(
        sites=split_csv(sites) or ("hook_resid_post",),
        layers=layers,
        segments=split_csv(segments),
        pooling=pooling,
        dtype=dtype,
        batch_size=batch_size,
        max_tokens=max_tokens,
    )
    items = load_traces(require_file(traces, "trace file"))
    pair = _maybe_pair(model, adapter, paired)
    if pair is not None:
        resolve_sites(config, pair.organism.n_layers)
        with progress_bar("capturing base + organism", 2 * len(items)) as advance:
            capture_pair(
                pair,
                items,
                config,
                out,
                overwrite=overwrite,
                progress=advance,
                length_sorted=length_sorted,
            )
        console.print(f"paired store written to {out}/base and {out}/organism")
        return
    lm = _load(model, adapter)
    resolve_sites(config, lm.n_layers)
    with progress_bar("capturing", len(items)) as advance:
        store = capture_traces(
            lm,
            items,
            config,
            out,
            overwrite=overwrite,
            progress=advance,
            length_sorted=length_sorted,
        )
    console.print(f"{store.n_rows} rows x {len(store.sites)} sites written to {out}")


def _maybe_pair(model: str, adapter: str | None, paired: bool) -> LoadedPair | None:
    from krel_interp.errors import ConfigError
    from krel_interp.models import PairSpec, load_pair, resolve_spec
    from krel_interp.models.presets import is_pair_preset

    if is_pair_preset(model):
        return load_pair(model)
    if not paired:
        return None
    if adapter is None:
        raise ConfigError("--paired needs a pair preset or --adapter (base = MODEL)")
    base = resolve_spec(model)
    return load_pair(PairSpec(base=base, organism=base.with_(adapter=adapter)))


@app.command()
def inspect(
    source: Annotated[Path, typer.Argument(help="Activation store dir, or traces JSONL")],
    trace_id: Annotated[str | None, typer.Option("--id", help="Trace id (default: all)")] = None,
    model: Annotated[str | None, typer.Option(help="Tokenizer source for a JSONL file")] = None,
    limit: int = 5,
) -> None:
    """Show traces coloured by segment, with their status."""
    from krel_interp.cli.inspect_cmd import inspect_source

    inspect_source(require_file(source, "input"), trace_id, model, limit)


def main() -> None:
    """Entry point: one-line errors with exit code 2 for bad input, never a traceback."""
    command = typer.main.get_command(app)

    def run() -> None:
        try:
            command.main(standalone_mode=False)
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            err_console.print("aborted")
            sys.exit(130)
        except typer.TyperException as exc:  # usage errors: missing option, bad value, ...
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            print_error(message)
            sys.exit(2)

    run_script(run)  # KrelError -> one line, exit 2; Ctrl-C -> exit 130


if __name__ == "__main__":
    main()
