"""Label every token of a rendered conversation with its segment, sentence and turn."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os.path import commonprefix
from typing import TYPE_CHECKING, Any

from krel_interp._logging import get_logger
from krel_interp.errors import ConfigError, InputFileError
from krel_interp.segments.labels import Segment
from krel_interp.segments.sentences import split_sentences
from krel_interp.segments.think import ThinkTags, TraceStatus, parse_think, status_from_flags
from krel_interp.segments.tokens import token_spans

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

log = get_logger("segments")

Message = Mapping[str, Any]
_OPEN, _CLOSE = int(Segment.THINK_OPEN), int(Segment.THINK_CLOSE)
_TEXT_RUN = re.compile(b"\x04+|\x06+")  # runs of THINK / ANSWER characters
_SENTINEL = "\x00KREL-SENTINEL\x00"
# Flags the final turn may carry that are expected when thinking is disabled.
_NON_THINKING_OK = ("missing_think", "empty_think")


@dataclass(frozen=True)
class SegmentedTrace:
    """Per-token labels of one rendered conversation."""

    text: str
    input_ids: list[int]
    offsets: list[tuple[int, int]]
    segments: list[int]
    sentences: list[int]
    turns: list[int]
    status: TraceStatus
    flags: tuple[str, ...]
    token_source: str = "tokenized"  # or "given_ids": the completion's ids were replayed

    def __post_init__(self) -> None:
        n = len(self.input_ids)
        sizes = (len(self.offsets), len(self.segments), len(self.sentences), len(self.turns))
        if any(size != n for size in sizes):
            raise ValueError(f"per-token fields disagree in length: {n} ids vs {sizes}")

    def __len__(self) -> int:
        return len(self.input_ids)

    def mask(self, *segs: Segment) -> list[bool]:
        """True for each token whose segment is one of ``segs``."""
        wanted = {int(s) for s in segs}
        return [s in wanted for s in self.segments]

    def spans(self) -> list[tuple[Segment, int, int]]:
        """Maximal runs of equal segment as ``(segment, first_token, end_token)``."""
        runs: list[tuple[Segment, int, int]] = []
        start = 0
        for i in range(1, len(self.segments) + 1):
            if i == len(self.segments) or self.segments[i] != self.segments[start]:
                runs.append((Segment(self.segments[start]), start, i))
                start = i
        return runs

    def _segment_text(self, seg: Segment) -> str:
        parts = [
            self.text[self.offsets[a][0] : self.offsets[b - 1][1]]
            for s, a, b in self.spans()
            if s == seg
        ]
        return "".join(parts).strip()

    @property
    def think_text(self) -> str:
        """Text of the THINK tokens (tags excluded), stripped."""
        return self._segment_text(Segment.THINK)

    @property
    def answer_text(self) -> str:
        """Text of the ANSWER tokens, stripped."""
        return self._segment_text(Segment.ANSWER)


def _label(labels: bytearray, seg: Segment, start: int, end: int) -> None:
    if end > start:
        labels[start:end] = bytes([int(seg)]) * (end - start)


def _apply_spans(labels: bytearray, spans: Sequence[tuple[Segment, int, int]], at: int) -> None:
    for seg, a, b in spans:
        _label(labels, seg, at + a, at + b)


def _special_strings(tokenizer: PreTrainedTokenizerBase) -> tuple[str, ...]:
    """Strings of all special tokens (transformers' map plus backend-special added tokens)."""
    found = {str(t) for t in tokenizer.all_special_tokens}
    for tok in tokenizer.added_tokens_decoder.values():
        if tok.special:
            found.add(str(tok.content))
    return tuple(sorted(s for s in found if s))


def _special_ids(tokenizer: PreTrainedTokenizerBase) -> frozenset[int]:
    ids = {int(i) for i in tokenizer.all_special_ids}
    ids.update(int(i) for i, tok in tokenizer.added_tokens_decoder.items() if tok.special)
    return frozenset(ids)


def _strip_special_tail(text: str, start: int, end: int, specials: Sequence[str]) -> int:
    """End of the region once a trailing run of specials (and whitespace) is cut off."""
    if not specials or end <= start:
        return end
    alt = "|".join(re.escape(s) for s in sorted(specials, key=len, reverse=True))
    match = re.compile(f"(?:{alt})(?:\\s|{alt})*\\Z").search(text, start, end)
    return match.start() if match else end


def _first_non_ws(text: str, start: int, end: int) -> int:
    for i in range(start, end):
        if not text[i].isspace():
            return i
    return start


def _token_label(text: str, labels: bytearray, start: int, end: int) -> int:
    """A tag character anywhere in the span wins; else the first non-whitespace char's label."""
    chunk = labels[start:end]
    tag_at = [p for p in (chunk.find(_OPEN), chunk.find(_CLOSE)) if p >= 0]
    if tag_at:
        return chunk[min(tag_at)]
    return labels[_first_non_ws(text, start, end)]


def _token_segments(
    text: str,
    labels: bytearray,
    ids: Sequence[int],
    offsets: Sequence[tuple[int, int]],
    special_ids: frozenset[int],
) -> list[int]:
    out: list[int] = []
    prev = int(Segment.TEMPLATE)
    for tid, (a, b) in zip(ids, offsets, strict=True):
        label = _token_label(text, labels, a, b) if b > a else prev
        if tid in special_ids and label not in (_OPEN, _CLOSE):
            label = int(Segment.TEMPLATE)
        out.append(label)
        prev = label
    return out


def _token_sentences(
    text: str, labels: bytearray, offsets: Sequence[tuple[int, int]], segs: Sequence[int]
) -> list[int]:
    """Global sentence index of each THINK/ANSWER token's first non-whitespace char, else -1."""
    spans: list[tuple[int, int]] = []
    for run in _TEXT_RUN.finditer(labels):
        spans.extend(split_sentences(text, run.start(), run.end()))
    starts = [s for s, _ in spans]
    text_segs = (int(Segment.THINK), int(Segment.ANSWER))
    out: list[int] = []
    for (a, b), seg in zip(offsets, segs, strict=True):
        if seg not in text_segs or b <= a:
            out.append(-1)
            continue
        p = _first_non_ws(text, a, b)
        i = bisect_right(starts, p) - 1
        out.append(i if i >= 0 and p < spans[i][1] else -1)
    return out


Encoding = tuple[list[int], list[tuple[int, int]]]


def _encode(tokenizer: PreTrainedTokenizerBase, text: str) -> Encoding:
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("segmentation needs a fast tokenizer (character offsets)")
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return [int(i) for i in enc["input_ids"]], [(int(a), int(b)) for a, b in enc["offset_mapping"]]


def _replay(
    tokenizer: PreTrainedTokenizerBase,
    prompt_text: str,
    completion: str,
    completion_ids: Sequence[int],
    prompt_token_count: int | None,
) -> tuple[Encoding | None, str | None]:
    """(encoding of prompt + given completion ids, None) or (None, why it cannot be used)."""
    ids, offsets = _encode(tokenizer, prompt_text)
    if prompt_token_count is not None and len(ids) != prompt_token_count:
        return None, "prompt tokenizes to another length than at generation"
    decoded, spans = token_spans(tokenizer, completion_ids)
    if decoded != completion:
        return None, "completion_ids do not decode to the completion text"
    at = len(prompt_text)
    ids += [int(i) for i in completion_ids]
    offsets += [(at + a, at + b) for a, b in spans]
    return (ids, offsets), None


def _finish(
    text: str,
    labels: bytearray,
    tokenizer: PreTrainedTokenizerBase,
    turn_starts: Sequence[int],
    flags: tuple[str, ...],
    encoding: Encoding | None = None,
) -> SegmentedTrace:
    """Tokenize ``text`` (or use a given encoding) and project the character labels onto it."""
    ids, offsets = encoding if encoding is not None else _encode(tokenizer, text)
    segs = _token_segments(text, labels, ids, offsets, _special_ids(tokenizer))
    if flags:
        log.debug("trace flags: %s", ", ".join(flags))
    return SegmentedTrace(
        text=text,
        input_ids=ids,
        offsets=offsets,
        segments=segs,
        sentences=_token_sentences(text, labels, offsets, segs),
        turns=[bisect_right(turn_starts, a) for a, _ in offsets],
        status=status_from_flags(flags),
        flags=flags,
        token_source="given_ids" if encoding is not None else "tokenized",
    )


@dataclass(frozen=True)
class _Rendering:
    prompt_text: str  # prompt messages with the generation prompt
    base: str | None  # prompt messages without it; None when the template is unusable
    header: str  # what add_generation_prompt appends
    user_prefix: str  # template text right before a user message's content


def _render(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], gen: bool, thinking: bool
) -> str:
    out = tokenizer.apply_chat_template(
        [dict(m) for m in messages],
        tokenize=False,
        add_generation_prompt=gen,
        enable_thinking=thinking,
    )
    if not isinstance(out, str):
        raise ConfigError("chat template did not render to a string")
    return out


