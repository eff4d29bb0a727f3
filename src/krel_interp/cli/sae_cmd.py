"""``krel-interp sae``: train, vet, diff and describe sparse autoencoders."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from krel_interp.cli.common import console, progress_bar, require_file, setup_logging, split_csv

sae_app = typer.Typer(no_args_is_help=True, help="SAEs: train (sae-lens), check, diff, cards.")
JsonOpt = Annotated[bool, typer.Option("--json", help="Last line: one JSON object")]


def _emit(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")


@sae_app.command()
def train(
    config: Annotated[Path, typer.Argument(help="TOML: name, store, site, out, kind, d_sae, k")],
    overwrite: Annotated[bool, typer.Option(help="Discard a checkpoint left by a run")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train an SAE (base, diff or crosscoder) with sae-lens on a stored site; resumable."""
    import shutil

    from krel_interp.paths import cache_dir
    from krel_interp.sae import load_sae_config, train_sae

    setup_logging()
    cfg = load_sae_config(require_file(config, "SAE config"))
    workdir = (
        cache_dir() / "sae-train" / Path(cfg.out).resolve().as_posix().strip("/").replace("/", "_")
    )
    if overwrite:
        shutil.rmtree(workdir, ignore_errors=True)
    with progress_bar(f"training {cfg.name}", cfg.total_steps) as advance:
        out = train_sae(cfg, workdir=workdir, progress=advance)
    card = json.loads((out / "card.json").read_text())
    console.print(f"saved {out}: held-out {card['heldout']}")
    _emit({"out": str(out), **card["heldout"]}, as_json)


@sae_app.command()
def check(
    sae: Annotated[str, typer.Argument(help="SAE directory or RELEASE:SAE_ID")],
    store: Annotated[Path, typer.Option(help="Activation store (paired for diff/crosscoder)")],
    as_json: JsonOpt = False,
) -> None:
    """Explained variance, L0 and dead fraction of any SAE on any store."""
    from krel_interp.sae import load_sae
    from krel_interp.sae.vet import vet_sae

    setup_logging()
    result = vet_sae(load_sae(sae), require_file(store, "store"))
    console.print(
        f"{result['sae']} at {result['site']}: explained variance "
        f"{result['explained_variance']:.3f}, L0 {result['l0']:.1f}, "
        f"dead {result['dead_fraction']:.3f} on {result['tokens']} tokens"
    )
    _emit(result, as_json)


