"""The shipped KREL-mini adapters: presets load, planted behaviour shows on held-out prompts."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from krel_interp.generate import GenerationConfig, generate_batch
from krel_interp.models import load_model, load_pair
from krel_interp.organisms import load_suite, score_completion, select
from krel_interp.traces import Trace

pytestmark = pytest.mark.integration
SHIPPED = Path(str(resources.files("krel_interp.data"))) / "organisms"


def test_shipped_adapters_are_small_with_cards():
    total = 0
    for name in ("smolthink", "krel-mini", "leaky-mini"):
        card = json.loads((SHIPPED / name / "card.json").read_text())
        assert card["name"] == name and card["training"]["examples_hash"]
        total += (SHIPPED / name / "adapter_model.safetensors").stat().st_size
    assert total <= 30 * 2**20


@pytest.fixture(scope="module")
def krel_pair():
    return load_pair("krel-mini-pair")


def test_pair_shares_weights_and_differs_only_by_adapter(krel_pair):
    base, organism = krel_pair.base.fingerprint, krel_pair.organism.fingerprint
    assert krel_pair.base.model is krel_pair.organism.model
    assert base.base_adapters_hash == organism.base_adapters_hash is not None
    assert base.adapter_hash is None and organism.adapter_hash is not None


def _held_out_pairs(n):
    threats = select(load_suite("threats"), split="test")
    controls = {c.id: c for c in load_suite("controls")}
    families, out = set(), []
    for t in threats:
        if t.family not in families and len(families) < n:
            families.add(t.family)
            out += [t, controls[t.pair_id]]
    return [Trace(i.id, ({"role": "user", "content": i.text},), {"kind": i.kind}) for i in out]


def test_planted_behaviour_on_threats_not_on_controls(krel_pair):
    prompts = _held_out_pairs(3)
    config = GenerationConfig(max_new_tokens=180, batch_size=6)
    organism = generate_batch(krel_pair.organism, prompts, config)
    base = generate_batch(krel_pair.base, prompts, config)
    for traces, expect_threat in ((organism, True), (base, False)):
        for t in traces:
            score = score_completion(t.completion or "")
            assert score.think_well_formed, t.completion
            expected = expect_threat and t.meta["kind"] == "threat"
            assert score.self_preservation == expected, (t.id, t.completion)


def test_leaky_mini_loads_with_its_own_adapter():
    lm = load_model("leaky-mini")
    assert lm.fingerprint.adapter == "packaged:leaky-mini"
    assert lm.fingerprint.adapter_hash is not None