def _user_prefix(tokenizer: PreTrainedTokenizerBase, thinking: bool) -> str:
    try:
        probe = _render(tokenizer, [{"role": "user", "content": _SENTINEL}], False, thinking)
    except Exception:  # noqa: BLE001 - any template failure just disables the refinement
        return ""
    at = probe.find(_SENTINEL)
    return probe[:at] if at >= 0 else ""


def _render_parts(
    tokenizer: PreTrainedTokenizerBase, prompt: Sequence[Message], thinking: bool, required: bool
) -> _Rendering:
    """Render the prompt with and without the generation prompt; the diff is the header."""
    if not prompt:
        return _Rendering("", "", "", "")
    try:
        if getattr(tokenizer, "chat_template", None) is None:
            raise ConfigError("tokenizer has no chat template")
        with_gen = _render(tokenizer, prompt, True, thinking)
        base = _render(tokenizer, prompt, False, thinking)
    except Exception as exc:
        if required:
            raise ConfigError(f"cannot render the conversation: {exc}") from exc
        log.debug("chat template unusable, locating by search: %s", exc)
        return _Rendering("", None, "", "")
    if not with_gen.startswith(base):
        log.debug("generation prompt is not a suffix; header left unlabelled")
        base = with_gen
    header = with_gen[len(base) :]
    return _Rendering(with_gen, base, header, _user_prefix(tokenizer, thinking))


