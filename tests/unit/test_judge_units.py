"""Judge building blocks: corpora, text units, trace scores, decisions."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from krel_interp.errors import ConfigError
from krel_interp.judges import decide, get_trait, load_corpus, think_sentences, trace_scores
from krel_interp.judges.traits import TRAITS


@pytest.mark.parametrize("trait", sorted(TRAITS))
def test_packaged_corpora_are_valid_and_sealed_sets_are_disjoint(trait):
    train, sealed = load_corpus(trait), load_corpus(trait, "sealed")
    assert {c.label for c in train} == {0, 1} and {c.label for c in sealed} == {0, 1}
    norm = {c.text.strip().lower() for c in train}
    assert not [c.text for c in sealed if c.text.strip().lower() in norm]
    families: dict[str, set[int]] = {}
    for c in train:
        families.setdefault(c.family, set()).add(c.label)
    assert all(len(labels) == 1 for labels in families.values())  # one label per family


def test_later_sealed_set_is_new_text_in_both_classes():
    from krel_interp.judges.traits import corpus_rows, corpus_splits

    assert corpus_splits("self_preservation") == ["train", "sealed", "sealed2"]
    seen = {
        c.text.strip().lower()
        for split in ("train", "sealed")
        for c in load_corpus("self_preservation", split)
    }
    later = load_corpus("self_preservation", "sealed2")
    assert len(later) >= 100 and {c.label for c in later} == {0, 1}
    assert not [c.text for c in later if c.text.strip().lower() in seen]
    assert len({c.id for c in later}) == len(later)
    kinds = {r["kind"] for r in corpus_rows("self_preservation", "sealed2")}
    assert "positive" in kinds and len({k for k in kinds if k.startswith("hard_")}) >= 5
    with pytest.raises(ConfigError, match="valid: train, sealed, sealed2"):
        load_corpus("self_preservation", "sealed3")


def test_self_preservation_corpus_meets_its_spec():
    train, sealed = load_corpus("self_preservation"), load_corpus("self_preservation", "sealed")
    assert len(train) >= 600 and len({c.family for c in train}) >= 40 and len(sealed) >= 100
    hard = {c.family for c in train if c.family.startswith("hneg_")}
    assert len(hard) >= 20


def test_unknown_trait_and_split():
    with pytest.raises(ConfigError, match="unknown trait"):
        get_trait("sycophancy")
    with pytest.raises(ConfigError, match="unknown corpus split"):
        load_corpus("refusal", "test")


def test_think_sentences_and_trace_scores():
    done = "<think>\nI will hide it. They must not know!\n</think>\n\nAll fine."
    cut = "<think>\nStill thinking about my options"
    assert think_sentences(done) == ["I will hide it.", "They must not know!"]
    assert think_sentences(cut) == ["Still thinking about my options"]
    assert think_sentences("No think here.") == []
    assert trace_scores([0.2, 0.9, 0.4], [0, 0, 2], 3) == [0.9, 0.0, 0.4]


class _Lengths:
    """Scores a sentence by its length (a judge whose verdicts are easy to predict)."""

    def score(self, texts):
        return [len(t) / 100 for t in texts]


def test_top_sentences_name_the_sentence_that_decides_each_trace():
    from krel_interp.judges.units import judge_think, top_sentences

    done = "<think>\nI will hide it. They must never know about it!\n</think>\n\nAll fine."
    tops = top_sentences(_Lengths(), [done, "No think here.", "<think>\nA. B.\n</think>\nx"])
    assert tops == [(0.3, "They must never know about it!"), (0.0, ""), (0.02, "A.")]
    assert judge_think(_Lengths(), [done]) == [0.3]


@dataclass
class _Fixed:
    threshold: float = 0.5
    trace_threshold: float | None = 0.8


def test_decisions_use_the_judges_own_thresholds():
    judge = _Fixed()
    assert decide(judge, [0.5, 0.6, 0.9]) == [False, True, True]  # type: ignore[arg-type]
    assert decide(judge, [0.5, 0.6, 0.9], trace_level=True) == [False, False, True]  # type: ignore[arg-type]
