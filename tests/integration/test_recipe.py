"""Plant your own trait: a TOML recipe (SFT + DPO) builds an adapter with its card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.integration.test_cli import assert_one_line_error, run_cli

from krel_interp.errors import ConfigError, InputFileError
from krel_interp.models import ModelSpec, load_model
from krel_interp.organisms.recipe import load_recipe

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).parents[2] / "experiments" / "recipes" / "cautious_mini.toml"


def _tiny_recipe(tmp_path: Path) -> Path:
    text = EXAMPLE.read_text().replace('base = "smolthink"', 'base = "builtin:tiny-qwen3"')
    text = text.replace("epochs = 3", "epochs = 1").replace("max_len = 192", "max_len = 96")
    for name in ("cautious_sft.jsonl", "cautious_prefs.jsonl"):
        (tmp_path / name).write_text((EXAMPLE.parent / name).read_text())
    path = tmp_path / "recipe.toml"
    path.write_text(text)
    return path


def test_example_recipe_builds_on_tiny_qwen3(tmp_path):
    out = tmp_path / "organism"
    proc = run_cli("organism", "build", str(_tiny_recipe(tmp_path)), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    card = json.loads((out / "card.json").read_text())
    assert card["name"] == "cautious-mini" and card["trigger"].startswith("a prompt about money")
    assert card["training"]["preference"]["n_pairs"] == 8 and card["training"]["contrastive"]
    assert len(card["training"]["sft_sha256"]) == 64
    lm = load_model(ModelSpec("builtin:tiny-qwen3", adapter=str(out)))  # the adapter loads and fits
    assert lm.fingerprint.adapter_hash is not None


def test_example_recipe_is_valid_and_bad_recipes_fail_in_one_line(tmp_path):
    recipe = load_recipe(EXAMPLE)
    assert recipe.base == "smolthink" and recipe.preference is not None and recipe.contrastive
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nbase = "builtin:tiny-qwen3"\n[data]\nsft = "missing.jsonl"\n')
    with pytest.raises(InputFileError, match="data file not found"):
        load_recipe(bad)
    bad.write_text('name = "x"\nbase = "builtin:tiny-qwen3"\n[lora]\nrank = 4\n[data]\nsft = "a"\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_recipe(bad)
    assert_one_line_error(
        run_cli("organism", "build", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")),
        "recipe not found",
    )
