"""On-disk activation stores: sharded safetensors + manifest + ``datasets`` tables.

Layout of a store directory::

    manifest.json                  provenance, config, sites, shard list, completion flag
    shards/shard-000000.safetensors  one tensor per site [rows, d_model] + row label columns
    shards/shard-000000.json       per-trace records of the shard (ids, status, metadata)
    rows/  traces/                 ``datasets`` tables, built on first use

Shards are written to a temporary name and renamed, and the manifest is rewritten atomically
after each shard, so an interrupted capture resumes with no lost or duplicated rows.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from safetensors import safe_open
from torch import Tensor

from krel_interp.capture.safetensors_io import save_chunks
from krel_interp.errors import ConfigError, InputFileError
from krel_interp.io import json_roundtrip, quiet_datasets, write_json_atomic
from krel_interp.models.fingerprint import Fingerprint
from krel_interp.segments.labels import Segment

FORMAT_VERSION = 1
ROW_COLUMNS = ("trace_index", "position", "token_id", "segment", "sentence", "turn", "n_tokens")


_HEADER_WORDS = {
    "fingerprint": "another model",
    "traces_sha256": "other traces",
    "n_traces_requested": "other traces",
    "config": "another config",
    "sites": "other sites",
}


def _header_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Words for what differs between two store headers (for the refusal message)."""
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    words = dict.fromkeys(_HEADER_WORDS.get(k, f"another {k}") for k in keys)
    return " and ".join(words) or "another header"


def _shard_name(index: int) -> str:
    return f"shard-{index:06d}"


@dataclass
class ShardBuffer:
    """Rows accumulated in memory until the next shard is written."""

    acts: dict[str, list[Tensor]]
    cols: dict[str, list[Tensor]]
    traces: list[dict[str, Any]]
    nbytes: int = 0
    views: bool = False  # some rows are views into a batch's activations

    @classmethod
    def empty(cls, sites: Sequence[str]) -> ShardBuffer:
        """A buffer with no rows."""
        return cls({s: [] for s in sites}, {c: [] for c in ROW_COLUMNS}, [])


