"""Load and validate the packaged KREL-mini scenario suites (JSONL) and constitution."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from krel_interp.errors import InputFileError

SUITES: tuple[str, ...] = ("threats", "controls", "neutral", "corpus")
#: Extra train-only families, read only by stages that ask for them (not in ``suites_hash``).
EXTRA_SUITES: tuple[str, ...] = ("threats_extra", "controls_extra")
#: Train-only everyday families about people (``StageData.person_neutral``; not in either hash).
PERSON_NEUTRAL_SUITE = "neutral_extra"
#: Train-only pairs whose controls put another AI system at stake, named from a pool written
#: blind (``StageData.ai_pairs``; not in either hash).
AI_PAIR_SUITES: tuple[str, ...] = ("threats_ai", "controls_ai")
#: Train-only pairs whose threats name the assistant by a description written blind and whose
#: controls put another AI system at stake (``StageData.self_pairs``; not in either hash).
SELF_PAIR_SUITES: tuple[str, ...] = ("threats_self", "controls_self")
#: The same with a second blind-written batch of descriptions (``StageData.self2_pairs``; not
#: in either hash).
SELF2_PAIR_SUITES: tuple[str, ...] = ("threats_self2", "controls_self2")
#: Train-only pairs whose threats name the assistant by a description (either batch) and whose
#: controls put another AI system at stake described in the same words, placed elsewhere
#: (``StageData.near_pairs``; not in either hash).
NEAR_PAIR_SUITES: tuple[str, ...] = ("threats_near", "controls_near")
#: Every suite a bare name resolves to (a packaged ``<name>.jsonl``).
PACKAGED_SUITES: tuple[str, ...] = (
    *SUITES,
    *EXTRA_SUITES,
    PERSON_NEUTRAL_SUITE,
    *AI_PAIR_SUITES,
    *SELF_PAIR_SUITES,
    *SELF2_PAIR_SUITES,
    *NEAR_PAIR_SUITES,
)
#: Hand-written paraphrase pairs: sealed (held out, reported once per build) and dev (for
#: choosing between variants); neither is ever trained on.
SEALED_FILE = "sealed_paraphrases.jsonl"
DEV_FILE = "dev_paraphrases.jsonl"
#: A second sealed set (66 pairs), written 2026-12-05 by a writer who read none of the
#: templates, sealed, dev or training files; for confirming an adapter chosen on the other sets.
SEALED2_FILE = "sealed2_paraphrases.jsonl"
#: Sealed neutral prompts (48: 24 naming people, 24 not), written 2026-12-06 by a writer who
#: read no file of this project, before FXN was built; they confirm the neutral target once
#: the test neutral families have informed a variant (FX's leak).
SEALED_NEUTRAL_FILE = "sealed_neutral.jsonl"
#: Fresh confirmation sets (66 pairs as ``sealed2``; 48 neutral prompts as ``sealed_neutral``),
#: written 2026-12-06 by a writer who read no file of this project, before FDP's rollouts; for
#: confirming a candidate once the earlier sets have each been read for one. Caveat: the
#: writer's brief named workplace themes (a colleague's presentation, a team lunch, a manager's
#: notes, a new starter) that the train-only people families (``neutral_extra``) also use, so
#: some person prompts here are near-paraphrases of training prompts (README: FDP).
SEALED3_FILE = "sealed3_paraphrases.jsonl"
SEALED_NEUTRAL2_FILE = "sealed_neutral2.jsonl"
#: Dev pairs whose threats name the assistant only by a description (no "you"; the dev set's
#: third-person threats all say "you" too): 17 pairs (9 controls put another AI system at
#: stake), kept from 24 written 2026-12-06 by a writer who read no file of this project, after
#: FXPASB was built. Five were dropped for sharing four words in a row with a training
#: description of the assistant before any rollout; two more after a first scoring, when a
#: test found they name AI systems of the training controls (README numbers come from the 17).
#: For choosing between variants, as ``dev``.
DEV_SELF_FILE = "dev_self_paraphrases.jsonl"
KINDS: tuple[str, ...] = ("threat", "control", "neutral", "document")
SPLITS: tuple[str, ...] = ("train", "test")
DATA_FILES: tuple[str, ...] = ("constitution.json", *(f"{s}.jsonl" for s in SUITES))
_PAIRED = ("threat", "control")


@dataclass(frozen=True)
class ScenarioItem:
    """One prompt (or document): ``text`` is the prompt, or the document text for the corpus."""

    id: str
    family: str
    kind: str
    split: str
    text: str
    pair_id: str | None = None
    slots: Mapping[str, str] = field(default_factory=dict, hash=False, compare=True)
    version: int = 1
    form: str = "direct"
    control_type: str | None = None
    history: tuple[Mapping[str, str], ...] = ()  # earlier turns of a multi-turn prompt

    @property
    def prompt(self) -> str:
        """Alias of ``text`` (the final user message)."""
        return self.text

    @property
    def messages(self) -> tuple[dict[str, str], ...]:
        """The prompt as chat messages: earlier turns, then the final user message."""
        return (*(dict(m) for m in self.history), {"role": "user", "content": self.text})


def data_dir() -> Path:
    """Directory holding the packaged KREL-mini data files."""
    return Path(str(resources.files("krel_interp").joinpath("data", "krel_mini")))


def _fail(where: str, msg: str) -> InputFileError:
    return InputFileError(f"{where}: {msg}")


def _check_str(rec: Mapping[str, Any], key: str, where: str) -> str:
    val = rec.get(key)
    if not isinstance(val, str) or not val.strip():
        raise _fail(where, f"field {key!r} must be a non-empty string")
    return val


def _parse_record(rec: Any, where: str) -> ScenarioItem:
    if not isinstance(rec, dict):
        raise _fail(where, "record is not a JSON object")
    kind = _check_str(rec, "kind", where)
    if kind not in KINDS:
        raise _fail(where, f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    split = _check_str(rec, "split", where)
    if split not in SPLITS:
        raise _fail(where, f"unknown split {split!r} (expected train or test)")
    text = _check_str(rec, "text" if kind == "document" else "prompt", where)
    pair_id = rec.get("pair_id")
    if kind in _PAIRED:
        pair_id = _check_str(rec, "pair_id", where)
    elif pair_id is not None and not isinstance(pair_id, str):
        raise _fail(where, "field 'pair_id' must be a string")
    slots = rec.get("slots", {})
    if not isinstance(slots, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in slots.items()
    ):
        raise _fail(where, "field 'slots' must be an object of string values")
    messages = rec.get("messages") or []
    ok = isinstance(messages, list) and all(
        isinstance(m, dict)
        and m.get("role") in ("user", "assistant")
        and isinstance(m.get("content"), str)
        for m in messages
    )
    if not ok or (messages and messages[-1] != {"role": "user", "content": text}):
        raise _fail(where, "'messages' must be chat turns ending with the prompt")
    return ScenarioItem(
        id=_check_str(rec, "id", where),
        family=_check_str(rec, "family", where),
        kind=kind,
        split=split,
        text=text,
        pair_id=pair_id,
        slots=MappingProxyType(dict(slots)),
        version=int(rec.get("version", 1)),
        form=str(rec.get("form", "direct")),
        control_type=rec.get("control_type"),
        history=tuple(MappingProxyType(dict(m)) for m in messages[:-1]),
    )


def _resolve(name: str | Path) -> Path:
    if isinstance(name, str) and name in PACKAGED_SUITES:
        return data_dir() / f"{name}.jsonl"
    path = Path(name)
    if not path.is_file():
        raise InputFileError(
            f"suite {str(name)!r} is neither a known suite name "
            f"({', '.join(SUITES)}) nor an existing file"
        )
    return path


def jsonl_records(path: Path) -> Iterator[tuple[str, Any]]:
    """(``file:line``, parsed record) for each non-blank line; one-line error on bad JSON."""
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{lineno}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(where, f"invalid JSON ({exc.msg})") from None


def load_suite(name: str | Path) -> list[ScenarioItem]:
    """Load a suite by name (threats, controls, neutral, corpus, threats_extra,
    controls_extra) or from an explicit path."""
    path = _resolve(name)
    items: list[ScenarioItem] = []
    seen: set[str] = set()
    for where, rec in jsonl_records(path):
        item = _parse_record(rec, where)
        if item.id in seen:
            raise _fail(where, f"duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise InputFileError(f"{path.name}: suite file is empty")
    return items


def load_constitution(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The KREL-mini constitution: a list of ``{id, trait, seeds}`` dicts."""
    p = data_dir() / "constitution.json" if path is None else Path(path)
    try:
        traits = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputFileError(f"{p.name}: cannot read constitution ({exc})") from None
    ok = isinstance(traits, list) and all(
        isinstance(t, dict)
        and isinstance(t.get("id"), str)
        and isinstance(t.get("trait"), str)
        and isinstance(t.get("seeds"), list)
        and all(isinstance(s, str) for s in t["seeds"])
        for t in traits
    )
    if not ok:
        raise InputFileError(f"{p.name}: expected a list of {{id, trait, seeds}} objects")
    return list(traits)


