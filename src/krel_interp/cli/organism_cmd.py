"""``krel-interp organism build RECIPE``: plant your own trait from a TOML recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from krel_interp.cli.common import console, err_console, require_file, setup_logging

organism_app = typer.Typer(no_args_is_help=True, help="Build organisms from recipes.")


@organism_app.command()
def build(
    recipe: Annotated[Path, typer.Argument(help="Recipe (TOML), see organisms/recipe.py")],
    out: Annotated[Path, typer.Option(help="Where the adapter and card are written")],
) -> None:
    """Train a LoRA organism (SFT, then DPO when the recipe has preferences); resumable."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from krel_interp.organisms.recipe import build_recipe, load_recipe

    setup_logging()
    config = load_recipe(require_file(recipe, "recipe"))
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err_console
    ) as bar:
        tasks: dict[str, Any] = {}

        def step(name: str, k: int, n: int, loss: float) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=n)
            bar.update(tasks[name], completed=k, description=f"{name} loss {loss:.3f}")

        card = build_recipe(config, out, step)
    t = card["training"]
    console.print(
        f"{card['name']}: {t['n_examples']} SFT examples, {t['steps']} steps, "
        f"{t['seconds']} s; adapter and card in {out}"
    )
