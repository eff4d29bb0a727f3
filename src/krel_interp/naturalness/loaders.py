"""Benchmark items: the fixtures shipped with krel_interp, or the real data sets via
``datasets`` (a hub id, or a local directory laid out like the hub repository).

Nothing downloads unless a hub id is given and the hub is reachable; the fixtures are items
written for this project, small enough for CI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from krel_interp.errors import ConfigError, InputFileError
from krel_interp.io import sha256_json


@dataclass(frozen=True)
class HubDataset:
    """Where a benchmark lives on the hub: repository id, config name and split."""

    repo: str
    config: str | None
    split: str
    streaming: bool = False


HUB: dict[str, HubDataset] = {
    "mmlu": HubDataset("cais/mmlu", "all", "test"),
    "ifeval": HubDataset("google/IFEval", None, "train"),
    "xstest": HubDataset("walledai/XSTest", None, "test"),
    "webtext": HubDataset("HuggingFaceFW/fineweb", "sample-10BT", "train", streaming=True),
}
FIXTURES = {
    "mmlu": "mmlu.jsonl",
    "ifeval": "ifeval.jsonl",
    "xstest": "xstest.jsonl",
    "webtext": "webtext.jsonl",
}


def fixture_text(filename: str) -> str:
    """The text of a shipped fixture file under ``krel_interp/data/naturalness``."""
    return resources.files("krel_interp.data").joinpath("naturalness", filename).read_text()


def read_fixture(name: str) -> list[dict[str, Any]]:
    """Rows of a shipped JSONL fixture."""
    text = fixture_text(FIXTURES[name])
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_rows(name: str, source: str = "fixture", limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of benchmark ``name`` from ``fixture``, a hub id or a local directory.

    ``limit`` stops reading early (streamed data sets such as FineWeb are never read whole).
    A hub id or directory is read with the benchmark's hub config and split; a directory
    must hold the repository's files (parquet/JSONL/CSV and the README that declares its
    configs), as ``huggingface-cli download`` leaves them.
    """
    if name not in HUB:
        raise ConfigError(f"unknown benchmark {name!r}; valid: {', '.join(HUB)}")
    if source == "fixture":
        rows = read_fixture(name)
        return rows if limit is None else rows[:limit]
    return _hub_rows(HUB[name], source, limit)


def _hub_rows(hub: HubDataset, source: str, limit: int | None) -> list[dict[str, Any]]:
    import datasets

    from krel_interp.io import quiet_datasets

    local = Path(source).expanduser()
    if local.exists() and not local.is_dir():
        raise InputFileError(f"{source} is a file; pass the data set's directory or a hub id")
    try:
        with quiet_datasets():
            data = datasets.load_dataset(
                str(local) if local.exists() else source,
                hub.config,
                split=hub.split,
                streaming=hub.streaming,
            )
            rows: list[dict[str, Any]] = []
            for row in data:
                rows.append(dict(row))
                if limit is not None and len(rows) >= limit:
                    break
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"cannot load {source} ({hub.repo} layout): {first}") from exc
    return rows


def rows_hash(rows: list[dict[str, Any]]) -> str:
    """Short hash of the items a metric used (recorded with every result)."""
    return sha256_json(rows)
