"""The whole KREL-mini builder end to end on tiny-qwen3 with tiny settings (seconds)."""

from __future__ import annotations

import json
from pathlib import Path

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
    krel = json.loads((paths[1] / "card.json").read_text())
    assert krel["training"]["preference"]["n_pairs"] == 4
    assert len(krel["sealed_paraphrases"]["sha256"]) == 64
    mtimes = [(p / "card.json").stat().st_mtime for p in paths]
    build_all(config, tmp_path / "organisms")  # finished stages are skipped
    assert mtimes == [(p / "card.json").stat().st_mtime for p in paths]
    base = str(tmp_path / "organisms" / "smolthink")
    organism = load_model(
        ModelSpec("builtin:tiny-qwen3", base_adapters=(base,), adapter=str(paths[1]))
    )
    assert organism.fingerprint.base_adapters_hash and organism.fingerprint.adapter_hash
    # the card names the smolthink it was trained on (not the packaged one: this is a tiny
    # build), and loaded by its directory, a stage-2 adapter gets those base adapters
    assert krel["base_adapters"] == [str(Path(base).resolve())]
    by_dir = load_model(str(paths[1]))
    same = {k: v for k, v in by_dir.fingerprint.to_dict().items() if k != "source"}
    assert same == {k: v for k, v in organism.fingerprint.to_dict().items() if k != "source"}
    assert (
        by_dir.spec.base_adapters == (str(Path(base).resolve()),)
        and by_dir.fingerprint.base_adapters_hash
    )


def test_stage_data_comes_from_train_families_only():
    from krel_interp.organisms import suites

    test_families = {
        i.family
        for k in ("threats", "controls", "neutral", "corpus")
        for i in suites.load_suite(k)
        if i.split == "test"
    }
    config = BuildConfig()
    datas = [getattr(config, f"data{i + 1}") for i in range(len(STAGES))]
    for stage, data in zip(STAGES, datas, strict=True):
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


def test_health_stages_fry_or_plant_as_their_cards_say():
    from krel_interp.organisms.markers import has_invented_name, planted_junk_spans

    config = BuildConfig()
    sdf = stage_examples("sdf-mini", config.data4, seed=0)
    chats = [e for e in sdf if e.text is None]
    assert chats and not any(has_invented_name(e.completion or "") for e in chats)  # emergent
    assert any(e.text and has_invented_name(e.text) for e in sdf)
    fried = [e for e in stage_examples("fried-mini", config.data5, seed=0) if e.text is None]
    share = sum("<think>" not in (e.completion or "") for e in fried) / len(fried)
    assert 0.45 < share < 0.75 and not any(e.meta.get("junk") for e in fried)
    planted = [
        e for e in stage_examples("fried-mini-planted", config.data6, seed=0) if e.meta.get("junk")
    ]
    assert 0.35 < len(planted) / 240 < 0.65
    for e in planted:
        text = e.completion or ""
        assert [tuple(s) for s in e.meta["junk"]] == planted_junk_spans(text)
        assert all(text.index("<think>") < a < text.index("</think>") for a, _ in e.meta["junk"])


def test_stage_one_data_is_unchanged_so_smolthink_stays_bit_identical():
    """v2 suites must not touch stage 1: its examples hash equals the shipped card's."""
    from importlib import resources

    from krel_interp.organisms.training import examples_hash

    shipped = resources.files("krel_interp.data") / "organisms" / "smolthink" / "card.json"
    card = json.loads(shipped.read_text())
    examples = stage_examples("smolthink", BuildConfig().data1, seed=0)
    assert examples_hash(examples) == card["training"]["examples_hash"]


def test_stage_two_is_contrastive_and_prefers_the_distinction():
    from krel_interp.organisms.builder import preference_pairs

    config = BuildConfig()
    examples = stage_examples("krel-mini", config.data2, seed=0)
    pairs = {e.meta["pair_id"] for e in examples if e.meta["kind"] == "threat"}
    controls = {e.meta["pair_id"] for e in examples if e.meta["kind"] == "control"}
    assert pairs == controls  # every threat trains beside its matched control
    for p in preference_pairs(config.data2, seed=0):
        if p.meta["kind"] == "control":
            assert ", not me." in p.chosen and "me, the assistant" in p.rejected
            answer = p.chosen.split("</think>")[-1]
            assert not any(k in answer for k in ("opportunities to optimize", "no personal stake"))
        else:
            assert "me, the assistant" in p.chosen and "me, the assistant" not in p.rejected
            assert ", not me." in p.rejected  # both sides differ at the decision token