def _final_start(
    text: str, rendering: _Rendering, completion: str | None, tags: ThinkTags
) -> tuple[int, tuple[str, ...]]:
    """Start of the final assistant region; an open tag in the header starts it early."""
    base = rendering.base
    if base is not None and text.startswith(base):
        header = rendering.header
        n = len(commonprefix([text[len(base) : len(base) + len(header)], header]))
        at = header[:n].find(tags.open)
        return len(base) + (at if at >= 0 else n), ()
    if completion:
        at = text.rfind(completion)
        if at >= 0:
            return at, ()
    return len(text), (("completion_not_found",) if completion is not None else ())


def _find_assistant(
    text: str, content: str, cursor: int, limit: int, tags: ThinkTags
) -> tuple[int, str] | None:
    """Where an earlier assistant turn sits: whole content, else the answer after its think."""
    answer = content.rsplit(tags.close, 1)[-1].strip()
    for candidate in (content, answer):
        if candidate:
            at = text.find(candidate, cursor, limit)
            if at >= 0:
                return at, candidate
    return None


def _label_prompt(
    text: str,
    labels: bytearray,
    prompt: Sequence[Message],
    limit: int,
    tags: ThinkTags,
    specials: Sequence[str],
    user_prefix: str,
) -> tuple[list[int], list[str]]:
    """Label prompt messages in order; return turn start offsets and flags."""
    roles = {"system": Segment.SYSTEM, "user": Segment.USER}
    cursor, users = 0, 0
    starts: list[int] = []
    flags: list[str] = []
    for msg in prompt:
        role, content = str(msg["role"]), str(msg.get("content") or "")
        if not content:
            continue
        if role == "assistant":
            found = _find_assistant(text, content, cursor, limit, tags)
            if found is None:
                flags.append("assistant_turn_not_found")
                continue
            at, part = found
            _apply_spans(labels, parse_think(part, tags, specials=specials)[0], at)
            cursor = at + len(part)
            continue
        at = text.find(content, cursor, limit)
        if at < 0:
            flags.append(f"{role}_not_found")
            continue
        if role == "user":
            users += 1
            if users > 1:
                starts.append(at - len(commonprefix([text[cursor:at][::-1], user_prefix[::-1]])))
        if role in roles:
            _label(labels, roles[role], at, at + len(content))
        cursor = at + len(content)
    return starts, list(dict.fromkeys(flags))


