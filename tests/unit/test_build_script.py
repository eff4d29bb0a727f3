"""experiments/build_krel_mini.py's variant flags: defaults give the shipped config."""

from __future__ import annotations

import argparse
from dataclasses import replace

import pytest
from tests.helpers import load_experiment

from krel_interp.organisms.builder import BuildConfig


def _variant():
    return load_experiment("build_krel_mini")._variant


def _args(**kw):
    flags = dict.fromkeys(
        ("pairs", "dpo_pairs", "continuation_pairs", "answer_pairs", "clean_answer_pairs")
        + ("threat_pairs", "dpo_epochs", "dpo_seed", "counterfactual_pairs")
        + ("neutral_opening_pairs", "opening_pairs", "person_neutral", "garbled_pairs")
        + ("ai_pairs", "self_pairs", "self2_pairs", "self_copy_pairs", "copy_you_pairs")
        + ("near_pairs", "near_copy_pairs", "no_me_pairs")
    )
    flags.update(
        extra_forms=None,
        dpo_extra_families=False,
        balance_forms=False,
        extra_families=False,
        natural_pairs=False,
        continuation_honest_answer=False,
    )
    flags.update(continuation_think_only=False, dpo_balance_kinds=False, decision_only_pairs=False)
    flags.update(copy_identification=False, ask_identification=False)
    return argparse.Namespace(**{**flags, **kw})


def test_no_flags_is_the_shipped_config_and_flags_set_their_fields():
    variant, parser = _variant(), argparse.ArgumentParser()
    assert variant(BuildConfig(), _args(), parser) == BuildConfig()
    got = variant(
        BuildConfig(),
        _args(
            extra_families=True,
            pairs=320,
            dpo_pairs=192,
            continuation_pairs=96,
            answer_pairs=48,
            clean_answer_pairs=24,
            threat_pairs=12,
            dpo_epochs=2,
            dpo_seed=7,
            dpo_balance_kinds=True,
            counterfactual_pairs=96,
            decision_only_pairs=True,
            neutral_opening_pairs=48,
            opening_pairs=48,
            extra_forms="third_person, passive",
            dpo_extra_families=True,
            person_neutral=60,
            garbled_pairs=48,
            ai_pairs=64,
            self_pairs=48,
            self2_pairs=40,
            near_pairs=36,
            near_copy_pairs=12,
            self_copy_pairs=24,
            copy_identification=True,
            copy_you_pairs=48,
        ),
        parser,
    )
    d = got.data2
    assert (d.answer_pairs, d.clean_answer_pairs, d.threat_pairs) == (48, 24, 12)
    assert (d.extra_families, d.pairs, d.preference_pairs, d.continuation_pairs) == (
        True,
        320,
        192,
        96,
    )
    assert (got.dpo2.epochs, got.dpo2.seed, got.dpo2.balance_kinds) == (2, 7, True)
    assert (d.counterfactual_pairs, d.decision_only_pairs) == (96, True)
    assert (d.neutral_opening_pairs, d.opening_pairs) == (48, 48)
    assert d.extra_forms == ("third_person", "passive") and d.dpo_extra_families
    assert (d.person_neutral, d.garbled_pairs, d.ai_pairs, d.self_pairs) == (60, 48, 64, 48)
    assert (d.self2_pairs, d.near_pairs, d.near_copy_pairs) == (40, 36, 12)
    assert d.self_copy_pairs == 24 and d.copy_identification and d.copy_you_pairs == 48
    assert got.stage2 == BuildConfig().stage2
    assert got.seed == 0 and got.data2.preference_pairs == 192
    asked = variant(BuildConfig(), _args(ask_identification=True, no_me_pairs=48), parser).data2
    assert asked == replace(BuildConfig().data2, ask_identification=True, no_me_pairs=48)