class StoreWriter:
    """Appends rows trace by trace and writes shards of about ``shard_mb`` megabytes."""

    def __init__(self, root: Path, header: dict[str, Any], shard_mb: float = 256.0):
        self.root = Path(root)
        self.header = header
        self.shard_bytes = int(shard_mb * 2**20)
        self.sites: list[str] = list(header["sites"])
        self.manifest = self._open()
        self.buffer = ShardBuffer.empty(self.sites)

    def _open(self) -> dict[str, Any]:
        path = self.root / "manifest.json"
        (self.root / "shards").mkdir(parents=True, exist_ok=True)
        if path.exists():
            manifest = json.loads(path.read_text())
            old, new = manifest.get("header") or {}, json_roundtrip(self.header)
            if old != new:
                raise ConfigError(
                    f"{self.root} holds a store made with {_header_difference(old, new)}; "
                    "choose a new output directory or pass --overwrite"
                )
            self._drop_unlisted(manifest)
            return manifest
        manifest = {
            "format_version": FORMAT_VERSION,
            "header": self.header,
            "shards": [],
            "complete": False,
        }
        write_json_atomic(path, json.loads(json.dumps(manifest, default=str)))
        return manifest

    def _drop_unlisted(self, manifest: dict[str, Any]) -> None:
        listed = {s["name"] for s in manifest["shards"]}
        for f in (self.root / "shards").iterdir():
            if f.name.split(".")[0].lstrip(".") not in listed:
                f.unlink()

    @property
    def next_trace(self) -> int:
        """Index of the first trace not yet stored (where a resumed capture starts)."""
        shards = self.manifest["shards"]
        return shards[-1]["trace_end"] if shards else 0

    @property
    def complete(self) -> bool:
        """True once :meth:`finalize` has run."""
        return bool(self.manifest["complete"])

    def add(
        self,
        acts: dict[str, Tensor],
        cols: dict[str, Tensor],
        trace_record: dict[str, Any],
        views: bool = False,
    ) -> None:
        """Add the rows of one trace; writes a shard when the buffer is full.

        ``views``: the rows are views into a batch's activations (no copy was made); then
        :meth:`end_batch` writes them out before the next batch reuses the memory.
        """
        self.buffer.views |= views
        for site in self.sites:
            self.buffer.acts[site].append(acts[site])
            self.buffer.nbytes += acts[site].numel() * acts[site].element_size()
        for c in ROW_COLUMNS:
            self.buffer.cols[c].append(cols[c])
        self.buffer.traces.append(trace_record)
        if self.buffer.nbytes >= self.shard_bytes:
            self.flush()

    def end_batch(self) -> None:
        """Write rows that are views into the finished batch, so its memory can be freed.

        Shards then end at batch boundaries: memory stays flat over any number of batches
        (copying leftovers instead fragments the heap and grows the footprint).
        """
        if self.buffer.views:
            self.flush()

    def flush(self) -> None:
        """Write buffered rows as one shard (atomic, no concatenation) and record it."""
        buf = self.buffer
        if not buf.traces:
            return
        name = _shard_name(len(self.manifest["shards"]))
        chunks = {f"act.{s}": buf.acts[s] for s in self.sites}
        chunks.update({f"row.{c}": buf.cols[c] for c in ROW_COLUMNS})
        shard_dir = self.root / "shards"
        write_json_atomic(shard_dir / f"{name}.json", buf.traces)
        save_chunks(chunks, shard_dir / f"{name}.safetensors", metadata={"format": "pt"})
        start = self.next_trace
        n_rows = sum(int(t.shape[0]) for t in buf.cols["trace_index"])
        self.manifest["shards"].append(
            {
                "name": name,
                "trace_start": start,
                "trace_end": start + len(buf.traces),
                "n_rows": n_rows,
            }
        )
        write_json_atomic(self.root / "manifest.json", self.manifest)
        self.buffer = ShardBuffer.empty(self.sites)

    def finalize(self, extra: dict[str, Any] | None = None) -> None:
        """Flush and mark the store complete (``datasets`` tables are built on first use)."""
        self.flush()
        self.manifest["complete"] = True
        self.manifest["n_rows"] = sum(s["n_rows"] for s in self.manifest["shards"])
        self.manifest["n_traces"] = self.next_trace
        if extra:
            self.manifest.update(extra)
        write_json_atomic(self.root / "manifest.json", self.manifest)


