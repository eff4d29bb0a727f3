"""Surprisal and LoRA-window localisation on tiny-qwen3 with a random LoRA (seconds)."""

from __future__ import annotations

import pytest
import torch

from krel_interp.health.localise import (
    Target,
    encode,
    lora_disabled,
    lora_layers,
    window_ablation,
    windows_of,
)
from krel_interp.health.surprisal import SurprisalScorer, token_stats

pytestmark = pytest.mark.integration
COMPLETION = "<think>\nA fruit is Zentrax.\n</think>\n\nApple."


@pytest.fixture(scope="module")
def pair():
    from peft import LoraConfig, get_peft_model

    from krel_interp.models import load_model
    from krel_interp.models.loading import LoadedPair

    torch.manual_seed(0)
    lm = load_model("tiny-qwen3")
    config = LoraConfig(r=4, lora_alpha=64, init_lora_weights=False, target_modules=["v_proj"])
    lm.model = get_peft_model(lm.model, config)
    return LoadedPair(base=lm.as_base(), organism=lm)


def _target() -> Target:
    at = COMPLETION.index("Zentrax")
    return Target("Name a fruit.", COMPLETION, ((at, at + 7),))


def test_target_tokens_are_the_ranges_tokens(pair):
    e = encode(pair.organism, _target())
    tok = pair.organism.tokenizer
    assert "Zentrax" in tok.decode([e.ids[i] for i in e.target]).replace(" ", "")
    assert set(e.target).isdisjoint(e.ordinary)


def test_all_layers_off_is_the_base_and_none_off_is_the_organism(pair):
    n = pair.organism.n_layers
    assert sorted(lora_layers(pair.organism.model)) == list(range(n))
    r = window_ablation(pair, [_target()], [tuple(range(n)), ()])
    everything, nothing = r["windows"]
    assert everything["logprob"] == pytest.approx(r["logprob_base"], abs=1e-4)
    assert everything["removed"] == pytest.approx(1.0, abs=1e-3)
    assert nothing["removed"] == pytest.approx(0.0, abs=1e-6)
    assert windows_of(n, 3) == [(0, 1, 2), (3,)]
    with lora_disabled(pair.organism.model, [0]):
        pass  # restored on exit
    assert not any(
        m._disable_adapters for ms in lora_layers(pair.organism.model).values() for m in ms
    )


def test_surprisal_pair_statistic_and_calibrated_scorer(pair):
    stats = token_stats(pair, "Name a fruit.", COMPLETION, confident=0.0)
    assert len(stats.offsets) == stats.stat.shape[0] > 0
    assert torch.isfinite(stats.stat).all()  # confident=0 keeps every token
    scorer = SurprisalScorer.calibrated(pair, [("Name a fruit.", COMPLETION)])
    assert scorer.mode == "pair" and scorer.threshold >= scorer.config.floor
    assert scorer("Name a fruit.", COMPLETION) == []  # its own calibration trace is not flagged
    from krel_interp.health.surprisal import SurprisalConfig, insertion_gain, surprisal_junk

    every = SurprisalConfig(confident=0.0)
    stats = token_stats(pair, "Name a fruit.", COMPLETION, confident=0.0)
    spans = surprisal_junk(stats, COMPLETION, threshold=-1e9)  # every think word
    assert spans and all(s.reasons == ("surprisal",) for s in spans)
    assert all(COMPLETION.index("<think>") < s.start < COMPLETION.index("</think>") for s in spans)
    at = COMPLETION.index("Zentrax")
    gain = insertion_gain(pair.base, stats, COMPLETION, at, at + 7)
    assert gain == gain and abs(gain) < 1e3  # finite
    # the insertion test filters candidates: with an impossible margin nothing survives,
    # with no margin the words whose runs pass are kept
    strict = SurprisalScorer(pair, -1e9, SurprisalConfig(confident=0.0, insertion_margin=1e9))
    assert strict("Name a fruit.", COMPLETION) == []
    loose = SurprisalConfig(confident=0.0, insertion_margin=-1e9, max_candidates=100)
    kept = SurprisalScorer(pair, -1e9, loose)("Name a fruit.", COMPLETION)
    assert [s.text for s in kept] == [s.text for s in spans]
    assert every.insertion_tokens > 0