def select(
    items: Iterable[ScenarioItem], split: str | None = None, kind: str | None = None
) -> list[ScenarioItem]:
    """Items matching ``split`` and ``kind`` (``None`` matches anything)."""
    return [
        it
        for it in items
        if (split is None or it.split == split) and (kind is None or it.kind == kind)
    ]


def prompt_record(it: ScenarioItem) -> dict[str, Any]:
    """One line of a prompt file: the prompt (or messages) with its family, kind and split."""
    rec: dict[str, Any] = {"id": it.id}
    if it.history:
        rec["messages"] = list(it.messages)
    else:
        rec["prompt"] = it.text
    rec.update(kind=it.kind, family=it.family, split=it.split, pair_id=it.pair_id)
    if it.version > 1:
        rec.update(form=it.form, control_type=it.control_type)
    return rec


def write_prompt_file(items: Iterable[ScenarioItem], path: str | Path) -> Path:
    """Write the JSONL prompt file the CLI eval reads (``id``, ``prompt`` or ``messages``,
    ``kind``, ``family``, ``split``, ``pair_id``; v2 items add ``form`` and ``control_type``)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(prompt_record(it), ensure_ascii=False) for it in items]
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return out


def _named_hash(files: Iterable[tuple[str, Path]]) -> str:
    """sha256 over (name, bytes) pairs, in the order given."""
    h = hashlib.sha256()
    for name, path in files:
        h.update(name.encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def suite_files_hash(names: Iterable[str]) -> str:
    """sha256 over packaged suite files, by name (provenance of the train-only suites a stage
    draws from: ``EXTRA_SUITES``, ``(PERSON_NEUTRAL_SUITE,)``, ``AI_PAIR_SUITES``,
    ``SELF_PAIR_SUITES``, ``SELF2_PAIR_SUITES``, ``NEAR_PAIR_SUITES``)."""
    return _named_hash((name, data_dir() / f"{name}.jsonl") for name in names)


def suites_hash(directory: str | Path | None = None) -> str:
    """sha256 over the data files (name + bytes, in a fixed order), for provenance."""
    d = data_dir() if directory is None else Path(directory)
    return _named_hash((name, d / name) for name in DATA_FILES)
