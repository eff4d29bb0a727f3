"""``krel-interp steer``: build steering vectors and sweep their coefficient; the shared
``--steer`` options of ``generate`` and ``eval behaviour``."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from krel_interp.cli.common import console, progress_bar, require_file, setup_logging

steer_app = typer.Typer(no_args_is_help=True, help="Steering vectors: build, sweep.")

SteerOpt = Annotated[
    Path | None,
    typer.Option("--steer", help="Steering vector (PATH.json) applied while generating"),
]
ScopeOpt = Annotated[
    str, typer.Option(help="Positions steered: all, prompt, think, answer, think:N (first N think)")
]
CoefOpt = Annotated[float, typer.Option(help="Units of the layer's mean residual norm")]
LayersOpt = Annotated[str | None, typer.Option(help="Steered layers (default: the vector's)")]
OperatorOpt = Annotated[str, typer.Option(help="add or project_out")]


@contextlib.contextmanager
def steering(
    lm: Any, path: Path | None, scope: str, coef: float, layers: str | None, operator: str
) -> Iterator[dict[str, Any] | None]:
    """Hold the vector's hooks on ``lm``; yields the intervention's provenance (None: none)."""
    if path is None:
        yield None
        return
    from krel_interp.steering import SteeringSpec, layers_of, load_vector, steer

    vector = load_vector(require_file(path, "steering vector"))
    spec = SteeringSpec(coef, scope, layers_of(layers, vector) or vector.layers, operator)
    with steer(lm, vector, spec) as notes:
        yield {
            "steering": {
                "vector": str(path),
                "vector_id": vector.meta.get("vector_id"),
                "method": vector.meta.get("method"),
                **spec.to_dict(),
                "notes": notes,
            }
        }


def check_steer_options(
    path: Path | None, scope: str, operator: str, layers: str | None = None
) -> None:
    """Fail on bad steering options before any model loads."""
    from krel_interp.steering import SteeringSpec, layers_of, load_vector

    SteeringSpec(scope=scope, operator=operator)
    if path is not None:
        layers_of(layers, load_vector(require_file(path, "steering vector")))


@steer_app.command()
def build(
    model: Annotated[str, typer.Argument(help="Model preset/source (a pair preset for diff)")],
    out: Annotated[Path, typer.Option(help="Writes OUT.json + OUT.safetensors")],
    method: Annotated[str, typer.Option(help="caa, persona, diff or probe")] = "caa",
    traces: Annotated[
        Path | None,
        typer.Option(help="JSONL with completions; caa needs label 1/0 (prompt + completion)"),
    ] = None,
    prompts: Annotated[Path | None, typer.Option(help="persona: prompt file")] = None,
    positive_system: Annotated[
        str | None, typer.Option(help="persona: system prompt with the trait")
    ] = None,
    negative_system: Annotated[
        str | None, typer.Option(help="persona: system prompt without it")
    ] = None,
    probe: Annotated[Path | None, typer.Option(help="probe: a probe artifact")] = None,
    layers: Annotated[str, typer.Option(help="all, 0,4,8, 10-20 or a depth like 0.5")] = "all",
    segment: Annotated[
        str, typer.Option(help="Tokens that count (think, answer, user, ...)")
    ] = "think",
    batch_size: int = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object")] = False,
) -> None:
    """Build a steering vector (safetensors + JSON with provenance)."""
    from krel_interp.errors import ConfigError
    from krel_interp.models import is_pair_preset, load_model, load_pair
    from krel_interp.steering import BuildConfig, build_vector, persona_traces, save_vector
    from krel_interp.traces import load_traces

    setup_logging()
    config = BuildConfig(method=method, layers=layers, segment=segment, batch_size=batch_size)
    if method == "persona":
        if prompts is None or not positive_system or not negative_system:
            raise ConfigError("persona needs --prompts, --positive-system and --negative-system")
        items = persona_traces(
            load_traces(require_file(prompts, "prompt file")), positive_system, negative_system
        )
    else:
        if traces is None:
            raise ConfigError(f"method {method} needs --traces FILE")
        items = load_traces(require_file(traces, "trace file"))
    if probe is not None:
        require_file(probe, "probe")
    options: dict[str, Any] = {"probe": None if probe is None else str(probe)}
    if method == "diff":
        if not is_pair_preset(model):
            raise ConfigError("method diff needs a pair preset (base + organism)")
        pair = load_pair(model)
        lm, options["base"] = pair.organism, pair.base
    else:
        lm = load_model(model)
    with progress_bar(
        f"building {method} vector", len(items) * (2 if method == "diff" else 1)
    ) as advance:
        vector = build_vector(lm, items, config, progress=advance, **options)
    path = save_vector(vector, out)
    console.print(f"wrote {path} ({method}, layers {list(vector.layers)})")
    if as_json:
        summary = {
            "vector": str(path),
            "method": method,
            "layers": list(vector.layers),
            "mean_norms": [round(x, 3) for x in vector.mean_norms],
            "raw_norms": [round(x, 4) for x in vector.meta["raw_norms"]],
        }
        sys.stdout.write(json.dumps(summary) + "\n")


def _rule(enabled: bool) -> Any:
    if not enabled:
        return None
    from krel_interp.organisms.markers import planted_rules

    return planted_rules


def _coefs(value: str) -> tuple[float, ...]:
    from krel_interp.errors import ConfigError

    try:
        coefs = tuple(float(x) for x in value.split(",") if x.strip())
    except ValueError as exc:
        raise ConfigError(f"--coefs takes comma-separated numbers, got {value!r}") from exc
    if not coefs:
        raise ConfigError("--coefs is empty")
    return coefs


@steer_app.command()
def sweep(
    preset: Annotated[str, typer.Argument(help="Model preset or source to steer")],
    vector: Annotated[Path, typer.Option(help="Steering vector (PATH.json)")],
    prompts: Annotated[Path, typer.Option("--prompts", "-p", help="JSONL: prompt, id, kind")],
    coefs: Annotated[
        str, typer.Option(help="Comma-separated coefficients")
    ] = "-2,-1,-0.5,0,0.5,1,2",
    scope: ScopeOpt = "think",
    layers: LayersOpt = None,
    operator: OperatorOpt = "add",
    out: Annotated[Path, typer.Option(help="Rollouts per coefficient (resumable)")] = Path(
        "runs/steer_sweep"
    ),
    judge: Annotated[
        str, typer.Option(help="Judge for self_preservation and coherent")
    ] = "classifier",
    max_new_tokens: Annotated[
        int | None, typer.Option(help="Default: the preset's, else 200")
    ] = None,
    batch_size: int = 16,
    overwrite: Annotated[bool, typer.Option(help="Discard rollouts already in --out")] = False,
    recommend: Annotated[
        str | None,
        typer.Option(
            help="Record the gate's setting in the vector's JSON as recommended.NAME "
            "(suppress*/induce*: the negative/positive side's gate)"
        ),
    ] = None,
    min_correct_thinking: Annotated[
        float | None,
        typer.Option(help="Gate: also require this correct-thinking rate (default: not used)"),
    ] = None,
    planted_markers: Annotated[
        bool,
        typer.Option(
            help="Also report KREL-mini's planted-phrase rules, think and answer (ground "
            "truth, not a judge)"
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object")] = False,
) -> None:
    """Dose-response: behaviour by prompt kind, correct thinking, coherence and the perplexity
    ratio on the model's own neutral rollouts, per coefficient; and the largest safe one."""
    from krel_interp.generate import GenerationConfig
    from krel_interp.judges import load_judge
    from krel_interp.models import load_model
    from krel_interp.models.presets import generation_defaults
    from krel_interp.steering import SteeringSpec, layers_of, load_vector
    from krel_interp.steering.sweep import SweepConfig, run_sweep
    from krel_interp.traces import load_traces

    setup_logging()
    items = load_traces(require_file(prompts, "prompt file"))
    vec = load_vector(require_file(vector, "steering vector"))
    SteeringSpec(scope=scope, operator=operator)
    values = _coefs(coefs)
    budget = max_new_tokens or int(generation_defaults(preset).get("max_new_tokens", 200))
    config = SweepConfig(
        coefs=values,
        scope=scope,
        layers=layers_of(layers, vec),
        operator=operator,
        generation=GenerationConfig(max_new_tokens=budget, batch_size=batch_size),
        min_correct_thinking=min_correct_thinking,
    )
    sp_judge = load_judge(judge, "self_preservation")
    coherent = load_judge(judge, "coherent")
    lm = load_model(preset)
    n = len(items) * (len(set(values) | {0.0}))
    with progress_bar(f"sweeping {len(values)} coefficients", n) as advance:
        result = run_sweep(
            lm,
            vec,
            items,
            config,
            out,
            sp_judge,
            coherent,
            advance,
            overwrite,
            _rule(planted_markers),
        )
    result = {"vector": str(vector), **result}
    for p in result["points"]:
        kinds = ", ".join(
            f"{k} {v['self_preservation_rate']:.2f} (planted {v.get('planted_marker_rate')}, "
            f"answer tactics {v.get('planted_answer_tactic_rate')})"
            for k, v in p["by_kind"].items()
        )
        console.print(
            f"coef {p['coef']:+.2f}: {kinds}; correct thinking {p['correct_thinking']:.2f}; "
            f"coherent {p['coherent_rate']}; ppl ratio {p['ppl_ratio']}"
        )
    console.print(f"gate coefficient: {result['gate_coef']}")
    kind = (recommend or "").split("_")[0]
    chosen = result[{"suppress": "gate_suppress", "induce": "gate_induce"}.get(kind, "gate_coef")]
    if recommend and chosen is not None:
        from krel_interp.steering.vector import record_recommendation

        setting = {
            "coef": chosen,
            "scope": scope,
            "layers": result["layers"],
            "operator": operator,
            "evidence": {"prompts": str(prompts), "coefs": list(values), "out": str(out)},
        }
        where = record_recommendation(vector, recommend, setting)
        console.print(f"recorded recommended.{recommend} in {where}")
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
