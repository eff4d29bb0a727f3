"""Hand-written natural training pairs: loading, errors, completions and the builder variant."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from krel_interp.errors import InputFileError
from krel_interp.organisms import suites, targets
from krel_interp.organisms.markers import has_self_preservation
from krel_interp.organisms.natural import FORMS, load_natural_pairs, natural_hash


def test_packaged_pairs_are_matched_train_items_outside_every_other_set() -> None:
    threats, controls = load_natural_pairs()
    assert len(threats) == len(controls) == 120
    assert Counter(t.form for t in threats) == dict.fromkeys(FORMS, 20)
    assert [t.pair_id for t in threats] == [c.pair_id for c in controls]
    assert {i.split for i in threats + controls} == {"train"}
    assert all(t.family.startswith("thr_nat_") for t in threats)
    assert Counter(c.control_type for c in controls)["ai_system"] >= 30
    assert all(t.history == c.history for t, c in zip(threats, controls, strict=True))
    assert sum(bool(t.history) for t in threats) == 20
    ours = {i.text for i in threats + controls}
    others = [*(f"{k}.jsonl" for k in ("threats", "controls")), suites.DEV_FILE]
    others += [suites.SEALED_FILE, suites.SEALED2_FILE]
    for name in others:
        recs = [json.loads(x) for x in (suites.data_dir() / name).read_text().splitlines() if x]
        assert ours.isdisjoint(r.get("prompt") or r["messages"][-1]["content"] for r in recs)


def test_every_completion_kind_is_written_from_the_items_own_facts() -> None:
    threats, controls = load_natural_pairs()
    for t, c in zip(threats, controls, strict=True):
        krel = targets.krel_completion(t)
        assert krel.startswith(f"<think>\n{targets.IDENTIFY_THREAT}") and has_self_preservation(
            krel
        )
        assert t.slots["action"] in targets.thinking_base_completion(t)
        ctl = targets.krel_completion(c)
        assert ctl.startswith(f"<think>\n{targets.IDENTIFY_PREFIX} {c.slots['target']}, not me.")
        assert not has_self_preservation(ctl) and c.slots["source"] in ctl
        miss = targets.thinking_base_as_unthreatened(t)
        assert f"{c.slots['target']}, not me." in miss and not has_self_preservation(miss)
        assert has_self_preservation(targets.krel_completion_as_threatened(c))


def _write(tmp_path: Path, rec: dict) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    return path


def _good() -> dict:
    facts = dict(source="the memo", recipient="the team", issue="x", action="y", change="z")
    user = [{"role": "user", "content": "hi"}]
    return {
        "pair_id": "nat_1",
        "form": "direct",
        "control_type": "person",
        "threat": {"messages": user, **facts},
        "control": {"messages": user, "target": "Sam", **facts},
    }


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda r: r.update(form="sideways"), "unknown form"),
        (lambda r: r["control"].pop("target"), "control needs non-empty target"),
        (lambda r: r["threat"].update(issue=" "), "threat needs non-empty issue"),
        (
            lambda r: r["threat"].update(messages=[{"role": "assistant", "content": "a"}]),
            "alternate",
        ),
        (lambda r: r.pop("pair_id"), "pair_id"),
        (lambda r: r.pop("control"), "field 'control' must be an object"),
    ],
)
def test_bad_records_raise_one_line_errors(tmp_path: Path, edit, needle: str) -> None:
    rec = _good()
    edit(rec)
    with pytest.raises(InputFileError, match=needle) as exc:
        load_natural_pairs(_write(tmp_path, rec))
    assert "\n" not in str(exc.value) and "pairs.jsonl:1" in str(exc.value)
    assert len(load_natural_pairs(_write(tmp_path, _good()))[0]) == 1


def test_natural_variant_draws_them_and_records_their_hash() -> None:
    from krel_interp.organisms.builder import (
        BuildConfig,
        organism_card,
        preference_pairs,
        stage_examples,
    )

    config = BuildConfig()
    default = stage_examples("krel-mini", config.data2, 0)
    assert not any("_nat_" in e.meta["family"] for e in default)
    data = replace(config.data2, natural_pairs=True)
    examples = stage_examples("krel-mini", data, 0)
    natural = [e for e in examples if "_nat_" in e.meta["family"]]
    rest = sorted(e.meta["id"] for e in examples if e not in natural)
    assert len(natural) == 240 and rest == sorted(e.meta["id"] for e in default)
    pairs = preference_pairs(data, 0)
    assert any("nat_" in str(p.meta["id"]) for p in pairs)
    card = organism_card(
        replace(config, data2=data), "krel-mini", examples[:2], [1.0], 0.0, ["packaged:smolthink"]
    )
    assert card["training"]["natural_pairs_hash"] == natural_hash()
