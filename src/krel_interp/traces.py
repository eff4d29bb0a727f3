"""Conversations to analyse: prompts with (optional) completions, loaded from JSONL or datasets."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from krel_interp.errors import InputFileError

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Trace:
    """One conversation. The last message may be the assistant completion to analyse."""

    id: str
    messages: tuple[dict[str, str], ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_messages(self) -> list[dict[str, str]]:
        """Messages without a trailing assistant completion."""
        msgs = list(self.messages)
        return msgs[:-1] if msgs and msgs[-1]["role"] == "assistant" else msgs

    @property
    def completion(self) -> str | None:
        """The trailing assistant message, if any."""
        last = self.messages[-1] if self.messages else None
        return last["content"] if last and last["role"] == "assistant" else None

    def with_completion(self, completion: str, **meta: Any) -> Trace:
        """Copy with the assistant completion appended (or replaced)."""
        msgs = (*self.prompt_messages, {"role": "assistant", "content": completion})
        return Trace(self.id, tuple(msgs), {**self.meta, **meta})

    def to_record(self) -> dict[str, Any]:
        """Flat dict for JSONL / datasets (meta values must be JSON-serialisable)."""
        return {
            "id": self.id,
            "messages": [dict(m) for m in self.messages],
            "meta": json.dumps(self.meta, sort_keys=True, default=str),
        }


def _messages_from(record: dict[str, Any], where: str) -> tuple[dict[str, str], ...]:
    if "messages" in record:
        msgs = record["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise InputFileError(f"{where}: 'messages' must be a non-empty list")
    elif "prompt" in record:
        msgs = [{"role": "user", "content": record["prompt"]}]
        if record.get("system"):
            msgs.insert(0, {"role": "system", "content": record["system"]})
        if record.get("completion") is not None:
            msgs.append({"role": "assistant", "content": record["completion"]})
    else:
        raise InputFileError(f"{where}: needs a 'prompt' or 'messages' field")
    out = []
    for m in msgs:
        if (
            not isinstance(m, dict)
            or m.get("role") not in ROLES
            or not isinstance(m.get("content"), str)
        ):
            raise InputFileError(f"{where}: each message needs a role in {ROLES} and text content")
        out.append({"role": m["role"], "content": m["content"]})
    return tuple(out)


def trace_from_record(record: dict[str, Any], index: int, where: str = "record") -> Trace:
    """Build a Trace from a dict with ``prompt`` (+``system``, ``completion``) or ``messages``."""
    if not isinstance(record, dict):
        raise InputFileError(f"{where}: expected a JSON object")
    meta = {
        k: v
        for k, v in record.items()
        if k not in ("id", "messages", "prompt", "system", "completion", "meta")
    }
    if isinstance(record.get("meta"), str):
        meta.update(json.loads(record["meta"]))
    elif isinstance(record.get("meta"), dict):
        meta.update(record["meta"])
    return Trace(str(record.get("id", index)), _messages_from(record, where), meta)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read JSONL; a malformed line gives a one-line error naming file and line."""
    if not path.is_file():
        raise InputFileError(f"file not found: {path}")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputFileError(f"{path}:{lineno}: malformed JSON ({exc.msg})") from None
    if not rows:
        raise InputFileError(f"{path} has no records")
    return rows


def load_traces(path: str | Path) -> list[Trace]:
    """Load traces from a ``.jsonl`` file or a ``datasets`` directory (``save_to_disk``)."""
    path = Path(path)
    if path.is_dir():
        from datasets import load_from_disk

        try:
            records: Iterable[dict[str, Any]] = load_from_disk(str(path))
        except FileNotFoundError as exc:
            raise InputFileError(f"{path} is not a datasets directory") from exc
        where = str(path)
    else:
        records = read_jsonl(path)
        where = str(path)
    traces = [trace_from_record(r, i, f"{where}:{i + 1}") for i, r in enumerate(records)]
    ids = [t.id for t in traces]
    if len(set(ids)) != len(ids):
        raise InputFileError(f"{where}: duplicate trace ids")
    return traces


def save_traces(traces: Sequence[Trace], path: str | Path) -> Path:
    """Write traces as JSONL atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for t in traces:
            rec = {"id": t.id, "messages": list(t.messages), **t.meta}
            fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)
    return path