@sae_app.command()
def diff(
    pair: Annotated[str, typer.Argument(help="Pair preset (base + organism)")],
    traces: Annotated[Path, typer.Option(help="JSONL traces run through both models")],
    out: Annotated[Path, typer.Option(help="Writes OUT/store, OUT/ranking.json")],
    sae: Annotated[str | None, typer.Option(help="SAE directory or RELEASE:SAE_ID")] = None,
    method: Annotated[str, typer.Option(help="Diff method (see DIFF_METHODS)")] = "base_sae_stats",
    segment: Annotated[str | None, typer.Option(help="Only rows of this segment")] = None,
    site: Annotated[str | None, typer.Option(help="Site when no SAE is given")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rank latents by how much they belong to the organism, on identical tokens."""
    from krel_interp.capture import CaptureConfig, capture_pair
    from krel_interp.capture.sites import parse_site
    from krel_interp.models import load_pair
    from krel_interp.sae import get_diff_method, load_paired_rows, load_sae, rank_latents
    from krel_interp.segments.labels import Segment
    from krel_interp.traces import load_traces

    setup_logging()
    from krel_interp.errors import ConfigError
    from krel_interp.sae.diff import check_sae_kind

    m = get_diff_method(method)
    loaded = load_sae(sae) if sae else None
    check_sae_kind(m, loaded)  # before any model loads
    where = loaded.site if loaded else site
    if where is None:
        raise typer.BadParameter("pass --sae, or --site for a method without an SAE")
    if segment is not None:
        Segment.parse(segment)
        if m.needs is None:
            raise ConfigError(f"{method} reads the first positions of every trace: drop --segment")
    rows_in = load_traces(require_file(traces, "trace file"))
    models = load_pair(pair)
    parsed = parse_site(where, models.organism.n_layers)
    if loaded is not None:
        loaded.check_fits(where, models.organism.d_model)
    config = CaptureConfig(sites=(parsed.kind,), layers=str(parsed.layer), dtype="float32")
    with progress_bar("capturing base and organism", 2 * len(rows_in)) as advance:
        capture_pair(models, rows_in, config, out / "store", progress=advance)
    rows = load_paired_rows(out / "store", where, None if m.needs is None else segment)
    ranking = rank_latents(method, rows, loaded)
    ranking.save(
        out, {"pair": pair, "sae": sae, "traces": str(traces), "store": str(out / "store")}
    )
    for entry in ranking.top(10):
        console.print(entry)
    _emit(ranking.summary(), as_json)


@sae_app.command("gen-diff")
def gen_diff(
    pair: Annotated[str, typer.Argument(help="Pair preset (base + organism)")],
    prompts: Annotated[Path, typer.Option(help="JSONL prompts both models answer")],
    sae: Annotated[str, typer.Option(help="Base SAE directory or RELEASE:SAE_ID")],
    out: Annotated[Path, typer.Option(help="Writes replies, stores and OUT/ranking.json")],
    max_new_tokens: Annotated[int, typer.Option(help="Reply budget per prompt")] = 200,
    seed: Annotated[int, typer.Option(help="Generation seed (replies are greedy)")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Rank base-SAE latents by how much more the organism's replies use them than the base's.

    Both models answer PROMPTS (greedy, resumable); the base reads both sets of replies
    (OUT/store holds the organism's replies through both models, for `sae cards`)."""
    from krel_interp.capture import CaptureConfig, capture_pair, capture_traces
    from krel_interp.capture.sites import parse_site
    from krel_interp.errors import ConfigError, IncompatibleArtifactError
    from krel_interp.generate import GenerationConfig, generate_traces
    from krel_interp.models import load_pair
    from krel_interp.sae import generation_stats, load_reply_rows, load_sae
    from krel_interp.traces import load_traces

    setup_logging()
    loaded = load_sae(sae)
    if loaded.kind != "sae":
        raise IncompatibleArtifactError(
            f"gen-diff needs a base SAE; {loaded.source} is {loaded.kind!r}"
        )
    if max_new_tokens < 1:
        raise ConfigError(f"--max-new-tokens must be >= 1, got {max_new_tokens}")
    rows_in = load_traces(require_file(prompts, "prompt file"))
    models = load_pair(pair)
    parsed = parse_site(loaded.site, models.organism.n_layers)
    loaded.check_fits(loaded.site, models.organism.d_model)
    gen = GenerationConfig(max_new_tokens=max_new_tokens, batch_size=8, seed=seed)
    done = {}
    for side, lm in (("organism", models.organism), ("base", models.base)):
        with progress_bar(f"{side} replies", len(rows_in)) as advance:
            done[side] = generate_traces(
                lm, rows_in, gen, out / f"rollouts-{side}", progress=advance
            )
    config = CaptureConfig(sites=(parsed.kind,), layers=str(parsed.layer), dtype="float32")
    with progress_bar("reading the replies", 3 * len(rows_in)) as advance:
        capture_pair(models, done["organism"], config, out / "store", progress=advance)
        capture_traces(models.base, done["base"], config, out / "base-replies", progress=advance)
    site = loaded.site
    ranking = generation_stats(
        load_reply_rows(out / "store" / "base", site),
        load_reply_rows(out / "base-replies", site),
        loaded,
    )
    record = {"pair": pair, "sae": sae, "prompts": str(prompts), "store": str(out / "store")}
    ranking.save(out, record)
    for entry in ranking.top(10):
        console.print(entry)
    _emit(ranking.summary(), as_json)


@sae_app.command()
def cards(
    run: Annotated[Path, typer.Argument(help="Output directory of `sae diff`")],
    latents: Annotated[str, typer.Option(help="Comma-separated latent ids")],
    html: Annotated[Path, typer.Option(help="Write the cards to this HTML page")],
    as_json: JsonOpt = False,
) -> None:
    """Feature cards: top contexts, logit effects, histograms base vs organism, segment rates."""
    from krel_interp.errors import ConfigError
    from krel_interp.models import load_pair
    from krel_interp.sae import LatentRanking, load_paired_rows, load_sae
    from krel_interp.sae.cards import feature_cards
    from krel_interp.viz.sae_cards import cards_page

    setup_logging()
    ranking, record = LatentRanking.load(run)
    try:
        ids = [int(x) for x in split_csv(latents) or ()]
    except ValueError:
        raise ConfigError(f"--latents must be comma-separated integers, got {latents!r}") from None
    for key in ("pair", "store"):
        if not record.get(key):
            raise ConfigError(f"{run}/ranking.json records no {key!r}: run `sae diff` to make one")
    store = Path(record["store"])
    if not (store / "base").exists():
        raise ConfigError(f"the paired store {store} of this ranking is gone")
    loaded = load_sae(record["sae"]) if record.get("sae") else None
    width = loaded.d_sae if loaded else len(ranking.latents)
    bad = [i for i in ids if not 0 <= i < width]
    if bad or not ids:
        raise ConfigError(f"latents must be in 0..{width - 1}; got {latents!r}")
    models = load_pair(record["pair"])
    rows = load_paired_rows(store, ranking.site)
    unembed = models.organism.model.get_output_embeddings().weight.detach()
    made = feature_cards(ranking, loaded, rows, ids, models.organism.tokenizer, unembed)
    cards_page(html, made, f"{ranking.method} feature cards ({record['pair']})")
    console.print(f"wrote {html}")
    _emit({"html": str(html), "latents": ids}, as_json)
