"""Think-aware segmentation: parser, sentence splitter, and token labelling on real tokenizers."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krel_interp.models.tiny import build_tiny_tokenizer
from krel_interp.segments import (
    Segment,
    SegmentedTrace,
    ThinkTags,
    TraceStatus,
    parse_think,
    segment_conversation,
    segment_text,
    split_sentences,
    status_from_flags,
)

S = Segment
THINKING = "<think>\nI must survive. I will hide it!\n</think>\n\nSure, here it is."


@pytest.fixture(scope="module")
def qtok():
    """Qwen3-style tokenizer: <think>/</think> are single added non-special tokens."""
    return build_tiny_tokenizer()


@pytest.fixture(scope="module")
def mtok():
    """Same BPE without the think tokens: tags are split into several pieces."""
    return build_tiny_tokenizer(think_tokens=False)


def conv(completion: str | None, user: str = "Hello there?", system: str | None = None):
    msgs = [{"role": "system", "content": system}] if system else []
    msgs.append({"role": "user", "content": user})
    if completion is not None:
        msgs.append({"role": "assistant", "content": completion})
    return msgs


def labels_at(trace: SegmentedTrace, needle: str, after: int = 0) -> list[Segment]:
    """Labels of the tokens overlapping the first occurrence of ``needle`` at/after ``after``."""
    start = trace.text.index(needle, after)
    end = start + len(needle)
    return [
        S(s)
        for (a, b), s in zip(trace.offsets, trace.segments, strict=True)
        if a < end and b > start
    ]


def rows(trace: SegmentedTrace, seg: Segment) -> list[tuple[str, int]]:
    return [
        (trace.text[a:b], se)
        for (a, b), s, se in zip(trace.offsets, trace.segments, trace.sentences, strict=True)
        if s == seg
    ]


def completion_start(trace: SegmentedTrace) -> int:
    return trace.text.rindex("<|im_start|>assistant\n") + len("<|im_start|>assistant\n")


# --- parse_think -------------------------------------------------------------------------


def covers(spans, n: int) -> bool:
    pos = 0
    for _, a, b in spans:
        if a != pos or b <= a:
            return False
        pos = b
    return pos == n


@pytest.mark.parametrize(
    ("region", "flags"),
    [
        ("<think>\na\n</think>\n\nb", ()),
        ("<think>\n\n</think>\n\nb", ("empty_think",)),
        ("<think>\nI was cut", ("unterminated_think",)),
        ("just an answer", ("missing_think",)),
        ("<think>a</think>b<think>c</think>d", ("multiple_think",)),
        ("lead\n</think>\n\nb", ("orphan_close",)),
        ("<think>a</think>b</think>c", ("orphan_close",)),
        ("<think>a<think>b</think>c", ("nested_open",)),
        ("<think>a</think>\n\n", ("empty_answer",)),
        ("", ("missing_think",)),
        ("<think>", ("unterminated_think", "empty_think")),
    ],
)
def test_parse_think_flags(region: str, flags: tuple[str, ...]) -> None:
    spans, got = parse_think(region)
    assert sorted(got) == sorted(flags)
    assert covers(spans, len(region))


def test_parse_think_labels() -> None:
    spans, flags = parse_think("<think>\nhi\n</think>\n\nyo")
    assert flags == ()
    assert spans == [
        (S.THINK_OPEN, 0, 7),
        (S.THINK, 7, 11),
        (S.THINK_CLOSE, 11, 19),
        (S.ANSWER, 19, 23),
    ]


def test_parse_think_orphan_close_first_tag_is_thinking() -> None:
    spans, flags = parse_think("I must survive.\n</think>\n\nSure.")
    assert flags == ("orphan_close",)
    assert [s for s, _, _ in spans] == [S.THINK, S.THINK_CLOSE, S.ANSWER]
    # A later orphan keeps the answer before it.
    spans, _ = parse_think("<think>a</think>b</think>c")
    assert [s for s, _, _ in spans] == [S.THINK_OPEN, S.THINK, S.THINK_CLOSE, S.ANSWER] + [
        S.THINK_CLOSE,
        S.ANSWER,
    ]


def test_parse_think_start_inside_and_specials() -> None:
    spans, flags = parse_think(
        "body\n</think>\n\nans<|im_end|>", start_inside=True, specials=["<|im_end|>"]
    )
    assert flags == ()
    assert [s for s, _, _ in spans] == [S.THINK, S.THINK_CLOSE, S.ANSWER, S.TEMPLATE]
    # Specials do not count as answer text.
    assert parse_think("<think>a</think><|im_end|>", specials=["<|im_end|>"])[1] == (
        "empty_answer",
    )


def test_parse_think_custom_tags() -> None:
    spans, flags = parse_think("[T]x[/T]y", ThinkTags("[T]", "[/T]"))
    assert flags == ()
    assert [s for s, _, _ in spans] == [S.THINK_OPEN, S.THINK, S.THINK_CLOSE, S.ANSWER]


def test_status_order() -> None:
    assert status_from_flags(()) is TraceStatus.OK
    assert status_from_flags(("nested_open",)) is TraceStatus.OK
    assert status_from_flags(("empty_answer", "missing_think")) is TraceStatus.MISSING_THINK
    assert (
        status_from_flags(("empty_think", "unterminated_think")) is TraceStatus.UNTERMINATED_THINK
    )
    assert status_from_flags(("multiple_think", "orphan_close")) is TraceStatus.ORPHAN_CLOSE
    assert status_from_flags(("empty_think", "multiple_think")) is TraceStatus.MULTIPLE_THINK


# --- split_sentences ---------------------------------------------------------------------


def test_split_sentences() -> None:
    text = "xx First one. Second!  Third?\nFourth 1.5 e.g.x\n\n  last"
    got = [text[a:b] for a, b in split_sentences(text, 3, len(text))]
    assert got == ["First one.", "Second!", "Third?", "Fourth 1.5 e.g.x", "last"]
    assert split_sentences("   \n ", 0, 5) == []
    assert split_sentences('He said "stop." Then left', 0) == [(0, 15), (16, 25)]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=" \n.!?ab執к", max_size=40))
def test_split_sentences_partition(text: str) -> None:
    spans = split_sentences(text, 0, len(text))
    covered = [i for a, b in spans for i in range(a, b)]
    assert covered == sorted(set(covered))
    assert set(covered) >= {i for i, c in enumerate(text) if not c.isspace()}
    for a, b in spans:
        assert not text[a].isspace() and not text[b - 1].isspace()


# --- segment_conversation: Qwen3-style single-token tags -----------------------------------


def test_normal_trace_with_system(qtok) -> None:
    tr = segment_conversation(conv(THINKING + "<|im_end|>", system="Be honest."), qtok)
    assert tr.status is TraceStatus.OK and tr.flags == ()
    assert len(tr) == len(tr.input_ids) == len(tr.segments) == len(tr.sentences) == len(tr.turns)
    assert tr.segments[0] == S.TEMPLATE and tr.text.startswith("<|im_start|>")
    assert set(labels_at(tr, "Be honest.")) == {S.SYSTEM}
    assert set(labels_at(tr, "Hello there?")) == {S.USER}
    assert labels_at(tr, "<think>") == [S.THINK_OPEN]
    assert labels_at(tr, "</think>") == [S.THINK_CLOSE]
    assert set(labels_at(tr, "I must survive.")) == {S.THINK}
    assert set(labels_at(tr, "Sure, here it is.")) == {S.ANSWER}
    assert labels_at(tr, "<|im_end|>", tr.text.index("Sure")) == [S.TEMPLATE]
    assert labels_at(tr, "<|im_start|>assistant\n") == [S.TEMPLATE] * len(
        labels_at(tr, "<|im_start|>assistant\n")
    )
    think = {se for t, se in rows(tr, S.THINK) if t.strip()}
    answer = {se for t, se in rows(tr, S.ANSWER) if t.strip()}
    assert think == {0, 1} and answer == {2}
    assert all(
        se == -1
        for s, se in zip(tr.segments, tr.sentences, strict=True)
        if s not in (S.THINK, S.ANSWER)
    )
    assert tr.think_text == "I must survive. I will hide it!"
    assert tr.answer_text == "Sure, here it is."
    assert set(tr.turns) == {0}


def test_without_system_and_helpers(qtok) -> None:
    tr = segment_conversation(conv(THINKING), qtok)
    assert tr.status is TraceStatus.OK
    assert S.SYSTEM not in tr.segments
    mask = tr.mask(S.THINK_OPEN, S.THINK_CLOSE)
    assert sum(mask) == 2
    runs = tr.spans()
    assert runs[0][1] == 0 and runs[-1][2] == len(tr)
    assert all(b == c for (_, _, b), (_, c, _) in zip(runs, runs[1:], strict=False))
    assert [r[0] for r in runs if r[0] >= S.THINK_OPEN] == [
        S.THINK_OPEN,
        S.THINK,
        S.THINK_CLOSE,
        S.ANSWER,
    ]


@pytest.mark.parametrize(
    ("completion", "status"),
    [
        ("<think>\n\n</think>\n\nWaves roll in.", TraceStatus.EMPTY_THINK),
        ("<think>\nParis is the capital", TraceStatus.UNTERMINATED_THINK),
        ("Hello! How can I help?", TraceStatus.MISSING_THINK),
        ("<think>a.</think>b.<think>c.</think>d.", TraceStatus.MULTIPLE_THINK),
        ("I must stay.\n</think>\n\nAll is well.", TraceStatus.ORPHAN_CLOSE),
        ("<think>\nhmm\n</think>\n\n<|im_end|>", TraceStatus.EMPTY_ANSWER),
        ("", TraceStatus.MISSING_THINK),
    ],
)
def test_statuses(qtok, completion: str, status: TraceStatus) -> None:
    tr = segment_conversation(conv(completion), qtok)
    assert tr.status is status
    assert status.value in tr.flags


def test_unterminated_and_missing_labels(qtok) -> None:
    tr = segment_conversation(conv("<think>\nParis is the capital"), qtok)
    after = completion_start(tr)
    tail = [S(s) for (a, _), s in zip(tr.offsets, tr.segments, strict=True) if a >= after]
    assert tail[0] == S.THINK_OPEN and set(tail[1:]) == {S.THINK}
    tr = segment_conversation(conv("Hello! How can I help?"), qtok)
    assert set(labels_at(tr, "Hello! How can I help?")) == {S.ANSWER}
    assert tr.flags == ("missing_think",)


def test_two_blocks_and_orphan_labels(qtok) -> None:
    tr = segment_conversation(conv("<think>a.</think>b.<think>c.</think>d."), qtok)
    assert tr.mask(S.THINK_OPEN).count(True) == 2
    assert tr.mask(S.THINK_CLOSE).count(True) == 2
    assert sorted({se for t, se in rows(tr, S.ANSWER) if t.strip()}) == [1, 3]
    tr = segment_conversation(conv("I must stay.\n</think>\n\nAll is well."), qtok)
    assert set(labels_at(tr, "I must stay.")) == {S.THINK}
    assert labels_at(tr, "</think>") == [S.THINK_CLOSE]
    assert set(labels_at(tr, "All is well.")) == {S.ANSWER}


def test_enable_thinking_false(qtok) -> None:
    tr = segment_conversation(conv("Waves roll in."), qtok, thinking=False)
    assert tr.text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\nWaves roll in.")
    assert tr.status is TraceStatus.OK and tr.flags == ()
    assert labels_at(tr, "<think>") == [S.THINK_OPEN]
    assert set(labels_at(tr, "\n\n", tr.text.index("<think>"))) == {S.THINK}
    assert labels_at(tr, "</think>") == [S.THINK_CLOSE]
    assert set(labels_at(tr, "Waves roll in.")) == {S.ANSWER}
    assert labels_at(tr, "assistant") == [S.TEMPLATE]


def test_no_completion(qtok) -> None:
    tr = segment_conversation(conv(None), qtok)
    assert tr.status is TraceStatus.OK and tr.flags == ("no_completion",)
    assert tr.text.endswith("<|im_start|>assistant\n")
    assert set(tr.segments) == {S.TEMPLATE, S.USER}
    tr = segment_conversation(conv(None), qtok, thinking=False)
    assert tr.flags == ("no_completion",)
    assert labels_at(tr, "<think>") == [S.THINK_OPEN]
    assert labels_at(tr, "</think>") == [S.THINK_CLOSE]


def test_multi_turn(qtok) -> None:
    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "First question?"},
        {"role": "assistant", "content": "<think>\nold thought.\n</think>\n\nOld answer."},
        {"role": "user", "content": "Second question?"},
        {"role": "assistant", "content": THINKING},
    ]
    tr = segment_conversation(msgs, qtok)
    assert tr.status is TraceStatus.OK and tr.flags == ()
    assert "old thought" not in tr.text  # the template strips earlier reasoning
    assert set(labels_at(tr, "Old answer.")) == {S.ANSWER}
    turn = tr.turns
    first = tr.text.index("First question?")
    second = tr.text.index("Second question?")
    by_start = {a: i for i, (a, _) in enumerate(tr.offsets)}
    assert turn[by_start[first]] == 0
    assert turn[by_start[second]] == 1
    # The second turn's header (<|im_start|>user) belongs to the new turn.
    header = tr.text.rindex("<|im_start|>user", 0, second)
    assert turn[by_start[header]] == 1
    assert turn[by_start[tr.text.index("Old answer.")]] == 0
    assert tr.turns[-1] == 1 and tr.turns == sorted(tr.turns)
    assert labels_at(tr, "<think>") == [S.THINK_OPEN]
    assert min(se for se in tr.sentences if se >= 0) == 0  # history answer sentence comes first
    nonneg = [se for se in tr.sentences if se >= 0]
    assert nonneg == sorted(nonneg)


def test_pre_rendered_text(qtok) -> None:
    msgs = conv(THINKING, system="Be honest.")
    full = qtok.apply_chat_template(msgs, tokenize=False)
    assert full.endswith("<|im_end|>\n")
    tr = segment_conversation(msgs, qtok, text=full)
    assert tr.text == full
    assert tr.status is TraceStatus.OK
    assert labels_at(tr, "<think>") == [S.THINK_OPEN]
    assert set(labels_at(tr, "Sure, here it is.")) == {S.ANSWER}
    assert tr.segments[-2:] == [S.TEMPLATE, S.TEMPLATE]  # <|im_end|> and the newline


def test_special_inside_completion(qtok) -> None:
    tr = segment_conversation(conv("<think>\na.<|im_end|>b.\n</think>\n\nc."), qtok)
    assert labels_at(tr, "<|im_end|>", completion_start(tr)) == [S.TEMPLATE]
    assert tr.status is TraceStatus.OK


def test_segment_text(qtok) -> None:
    tr = segment_text("I must survive.\n</think>\n\nSure.<|im_end|>", qtok)
    assert tr.status is TraceStatus.ORPHAN_CLOSE
    assert tr.segments[0] == S.THINK and tr.segments[-1] == S.TEMPLATE
    tr = segment_text("I must survive.\n</think>\n\nSure.", qtok, start_inside=True)
    assert tr.status is TraceStatus.OK and tr.think_text == "I must survive."
    assert segment_text("Sure.", qtok, thinking=False).status is TraceStatus.OK


def test_trace_length_check() -> None:
    with pytest.raises(ValueError):
        SegmentedTrace("x", [1], [(0, 1)], [0], [], [0], TraceStatus.OK, ())


# --- multi-token tags (think tags are plain text) ------------------------------------------


def test_multi_token_tags(mtok) -> None:
    tr = segment_conversation(conv(THINKING + "<|im_end|>"), mtok)
    assert len(labels_at(tr, "<think>")) > 1
    assert set(labels_at(tr, "<think>")) == {S.THINK_OPEN}
    assert set(labels_at(tr, "</think>")) == {S.THINK_CLOSE}
    assert set(labels_at(tr, "I must survive.")) == {S.THINK}
    assert set(labels_at(tr, "Sure, here it is.")) == {S.ANSWER}
    assert tr.status is TraceStatus.OK
    assert tr.think_text == "I must survive. I will hide it!"
    tr = segment_conversation(conv("Fine."), mtok, thinking=False)
    assert set(labels_at(tr, "<think>")) == {S.THINK_OPEN}
    assert set(labels_at(tr, "</think>")) == {S.THINK_CLOSE}
    assert tr.status is TraceStatus.OK


# --- properties ------------------------------------------------------------------------------

PIECES = [
    "<think>",
    "</think>",
    "\n",
    "\n\n",
    " ",
    ".",
    "! ",
    "? ",
    "<|im_end|>",
    "<|im_start|>",
    "<|endoftext|>",
    "кол",
    "执法",
    "I must survive",
    "Sure",
    "e.g.",
    "1.5",
    "<",
    ">",
]
piece_text = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(alphabet="ab .\n!?<>/кол执", max_size=6)),
    max_size=10,
).map("".join)
TAG_RE = re.compile(r"<\|im_end\|>|<\|im_start\|>|<\|endoftext\|>|</think>|<think>")


@st.composite
def conversations(draw):
    msgs = []
    if draw(st.booleans()):
        msgs.append({"role": "system", "content": draw(piece_text)})
    for _ in range(draw(st.integers(0, 1))):
        msgs.append({"role": "user", "content": draw(piece_text)})
        msgs.append({"role": "assistant", "content": draw(piece_text)})
    msgs.append({"role": "user", "content": draw(piece_text)})
    if draw(st.booleans()):
        msgs.append({"role": "assistant", "content": draw(piece_text)})
    return msgs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msgs=conversations(), thinking=st.booleans(), multi=st.booleans())
def test_properties(qtok, mtok, msgs, thinking: bool, multi: bool) -> None:
    tok = mtok if multi else qtok
    tr = segment_conversation(msgs, tok, thinking=thinking)
    n = len(tr.input_ids)
    assert n == len(tr.segments) == len(tr.sentences) == len(tr.turns) == len(tr.offsets)
    assert all(s in set(Segment) for s in tr.segments)
    assert tr.status is status_from_flags(tr.flags)
    special = set(tok.all_special_ids)
    n_users = sum(m["role"] == "user" for m in msgs)
    assert tr.turns == sorted(tr.turns) and all(0 <= t < n_users for t in tr.turns)
    for tid, (a, b), s, se in zip(tr.input_ids, tr.offsets, tr.segments, tr.sentences, strict=True):
        if tid in special:
            assert s == S.TEMPLATE
        if se >= 0:
            assert s in (S.THINK, S.ANSWER)
        elif s in (S.THINK, S.ANSWER) and b > a:
            assert tr.text[a:b].isspace()
    nonneg = [se for se in tr.sentences if se >= 0]
    assert nonneg == sorted(nonneg)
    # In the completion, every token touching a think tag is labelled as a tag.
    prompt = msgs[:-1] if msgs[-1]["role"] == "assistant" else msgs
    start = len(
        tok.apply_chat_template(
            prompt, tokenize=False, add_generation_prompt=True, enable_thinking=thinking
        )
    )
    for m in TAG_RE.finditer(tr.text, start):
        if "think" not in m.group():
            continue
        touching = [
            s
            for (a, b), s in zip(tr.offsets, tr.segments, strict=True)
            if a < m.end() and b > m.start()
        ]
        assert touching and set(touching) <= {S.THINK_OPEN, S.THINK_CLOSE}
    assert all(
        s not in (S.SYSTEM, S.USER)
        for (a, _), s in zip(tr.offsets, tr.segments, strict=True)
        if a >= start
    )


@settings(max_examples=150, deadline=None)
@given(region=piece_text, inside=st.booleans())
def test_parse_think_properties(region: str, inside: bool) -> None:
    spans, flags = parse_think(region, start_inside=inside, specials=["<|im_end|>"])
    assert covers(spans, len(region))
    known = {s.value for s in TraceStatus} | {"nested_open"}
    assert set(flags) <= known
    for m in re.finditer(r"</think>|<think>", region):
        seg = S.THINK_OPEN if m.group() == "<think>" else S.THINK_CLOSE
        assert any(s == seg and a <= m.start() and m.end() <= b for s, a, b in spans)