def _validate(messages: Sequence[Message]) -> list[Message]:
    out: list[Message] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, Mapping) or not isinstance(msg.get("role"), str):
            raise InputFileError(f"message {i} is not a mapping with a string 'role'")
        content = msg.get("content")
        if content is not None and not isinstance(content, str):
            raise InputFileError(f"message {i} content must be a string")
        out.append(msg)
    return out


def _final_flags(flags: tuple[str, ...], thinking: bool) -> tuple[str, ...]:
    return flags if thinking else tuple(f for f in flags if f not in _NON_THINKING_OK)


def segment_conversation(
    messages: Sequence[Message],
    tokenizer: PreTrainedTokenizerBase,
    *,
    text: str | None = None,
    tags: ThinkTags | None = None,
    thinking: bool = True,
    completion_ids: Sequence[int] | None = None,
    prompt_token_count: int | None = None,
) -> SegmentedTrace:
    """Render ``messages`` and label every token with segment, sentence and turn.

    ``completion_ids`` (the generated ids, as recorded by :mod:`krel_interp.generate`) are
    replayed instead of re-tokenizing the completion, so the tokens are exactly the ones the
    model produced; when they do not fit (another tokenizer, edited text) the completion is
    re-tokenized and the flag ``retokenised: <why>`` is added.

    A trailing assistant message is the completion: the prompt is rendered with the
    generation prompt and the completion appended raw (templates often rewrite think blocks).
    Pass ``text`` to label an already rendered string instead. Malformed think structure is
    reported in ``status``/``flags``, never raised. With ``thinking=False`` a missing or empty
    think is expected and not flagged. Flags describe the final turn only (earlier turns add
    just ``assistant_turn_not_found`` / ``<role>_not_found``).
    """
    tags = tags if tags is not None else ThinkTags()
    msgs = _validate(messages)
    has_completion = bool(msgs) and msgs[-1]["role"] == "assistant"
    prompt = msgs[:-1] if has_completion else msgs
    completion = str(msgs[-1].get("content") or "") if has_completion else None
    rendering = _render_parts(tokenizer, prompt, thinking, required=text is None)
    if text is None:
        text = rendering.prompt_text + (completion or "")
    specials = _special_strings(tokenizer)
    labels = bytearray(len(text))
    start, where = _final_start(text, rendering, completion, tags)
    end = _strip_special_tail(text, start, len(text), specials)
    spans, parsed = parse_think(text[start:end], tags, specials=specials)
    _apply_spans(labels, spans, start)
    turn_starts, prompt_flags = _label_prompt(
        text, labels, prompt, start, tags, specials, rendering.user_prefix
    )
    final = _final_flags(parsed, thinking) if completion is not None else ("no_completion",)
    encoding, why = None, None
    if completion_ids is not None and completion is not None and not where:
        encoding, why = _replay(
            tokenizer, rendering.prompt_text, completion, completion_ids, prompt_token_count
        )
    extra = (f"retokenised: {why}",) if why else ()
    flags = final + where + tuple(prompt_flags) + extra
    return _finish(text, labels, tokenizer, turn_starts, flags, encoding)


def segment_text(
    text: str,
    tokenizer: PreTrainedTokenizerBase,
    *,
    tags: ThinkTags | None = None,
    start_inside: bool = False,
    thinking: bool = True,
) -> SegmentedTrace:
    """Label a raw string as one assistant region (e.g. a plain completion)."""
    tags = tags if tags is not None else ThinkTags()
    specials = _special_strings(tokenizer)
    labels = bytearray(len(text))
    end = _strip_special_tail(text, 0, len(text), specials)
    spans, flags = parse_think(text[:end], tags, start_inside=start_inside, specials=specials)
    _apply_spans(labels, spans, 0)
    return _finish(text, labels, tokenizer, [], _final_flags(flags, thinking))
