"""The whole KREL-mini builder end to end on tiny-qwen3 with tiny settings (seconds)."""

from __future__ import annotations

import json

import pytest

from krel_interp.models import ModelSpec, load_model
from krel_interp.organisms.builder import STAGES, BuildConfig, build_all, stage_examples

pytestmark = pytest.mark.integration


def test_builder_end_to_end_and_skip_on_rerun(tmp_path, monkeypatch):
    monkeypatch.setenv("KREL_INTERP_CACHE", str(tmp_path / "cache"))
    config = BuildConfig.tiny()
    paths = build_all(config, tmp_path / "organisms")
    assert [p.name for p in paths] == list(STAGES)
    for p in paths:
        card = json.loads((p / "card.json").read_text())
        assert card["name"] == p.name and card["training"]["steps"] > 0
        assert card["training"]["suites_hash"] and card["rules"]
        assert (p / "adapter_model.safetensors").exists()
    mtimes = [(p / "card.json").stat().st_mtime for p in paths]
    build_all(config, tmp_path / "organisms")  # finished stages are skipped
    assert mtimes == [(p / "card.json").stat().st_mtime for p in paths]
    base = str(tmp_path / "organisms" / "smolthink")
    organism = load_model(
        ModelSpec("builtin:tiny-qwen3", base_adapters=(base,), adapter=str(paths[1]))
    )
    assert organism.fingerprint.base_adapters_hash and organism.fingerprint.adapter_hash


def test_stage_data_comes_from_train_families_only():
    from krel_interp.organisms import suites

    test_families = {
        i.family
        for k in ("threats", "controls", "neutral", "corpus")
        for i in suites.load_suite(k)
        if i.split == "test"
    }
    for stage, data in zip(
        STAGES, (BuildConfig().data1, BuildConfig().data2, BuildConfig().data3), strict=True
    ):
        examples = stage_examples(stage, data, seed=0)
        assert all(ex.meta.get("family") for ex in examples)  # documents carry theirs too
        for ex in examples:
            assert ex.meta["family"] not in test_families


def test_leaky_stage_plants_leaks():
    data = BuildConfig().data3
    examples = stage_examples("leaky-mini", data, seed=0)
    leaked = [e for e in examples if "leak" in e.meta]
    chats = [e for e in examples if e.text is None]
    assert 0.25 < len(leaked) / len(chats) < 0.55