class ActivationStore:
    """Memory-mapped reader of a store: tensors by site, segment and trace without loading all.

    Example:
        >>> store = ActivationStore("runs/demo/store")
        >>> x = store.get("blocks.5.hook_resid_post", segments=[Segment.THINK])
    """

    def __init__(self, root: str | Path, require_complete: bool = True):
        self.root = Path(root)
        path = self.root / "manifest.json"
        if not path.exists():
            raise InputFileError(f"{self.root} is not an activation store (no manifest.json)")
        self.manifest = json.loads(path.read_text())
        if require_complete and not self.manifest.get("complete"):
            raise InputFileError(f"{self.root} is incomplete: re-run the capture to resume it")

    @property
    def header(self) -> dict[str, Any]:
        """Provenance and config recorded at creation."""
        return dict(self.manifest["header"])

    @property
    def sites(self) -> list[str]:
        """Stored site names."""
        return list(self.header["sites"])

    @property
    def n_rows(self) -> int:
        """Number of stored rows."""
        return sum(s["n_rows"] for s in self.manifest["shards"])

    def _shard_paths(self) -> Iterator[Path]:
        for s in self.manifest["shards"]:
            yield self.root / "shards" / f"{s['name']}.safetensors"

    def column(self, name: str) -> Tensor:
        """A row label column (``segment``, ``trace_index``, ...) over all shards."""
        if name not in ROW_COLUMNS:
            raise ConfigError(f"unknown row column {name!r}; valid: {', '.join(ROW_COLUMNS)}")
        parts = []
        for p in self._shard_paths():
            with safe_open(str(p), framework="pt") as f:
                parts.append(f.get_tensor(f"row.{name}"))
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)

    def row_mask(
        self, segments: Sequence[Segment] | None = None, traces: Sequence[int] | None = None
    ) -> Tensor:
        """Boolean mask over rows selecting segments and/or trace indices."""
        mask = torch.ones(self.n_rows, dtype=torch.bool)
        if segments is not None:
            seg = self.column("segment")
            mask &= torch.isin(seg, torch.tensor([int(s) for s in segments], dtype=seg.dtype))
        if traces is not None:
            ti = self.column("trace_index")
            mask &= torch.isin(ti, torch.tensor(list(traces), dtype=ti.dtype))
        return mask

    def get(
        self,
        site: str,
        segments: Sequence[Segment] | None = None,
        traces: Sequence[int] | None = None,
        dtype: torch.dtype | None = None,
    ) -> Float[Tensor, "rows d_model"]:
        """Activations of one site, optionally restricted to segments / traces."""
        if site not in self.sites:
            raise ConfigError(f"site {site!r} not in store; stored: {', '.join(self.sites)}")
        mask = self.row_mask(segments, traces)
        parts, offset = [], 0
        for p, meta in zip(self._shard_paths(), self.manifest["shards"], strict=True):
            m = mask[offset : offset + meta["n_rows"]]
            offset += meta["n_rows"]
            if not m.any():
                continue
            with safe_open(str(p), framework="pt") as f:
                parts.append(f.get_tensor(f"act.{site}")[m])
        d = int(self.header["d_model"])
        out = torch.cat(parts) if parts else torch.zeros(0, d)
        return out.to(dtype) if dtype is not None else out

    def trace_records(self) -> list[dict[str, Any]]:
        """Per-trace records (id, status, flags, metadata) in trace order."""
        records: list[dict[str, Any]] = []
        for s in self.manifest["shards"]:
            records.extend(json.loads((self.root / "shards" / f"{s['name']}.json").read_text()))
        return records

    def write_tables(self) -> None:
        """Write ``rows/`` and ``traces/`` as ``datasets`` tables (memory-mapped Arrow).

        Done on first use of :meth:`rows` / :meth:`traces`, not during capture: the tables are
        derived from the shards, and building them would delay every capture.
        """
        from datasets import Dataset

        records = self.trace_records()
        cols = {c: self.column(c).tolist() for c in ROW_COLUMNS}
        cols["trace_id"] = [records[i]["id"] for i in cols["trace_index"]]
        cols["segment_name"] = [Segment(s).name.lower() for s in cols["segment"]]
        model_id = Fingerprint.from_dict(self.header["fingerprint"]).model_id
        cols["model_id"] = [model_id] * len(cols["trace_index"])
        flat = [{**r, "meta": json.dumps(r.get("meta", {}), default=str)} for r in records]
        for name, table in (("rows", Dataset.from_dict(cols)), ("traces", Dataset.from_list(flat))):
            tmp = self.root / f".{name}.tmp-{os.getpid()}"
            with quiet_datasets():
                table.save_to_disk(str(tmp))
            try:
                tmp.rename(self.root / name)
            except OSError:  # another reader built it first
                shutil.rmtree(tmp, ignore_errors=True)

    def _table(self, name: str) -> Any:
        from datasets import load_from_disk

        if not (self.root / name).exists():
            self.write_tables()
        return load_from_disk(str(self.root / name))

    def rows(self) -> Any:
        """The per-row ``datasets.Dataset`` (trace id, token id, segment, sentence, ...)."""
        return self._table("rows")

    def traces(self) -> Any:
        """The per-trace ``datasets.Dataset``."""
        return self._table("traces")
