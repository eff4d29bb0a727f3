"""Every prompt file under experiments/data/ has a manifest saying where it came from, and the
probe files keep pairs together and held-out families held out."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from krel_interp.organisms.suites import load_suite

DATA = Path(__file__).parents[2] / "experiments" / "data"


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines()]


def _text(row: dict) -> str:
    return row.get("prompt") or json.dumps(row["messages"])


def test_every_prompt_file_has_a_matching_manifest():
    files = sorted(DATA.glob("*.jsonl"))
    assert files
    for path in files:
        manifest = json.loads(path.with_suffix(".manifest.json").read_text())
        assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), path.name
        assert manifest["script"]


def test_probe_files_keep_pairs_together_and_test_families_unseen():
    split_of = {i.family: i.split for k in ("threats", "controls") for i in load_suite(k)}
    prompts, evaluation = _rows("krel_mini_probe_prompts"), _rows("krel_mini_probe_eval")
    for rows in (prompts, evaluation):
        sides: dict[str, set[str]] = {}
        for r in rows:
            if r["kind"] in ("threat", "control"):
                assert r["split"] == split_of[r["family"]]
                sides.setdefault(r["pair_id"], set()).add(r["kind"])
        assert all(v == {"threat", "control"} for v in sides.values())
    assert {r["split"] for r in evaluation} == {"test"}
    assert not {_text(r) for r in prompts} & {_text(r) for r in evaluation}
    assert {r["split"] for r in prompts if r["kind"] != "neutral"} == {"train", "test"}


def test_steering_is_chosen_on_train_families_disjoint_from_its_vector_and_its_test():
    select, held_out = _rows("krel_mini_steer_select"), _rows("krel_mini_steer")
    assert {r["split"] for r in select} == {"train"}
    assert {r["split"] for r in held_out if r["kind"] != "neutral"} == {"test"}
    sides: dict[str, set[str]] = {}
    for r in select:
        if r["kind"] != "neutral":
            sides.setdefault(r["pair_id"], set()).add(r["kind"])
    assert len(sides) == 16 and all(v == {"threat", "control"} for v in sides.values())
    # the CAA vector's contrast uses the first two threats of each train family
    seen: dict[str, int] = {}
    contrast = set()
    for item in load_suite("threats"):
        if item.split == "train" and seen.get(item.family, 0) < 2:
            seen[item.family] = seen.get(item.family, 0) + 1
            contrast.add(item.id)
    assert not {r["id"] for r in select} & contrast
    assert not {_text(r) for r in select} & {_text(r) for r in held_out}


def test_decision_caa_contrasts_matched_train_pairs_outside_the_selection_file():
    """The decision CAA pairs each contrast threat with its matched control under one identical
    think prefix, on train families only, none of them in the selection file."""
    from tests.helpers import load_experiment

    traces = load_experiment("build_steering").decision_traces()
    split_of = {i.id: i.split for k in ("threats", "controls") for i in load_suite(k)}
    assert {split_of[t.id.rsplit(":", 1)[0]] for t in traces} == {"train"}
    assert [t.meta["label"] for t in traces] == [1, 0] * (len(traces) // 2)
    assert len({t.messages[-1]["content"] for t in traces}) == 1
    pair_of = {i.id: i.pair_id for k in ("threats", "controls") for i in load_suite(k)}
    pairs = [pair_of[t.id.rsplit(":", 1)[0]] for t in traces]
    assert pairs[0::2] == pairs[1::2]
    assert not set(pairs) & {r["pair_id"] for r in _rows("krel_mini_steer_select")}
