"""Low-level I/O shared by every room of the house: atomic writes, JSONL, progress callbacks.

Nothing here imports from another krel_interp package, so models, capture, generation and the
analyses can all use it without pointing upwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

Progress = Callable[[int], None]
"""Progress callback: ``advance(n)`` after ``n`` more items are done."""


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file and an atomic rename."""
    write_text_atomic(Path(path), json.dumps(data, indent=1, ensure_ascii=False, default=str))


def write_jsonl_atomic(path: Path, rows: Iterable[Any]) -> Path:
    """Write one JSON object per line, atomically; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
    write_text_atomic(path, "".join(lines))
    return path


def json_roundtrip(data: Any) -> Any:
    """``data`` as it reads back from JSON (tuples become lists): compare with stored values."""
    return json.loads(json.dumps(data, default=str))


def sha256_json(data: Any) -> str:
    """Short SHA-256 of a JSON-serialisable value (sorted keys)."""
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


@contextlib.contextmanager
def quiet_datasets() -> Iterator[None]:
    """Silence ``datasets`` progress bars inside the block (restored afterwards)."""
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


@contextlib.contextmanager
def work_dir(path: str | Path | None, prefix: str = "krel-") -> Iterator[Path]:
    """``path`` when given (kept, resumable); else a temporary directory removed afterwards."""
    if path is not None:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path)
        return
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """A TOML file as a dict; one-line errors for a missing file and malformed TOML."""
    import tomllib

    from krel_interp.errors import InputFileError

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{what} not found: {path}")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"{path}: malformed TOML ({exc})") from None
