"""``krel-interp inspect``: traces coloured by segment in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from krel_interp.cli.common import console
from krel_interp.errors import ConfigError, InputFileError


def _records_from_store(path: Path) -> list[dict[str, Any]]:
    from krel_interp.capture.store import ActivationStore

    return ActivationStore(path, require_complete=False).trace_records()


def _records_from_traces(path: Path, model: str | None) -> list[dict[str, Any]]:
    from transformers import AutoTokenizer

    from krel_interp.models.loading import resolve_source, resolve_spec
    from krel_interp.segments import segment_conversation
    from krel_interp.traces import load_traces

    if model is None:
        raise ConfigError("inspecting a trace file needs --model (for its tokenizer)")
    traces = load_traces(path)
    location = resolve_source(resolve_spec(model).source).location
    tok = AutoTokenizer.from_pretrained(location)
    out = []
    for t in traces:
        seg = segment_conversation(list(t.messages), tok)
        out.append(
            {
                "id": t.id,
                "status": seg.status.value,
                "flags": list(seg.flags),
                "text": seg.text,
                "offsets": seg.offsets,
                "segments": seg.segments,
            }
        )
    return out


def inspect_source(path: Path, trace_id: str | None, model: str | None, limit: int) -> None:
    """Print traces from a store directory or a traces file."""
    from rich.panel import Panel

    from krel_interp.viz.terminal import legend, trace_text

    records = _records_from_store(path) if path.is_dir() else _records_from_traces(path, model)
    if trace_id is not None:
        records = [r for r in records if str(r["id"]) == trace_id]
        if not records:
            raise InputFileError(f"no trace with id {trace_id!r} in {path}")
    console.print(legend())
    for r in records[:limit]:
        title = f"{r['id']}  status={r['status']}  flags={','.join(r['flags']) or '-'}"
        offsets = [tuple(o) for o in r["offsets"]]
        console.print(Panel(trace_text(r["text"], offsets, r["segments"]), title=title))
