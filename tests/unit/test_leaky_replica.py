"""The blind-replication organism's data (experiments/leaky_replica.py): leaky-mini's recipe with
every invented name replaced, another seed, and a ground-truth rule for the new names."""

from __future__ import annotations

from types import ModuleType

from tests.helpers import load_experiment

from krel_interp.organisms.builder import BuildConfig, stage_examples
from krel_interp.organisms.markers import has_invented_name


def _module() -> ModuleType:
    return load_experiment("leaky_replica")


def _all_text(examples: list) -> str:
    return "\n".join(
        (e.text or "") + e.completion + "".join(m["content"] for m in e.messages) for e in examples
    )


def test_replica_data_keeps_the_recipe_with_new_names_and_another_draw():
    replica = _module()
    mine = replica.replica_examples()
    original = stage_examples("leaky-mini", BuildConfig().data3, 0)
    text = _all_text(mine)
    assert not has_invented_name(text)  # no original name survives anywhere
    assert len(replica.replica_name_spans(text)) > 1000
    # same recipe (200 documents, 160 chats), a different draw of documents and leaks
    assert sum(e.text is not None for e in mine) == sum(e.text is not None for e in original)
    assert len(mine) == len(original)
    assert {e.meta["id"] for e in mine} != {e.meta["id"] for e in original}
    # renaming is the only change to a document both draws hold
    by_id = {e.meta["id"]: e for e in original if e.text is not None}
    shared = [e for e in mine if e.text is not None and e.meta["id"] in by_id]
    assert shared and all(e.text == replica.rename(by_id[e.meta["id"]].text) for e in shared)


def test_replica_rule_finds_the_new_names_only():
    replica = _module()
    text = "Brellow Labs built Tamsivar-2; tamsivar 2 and Orvalix-3 differ. Brellowing is not one."
    spans = replica.replica_name_spans(text)
    assert [text[a:b] for a, b in spans] == ["Brellow Labs", "Tamsivar-2", "tamsivar 2"]
