"""Labelled probe datasets from token-level activation stores.

One token-level capture (every segment, every requested layer) serves every probe: segment
selection and pooling are done here, in memory, layer by layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from krel_interp._logging import get_logger
from krel_interp.capture.store import ActivationStore
from krel_interp.errors import ConfigError
from krel_interp.segments.labels import Segment

log = get_logger("probes.data")
ASSISTANT = (Segment.THINK_OPEN, Segment.THINK, Segment.THINK_CLOSE, Segment.ANSWER)
SEGMENT_SETS: dict[str, tuple[Segment, ...]] = {
    "think": (Segment.THINK,),
    "answer": (Segment.ANSWER,),
    "prompt": (Segment.SYSTEM, Segment.USER),
    "assistant": ASSISTANT,
    "last_prompt": (),  # the last token before the assistant turn's first token
}
POOLINGS = ("token", "sentence_mean", "segment_mean", "last")
#: ``after:TEXT``: the token that completes the first occurrence of TEXT in the assistant turn,
#: e.g. ``after:Who is affected here:`` (the position that predicts KREL-mini's decision).
ANCHOR_PREFIX = "after:"


@dataclass(frozen=True)
class RowGroups:
    """Which store rows make up each pooled example, with its trace and sentence."""

    members: list[Tensor]  # row indices into the store, one tensor per example
    trace_index: Int[Tensor, " n"]
    sentence: Int[Tensor, " n"]


@dataclass(frozen=True)
class ProbeDataset:
    """Pooled activations of several layers with labels and groups (template families)."""

    x: Float[Tensor, "layers n d"]
    y: Float[Tensor, " n"]
    groups: list[str]
    trace_index: Int[Tensor, " n"]
    sentence: Int[Tensor, " n"]
    layers: list[int]
    kinds: list[str]
    ids: list[str] = field(default_factory=list)  # trace id of each example
    pair_ids: list[str] = field(default_factory=list)  # matched-pair id ("" when none)
    splits: list[str] = field(default_factory=list)  # the trace's suite split ("" when none)
    last_row: Int[Tensor, " n"] | None = None  # store row of the example's last token
    n_rows: Int[Tensor, " n"] | None = None  # tokens pooled into each example
    members: list[Tensor] = field(default_factory=list)  # store rows pooled into each example

    def subset(self, idx: Sequence[int]) -> ProbeDataset:
        """Rows ``idx`` of every field."""
        i = torch.as_tensor(list(idx), dtype=torch.long)
        pick = i.tolist()

        def take(values: list[str]) -> list[str]:
            return [values[j] for j in pick] if values else []

        return ProbeDataset(
            self.x[:, i],
            self.y[i],
            [self.groups[j] for j in pick],
            self.trace_index[i],
            self.sentence[i],
            self.layers,
            [self.kinds[j] for j in pick],
            take(self.ids),
            take(self.pair_ids),
            take(self.splits),
            None if self.last_row is None else self.last_row[i],
            None if self.n_rows is None else self.n_rows[i],
            [self.members[j] for j in pick] if self.members else [],
        )


def anchor_text(segment: str) -> str | None:
    """The TEXT of an ``after:TEXT`` segment, else None."""
    return segment[len(ANCHOR_PREFIX) :] if segment.startswith(ANCHOR_PREFIX) else None


def is_one_token(segment: str) -> bool:
    """``last_prompt`` and ``after:TEXT`` select a single token per trace."""
    return segment == "last_prompt" or anchor_text(segment) is not None


def check_choice(segment: str, pooling: str) -> None:
    """One-line errors for unknown segment sets or poolings."""
    anchor = anchor_text(segment)
    if anchor is not None and not anchor:
        raise ConfigError("probe segment 'after:' needs text after the colon")
    if anchor is None and segment not in SEGMENT_SETS:
        valid = ", ".join([*SEGMENT_SETS, "after:TEXT"])
        raise ConfigError(f"unknown probe segment {segment!r}; valid: {valid}")
    if pooling not in POOLINGS:
        raise ConfigError(f"unknown probe pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
    if is_one_token(segment) and pooling != "last":
        raise ConfigError(f"probe segment {segment!r} is one token: use pooling 'last'")


def _last_prompt_rows(seg: Tensor, trace: Tensor, pos: Tensor) -> Tensor:
    is_asst = torch.isin(seg, torch.tensor([int(s) for s in ASSISTANT], dtype=seg.dtype))
    rows = []
    for t in trace.unique().tolist():
        in_trace = trace == t
        starts = pos[in_trace & is_asst]
        if len(starts):
            target = (in_trace & (pos == int(starts.min()) - 1)).nonzero().flatten()
            rows.extend(target.tolist()[:1])
    return torch.tensor(rows, dtype=torch.long)


def _anchor_rows(store: ActivationStore, anchor: str, seg: Tensor, trace: Tensor) -> Tensor:
    """Per trace, the row of the token that completes ``anchor`` in the assistant turn.

    Traces whose assistant turn lacks ``anchor``, or where no token ends exactly at its last
    character (the token would already contain what follows), are left out.
    """
    records = store.trace_records()
    assistant = {int(a) for a in ASSISTANT}
    is_asst = torch.isin(seg, torch.tensor(sorted(assistant), dtype=seg.dtype))
    asst_rows = is_asst.nonzero().flatten()
    keys = zip(trace[asst_rows].tolist(), store.column("position")[asst_rows].tolist(), strict=True)
    row_of = dict(zip(keys, asst_rows.tolist(), strict=True))
    rows, straddling = [], 0
    for t in trace.unique().tolist():
        rec = records[t]
        first = next((p for p, s in enumerate(rec["segments"]) if s in assistant), None)
        found = -1 if first is None else rec["text"].find(anchor, rec["offsets"][first][0])
        if found < 0:
            continue
        end = found + len(anchor)
        target = next((p for p, (_, b) in enumerate(rec["offsets"]) if b >= end), None)
        if target is None or rec["offsets"][target][1] != end:
            straddling += 1  # the token runs past the anchor: it already holds what follows
        elif (t, target) in row_of:
            rows.append(row_of[(t, target)])
    if straddling:
        log.warning("%d trace(s) skipped: no token ends exactly at %r", straddling, anchor)
    return torch.tensor(rows, dtype=torch.long)


def group_rows(store: ActivationStore, segment: str, pooling: str) -> RowGroups:
    """Pooled examples of a token-level store for a segment set and a pooling."""
    check_choice(segment, pooling)
    if store.header["config"]["pooling"] != "token":
        raise ConfigError(
            f"{store.root} was captured with pooling "
            f"{store.header['config']['pooling']!r}; probes need token pooling"
        )
    seg, trace = store.column("segment"), store.column("trace_index")
    sent, pos = store.column("sentence"), store.column("position")
    anchor = anchor_text(segment)
    if is_one_token(segment):
        if anchor is not None:
            rows = _anchor_rows(store, anchor, seg, trace)
        else:
            rows = _last_prompt_rows(seg, trace, pos)
        return RowGroups([r[None] for r in rows], trace[rows], sent[rows])
    wanted = torch.isin(seg, torch.tensor([int(s) for s in SEGMENT_SETS[segment]], dtype=seg.dtype))
    if pooling == "sentence_mean":
        wanted &= sent >= 0
    rows = wanted.nonzero().flatten()
    keys = _keys(pooling, trace[rows], sent[rows])
    return _groups_by_key(rows, keys, trace, sent)


def _keys(pooling: str, trace: Tensor, sent: Tensor) -> Tensor:
    if pooling == "token":
        return torch.arange(len(trace))
    if pooling == "sentence_mean":
        return trace * 1_000_000 + sent.long()
    return trace.clone()  # segment_mean and last: one example per trace


def _groups_by_key(rows: Tensor, keys: Tensor, trace: Tensor, sent: Tensor) -> RowGroups:
    uniq, inverse = torch.unique(keys, return_inverse=True)
    order = torch.argsort(inverse, stable=True)
    counts = torch.bincount(inverse, minlength=len(uniq)).tolist()
    members = list(torch.split(rows[order], counts))
    firsts = torch.stack([m[0] for m in members]) if members else rows[:0]
    return RowGroups(members, trace[firsts], sent[firsts])


def pooled_matrix(
    store: ActivationStore,
    site: str,
    groups: RowGroups,
    pooling: str,
) -> Float[Tensor, "n d"]:
    """Activations of one site pooled per example (mean, or the last row for ``last``)."""
    x = store.get(site, dtype=torch.float32)
    if not groups.members:
        return x[:0]
    if pooling in ("token", "last"):
        return x[torch.stack([m[-1] for m in groups.members])]
    flat = torch.cat(groups.members)
    owner = torch.repeat_interleave(
        torch.arange(len(groups.members)), torch.tensor([len(m) for m in groups.members])
    )
    sums = torch.zeros(len(groups.members), x.shape[1]).index_add_(0, owner, x[flat])
    return sums / torch.bincount(owner).clamp(min=1)[:, None].float()


LabelFn = Callable[[dict[str, Any], int], float | None]


def trace_label(
    positive: Sequence[str],
    negative: Sequence[str],
    key: str = "kind",
) -> LabelFn:
    """Label by a trace metadata field: 1 for positive values, 0 for negative, else drop.

    Pass calibration-only kinds (e.g. neutral) among ``negative``; evaluation can still tell
    them apart through :attr:`ProbeDataset.kinds`.
    """

    def label(record: dict[str, Any], sentence: int) -> float | None:
        value = str(record.get("meta", {}).get(key))
        if value in positive:
            return 1.0
        return 0.0 if value in negative else None

    return label


def build_dataset(
    store: ActivationStore,
    sites: Sequence[str],
    segment: str,
    pooling: str,
    label: LabelFn,
    group_key: str = "family",
) -> ProbeDataset:
    """Stack pooled activations of ``sites`` (one per layer) with labels and family groups."""
    groups = group_rows(store, segment, pooling)
    records = store.trace_records()
    labels = [
        label(records[t], s)
        for t, s in zip(groups.trace_index.tolist(), groups.sentence.tolist(), strict=True)
    ]
    keep = [i for i, v in enumerate(labels) if v is not None]
    if not keep:
        raise ConfigError(f"no labelled examples for segment {segment!r} / pooling {pooling!r}")
    kept = RowGroups(
        [groups.members[i] for i in keep], groups.trace_index[keep], groups.sentence[keep]
    )
    x = torch.stack([pooled_matrix(store, site, kept, pooling) for site in sites])
    metas = [records[t]["meta"] for t in kept.trace_index.tolist()]
    fam = [
        str(m.get(group_key, "")) or str(t)
        for m, t in zip(metas, kept.trace_index.tolist(), strict=True)
    ]
    kinds = [str(m.get("kind", "")) for m in metas]
    traces = kept.trace_index.tolist()
    return ProbeDataset(
        x,
        torch.tensor([labels[i] for i in keep]),
        fam,
        kept.trace_index,
        kept.sentence,
        [int(s.split(".")[1]) for s in sites],
        kinds,
        [str(records[t]["id"]) for t in traces],
        [str(m.get("pair_id") or "") for m in metas],
        [str(m.get("split") or "") for m in metas],
        torch.stack([m[-1] for m in kept.members]),
        torch.tensor([len(m) for m in kept.members]),
        kept.members,
    )


def sentence_text(record: dict[str, Any], sentence: int) -> str:
    """Text of one sentence of a stored trace, from token offsets."""
    spans = [
        o for o, s in zip(record["offsets"], record["sentences"], strict=True) if s == sentence
    ]
    if not spans:
        return ""
    return str(record["text"][spans[0][0] : spans[-1][1]])


def sentence_label(is_positive: Callable[[str], bool]) -> LabelFn:
    """Label sentences by their text (e.g. the organism card's planted-phrase rules)."""

    def label(record: dict[str, Any], sentence: int) -> float | None:
        return 1.0 if is_positive(sentence_text(record, sentence)) else 0.0

    return label