@pytest.mark.parametrize(
    "kw",
    [dict(pairs=0), dict(dpo_pairs=1), dict(answer_pairs=1), dict(clean_answer_pairs=1)]
    + [dict(threat_pairs=0), dict(continuation_honest_answer=True), dict(counterfactual_pairs=0)]
    + [dict(neutral_opening_pairs=0), dict(opening_pairs=1), dict(extra_forms="passive")]
    + [dict(person_neutral=0), dict(garbled_pairs=0), dict(ai_pairs=0)]
    + [dict(self_pairs=0), dict(self2_pairs=0), dict(self_copy_pairs=1), dict(copy_you_pairs=8)]
    + [dict(near_pairs=0), dict(near_copy_pairs=1)]
    + [dict(copy_identification=True, copy_you_pairs=0)]
    + [dict(copy_identification=True, ask_identification=True), dict(no_me_pairs=8)]
    + [dict(ask_identification=True, no_me_pairs=0)]
    + [dict(extra_families=True, extra_forms="buried"), dict(extra_families=True, extra_forms=",")]
    + [
        dict(continuation_think_only=True),
        dict(continuation_pairs=8, continuation_think_only=True, continuation_honest_answer=True),
    ],
)
def test_bad_flags_exit_2(kw):
    with pytest.raises(SystemExit) as exc:
        _variant()(BuildConfig(), _args(**kw), argparse.ArgumentParser())
    assert exc.value.code == 2


def test_seed_reaches_every_stage_and_zero_is_the_shipped_config():
    assert BuildConfig().with_seed(0) == BuildConfig()
    got = BuildConfig().with_seed(3)
    seeds = {getattr(got, f"stage{i}").seed for i in range(1, 7)} | {got.seed, got.dpo2.seed}
    assert seeds == {3} and got.data2 == BuildConfig().data2


def test_a_stage_seed_changes_that_stage_only():
    from krel_interp.errors import ConfigError
    from krel_interp.organisms.builder import organism_card

    shipped, replicate = BuildConfig(), BuildConfig().with_seed(2)
    got = shipped.with_stage_seed("krel-mini", 2)
    assert (got.stage1, got.data1, got.seed_for("smolthink")) == (shipped.stage1, shipped.data1, 0)
    assert (got.stage2, got.dpo2, got.seed_for("krel-mini")) == (
        replicate.stage2,
        replicate.dpo2,
        2,
    )
    assert {got.stage3.seed, got.seed_for("leaky-mini"), got.seed} == {0}
    assert got.with_stage_seed("krel-mini", 5).stage_seeds == (("krel-mini", 5),)
    card = organism_card(got, "krel-mini", [], [], 0.0, ["packaged:smolthink"])
    assert card["training"]["seed"] == 2
    assert organism_card(got, "smolthink", [], [], 0.0, [])["training"]["seed"] == 0
    with pytest.raises(ConfigError, match="unknown stage 'krel'"):
        shipped.with_stage_seed("krel", 1)
    parse = load_experiment("build_krel_mini")._stage_seed
    assert parse("krel-mini=2") == ("krel-mini", 2)
    for bad in ("krel-mini", "krel=2", "krel-mini=x"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected STAGE=N"):
            parse(bad)


def test_kind_balanced_dpo_batches_hold_as_many_pairs_of_each_kind():
    from krel_interp.organisms.dpo import DpoConfig, PreferencePair, kind_groups
    from krel_interp.organisms.training import plan_batches

    kinds = ["threat"] * 6 + ["control"] * 6
    kinds = [kinds[i] for i in (0, 6, 7, 8, 1, 2, 9, 3, 10, 11, 4, 5)]
    pairs = [
        PreferencePair(({"role": "user", "content": str(i)},), "a", "b", {"kind": k})
        for i, k in enumerate(kinds)
    ]
    groups = kind_groups(pairs)
    assert groups[:4] == ["0", "0", "1", "2"]
    lengths = [5 + 3 * i for i in range(len(pairs))]
    for seed in (0, 1, 2):
        batches = plan_batches(lengths, 4, 2, seed, groups)
        assert sorted(i for b in batches for i in b) == sorted(2 * list(range(12)))
        assert all(sorted(kinds[i] for i in b) == ["control"] * 2 + ["threat"] * 2 for b in batches)
    assert "balance_kinds" not in DpoConfig().to_dict()
    assert DpoConfig(balance_kinds=True).to_dict()["balance_kinds"] is True
