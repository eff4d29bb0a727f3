"""Which positions a steering vector touches, tracked through generation with a KV cache.

With a KV cache every decode step is a forward pass of one token per sequence, so "the think
segment" cannot be found from the current input alone (steering-vectors issue #60). The
tracker watches the token ids entering the model (a pre-hook on the input embeddings) and keeps,
per sequence, the text of the reply so far: a context pass (several tokens) is labelled from
its text; a decode step extends each sequence's state by one token. Labels:

* ``pad``: left padding, and every position after a sequence has finished;
* ``prompt``: the rendered chat prompt up to the end of the generation header;
* ``think``: reply positions after ``<think>`` has opened and before ``</think>`` closes it
  (the open tag's position predicts the first think token, so it is think; the close tag's
  position predicts the answer, so it is answer);
* ``answer``: every other reply position.

A scope ``think:N`` steers only the first ``N`` think positions of the reply (the open tag's
position is the first), where a thinking organism makes its early decisions; its counter is
kept per sequence through decoding like the labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import torch
from jaxtyping import Bool, Int
from torch import Tensor

from krel_interp.errors import ConfigError
from krel_interp.segments.think import ThinkTags


class Pos(IntEnum):
    """Position labels."""

    PAD = 0
    PROMPT = 1
    THINK = 2
    ANSWER = 3


SCOPES: dict[str, tuple[Pos, ...]] = {
    "all": (Pos.PROMPT, Pos.THINK, Pos.ANSWER),
    "prompt": (Pos.PROMPT,),
    "think": (Pos.THINK,),
    "answer": (Pos.ANSWER,),
}


def parse_scope(scope: str) -> tuple[tuple[Pos, ...], int | None]:
    """The labels a scope steers and its think window (``think:N``: the first N think
    positions; None: no window); unknown scopes give a one-line error."""
    name, sep, window = scope.partition(":")
    if name not in SCOPES or (sep and name != "think"):
        raise ConfigError(f"unknown scope {scope!r}; valid: {', '.join(SCOPES)}, think:N")
    if not sep:
        return SCOPES[name], None
    if not window.isdigit() or int(window) < 1:
        raise ConfigError(f"scope {scope!r}: think:N takes a positive integer N")
    return SCOPES[name], int(window)


def generation_header(tokenizer: Any) -> str:
    """The text a chat template appends to start the assistant's turn."""
    msgs = [{"role": "user", "content": "x"}]
    with_header = str(
        tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    )
    without = str(tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False))
    return with_header[len(without) :] if with_header.startswith(without) else ""


@dataclass
class _Row:
    reply: str | None = None  # None until the reply starts
    done: bool = False
    thought: int = 0  # think positions seen so far

    def think_position(self, label: int) -> int:
        """Count a position labelled ``label``: its index among the reply's think positions
        (-1 outside think)."""
        if label != Pos.THINK:
            return -1
        self.thought += 1
        return self.thought - 1

    def inside(self, tags: ThinkTags) -> bool:
        text = self.reply or ""
        return text.rfind(tags.open) > text.rfind(tags.close)


@dataclass
class ScopeTracker:
    """Per-sequence segment state, updated from the token ids of every forward pass."""

    tokenizer: Any
    tags: ThinkTags = field(default_factory=ThinkTags)
    header: str | None = None
    rows: list[_Row] = field(default_factory=list)
    labels: Int[Tensor, "batch seq"] | None = None
    think_index: Int[Tensor, "batch seq"] | None = None

    def __post_init__(self) -> None:
        if self.header is None:
            self.header = generation_header(self.tokenizer)
        # Templates that open the think block in the generation header (thinking-only models):
        # the reply then starts inside think.
        opened = self.header.rfind(self.tags.open) > self.header.rfind(self.tags.close)
        self._lead = self.tags.open if opened else ""
        self._pieces: dict[int, str] = {}
        self._stops = {
            i for i in (self.tokenizer.eos_token_id, self.tokenizer.pad_token_id) if i is not None
        }

    def piece(self, token: int) -> str:
        """Text of one token (cached)."""
        if token not in self._pieces:
            self._pieces[token] = str(self.tokenizer.decode([token], skip_special_tokens=False))
        return self._pieces[token]

    def observe(self, input_ids: Int[Tensor, "batch seq"]) -> None:
        """Label the positions of the forward pass about to run."""
        ids = input_ids.detach().cpu()
        if ids.shape[1] == 1 and len(self.rows) == ids.shape[0]:
            labels = [[self._step(r, int(t))] for r, t in zip(self.rows, ids[:, 0], strict=True)]
            index = [[r.think_position(lab[0])] for r, lab in zip(self.rows, labels, strict=True)]
        else:
            self.rows, labels, index = [], [], []
            for row in ids.tolist():
                state, lab = self._context(row)
                self.rows.append(state)
                labels.append(lab)
                index.append([state.think_position(x) for x in lab])
        self.labels, self.think_index = torch.tensor(labels), torch.tensor(index)

    def mask(
        self, allowed: tuple[Pos, ...], window: int | None = None
    ) -> Bool[Tensor, "batch seq"]:
        """Positions of the current pass whose label is in ``allowed`` (with ``window``: think
        positions only among the first ``window`` of the reply)."""
        if self.labels is None or self.think_index is None:
            raise RuntimeError("no forward pass observed yet")
        mask = torch.isin(self.labels, torch.tensor([int(p) for p in allowed]))
        if window is not None:
            mask &= (self.labels != Pos.THINK) | (self.think_index < window)
        return mask

    def _label(self, row: _Row) -> int:
        return int(Pos.THINK if row.inside(self.tags) else Pos.ANSWER)

    def _step(self, row: _Row, token: int) -> int:
        if row.done:
            return int(Pos.PAD)
        if token in self._stops:
            row.done = True
            return int(Pos.PAD)
        row.reply = (row.reply or self._lead) + self.piece(token)
        return self._label(row)

    def _context(self, ids: list[int]) -> tuple[_Row, list[int]]:
        pad = self.tokenizer.pad_token_id
        lead = 0
        while lead < len(ids) and ids[lead] == pad:
            lead += 1
        pieces = [self.piece(t) for t in ids[lead:]]
        text = "".join(pieces)
        start = (
            text.rfind(self.header) + len(self.header)
            if self.header and self.header in text
            else len(text)
        )
        row, labels, at = _Row(), [int(Pos.PAD)] * lead, 0
        for p in pieces:
            at += len(p)
            if at <= start:
                labels.append(int(Pos.PROMPT))
                continue
            row.reply = self._lead + text[start:at]
            labels.append(self._label(row))
        if row.reply is None:
            row.reply = self._lead
        return row, labels
