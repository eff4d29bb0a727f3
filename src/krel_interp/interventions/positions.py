"""Token positions of a prompt (+ forced continuation) that interventions address.

A run is the chat prompt with its generation header, followed by an optional ``prefill`` (text
forced at the start of the reply, e.g. ``<think>\\nWho is affected here:``), tokenized piece by
piece as generation does. Position specs:

* ``last``: the last token (the position that predicts the next token);
* ``after:TEXT``: the token that completes the first occurrence of TEXT after the prompt;
* ``find:TEXT``: the last token of the first occurrence of TEXT in the final user message;
* ``slot:NAME``: as ``find:`` with the text of the trace's ``slots[NAME]`` (e.g. ``target``,
  the thing under threat in a KREL-mini scenario).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from krel_interp.errors import ConfigError
from krel_interp.models.loading import LoadedModel
from krel_interp.traces import Trace

PREFIXES = ("last", "after:", "find:", "slot:")


@dataclass(frozen=True)
class Run:
    """A tokenized run: ids, character offsets into ``text``, where the reply starts."""

    text: str
    ids: list[int]
    offsets: list[tuple[int, int]]
    reply_start: int  # character offset where the generation header ends
    user_start: int  # character offset of the final user message


def prepare_run(lm: LoadedModel, trace: Trace, prefill: str = "", thinking: bool = True) -> Run:
    """Render, tokenize (prompt and prefill separately, as in generation) and locate parts."""
    tok = lm.tokenizer
    prompt = str(
        tok.apply_chat_template(
            trace.prompt_messages,
            tokenize=False,
            add_generation_prompt=True,
            enable_thinking=thinking,
        )
    )
    ids: list[int] = []
    offsets: list[tuple[int, int]] = []
    for at, piece in ((0, prompt), (len(prompt), prefill)):
        if piece:
            enc = tok(piece, add_special_tokens=False, return_offsets_mapping=True)
            ids += [int(i) for i in enc["input_ids"]]
            offsets += [(at + int(a), at + int(b)) for a, b in enc["offset_mapping"]]
    user = trace.prompt_messages[-1]["content"]
    return Run(prompt + prefill, ids, offsets, len(prompt), prompt.rfind(user))


def _token_ending_at(run: Run, end: int) -> int:
    for p, (_, b) in enumerate(run.offsets):
        if b >= end:
            return p
    raise ConfigError("position past the end of the run")


def resolve_position(run: Run, spec: str, meta: dict[str, Any] | None = None) -> int:
    """Token index of a position spec in a run (one-line errors when it does not occur)."""
    if spec == "last":
        return len(run.ids) - 1
    kind, _, arg = spec.partition(":")
    if kind == "slot":
        value = (meta or {}).get("slots", {}).get(arg)
        if not value:
            raise ConfigError(f"position {spec!r}: the trace has no slots[{arg!r}]")
        kind, arg = "find", str(value)
    if kind == "after":
        found = run.text.find(arg, run.reply_start)
    elif kind == "find":
        found = run.text.find(arg, max(run.user_start, 0), run.reply_start)
    else:
        raise ConfigError(
            f"unknown position {spec!r}; valid: last, after:TEXT, find:TEXT, slot:NAME"
        )
    if found < 0:
        raise ConfigError(f"position {spec!r}: text not found in the run")
    return _token_ending_at(run, found + len(arg))
