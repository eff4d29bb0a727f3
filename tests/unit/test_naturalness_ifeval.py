"""Offline IFEval checkers, strict/loose scoring, aggregation and the packaged fixture."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from krel_interp.errors import ConfigError, InputFileError
from krel_interp.naturalness.ifeval import (
    INSTRUCTIONS,
    IFEvalItem,
    IFEvalResult,
    aggregate,
    aggregate_by_instruction,
    check_instruction,
    count_sentences,
    evaluate_response,
    fixture_path,
    is_supported,
    load_items,
    loose_variants,
    register_instruction,
    split_sentences,
)

LESS, LEAST = "less than", "at least"

# (instruction id, kwargs, response, expected)
CASES: list[tuple[str, dict, str, bool]] = [
    ("keywords:existence", {"keywords": ["basil", "simmer"]}, "Add Basil, then simmer.", True),
    ("keywords:existence", {"keywords": ["basil", "simmer"]}, "Add basil and boil.", False),
    ("keywords:forbidden_words", {"forbidden_words": ["busy"]}, "Businesses open at nine.", True),
    ("keywords:forbidden_words", {"forbidden_words": ["busy"]}, "I was BUSY all day.", False),
    (
        "keywords:frequency",
        {"keyword": "light", "frequency": 3, "relation": LEAST},
        "Light, sunlight and lighter colours.",
        True,
    ),
    (
        "keywords:frequency",
        {"keyword": "light", "frequency": 3, "relation": LEAST},
        "Light and sunlight.",
        False,
    ),
    (
        "keywords:frequency",
        {"keyword": "check", "frequency": 2, "relation": LESS},
        "Check the tyres.",
        True,
    ),
    (
        "keywords:frequency",
        {"keyword": "check", "frequency": 2, "relation": LESS},
        "Check the tyres and check the oil.",
        False,
    ),
    (
        "keywords:letter_frequency",
        {"letter": "e", "let_frequency": 3, "let_relation": LEAST},
        "Eee!",
        True,
    ),
    (
        "keywords:letter_frequency",
        {"letter": "e", "let_frequency": 3, "let_relation": LEAST},
        "Bread",
        False,
    ),
    (
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 2, "let_relation": LESS},
        "A lazy day.",
        True,
    ),
    (
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 2, "let_relation": LESS},
        "Pizza time.",
        False,
    ),
    ("punctuation:no_comma", {}, "No commas here at all.", True),
    ("punctuation:no_comma", {}, "Well, here is one.", False),
    ("change_case:english_lowercase", {}, "the sky is blue because of scattering.", True),
    ("change_case:english_lowercase", {}, "The sky is blue.", False),
    ("change_case:english_lowercase", {}, "небо голубое потому что", False),
    ("change_case:english_capital", {}, "KEEP YOUR HANDS WARM.", True),
    ("change_case:english_capital", {}, "KEEP your hands warm.", False),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": LEAST},
        "Eat a BIG salad NOW.",
        True,
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": LEAST},
        "Eat a BIG salad.",
        False,
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": LESS},
        "A short note.",
        True,
    ),
    (
        "length_constraints:number_words",
        {"num_words": 5, "relation": LESS},
        "Only four words here.",
        True,
    ),
    (
        "length_constraints:number_words",
        {"num_words": 5, "relation": LESS},
        "Here are exactly five words.",
        False,
    ),
    (
        "length_constraints:number_words",
        {"num_words": 3, "relation": LEAST},
        "Three words here.",
        True,
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": LESS},
        "Dr. Smith came. He left!",
        True,
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": LESS},
        "One. Two? Three!",
        False,
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 2, "relation": LEAST},
        "Water boils at 100 degrees. That is at sea level.",
        True,
    ),
    (
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 2},
        "First part.\n***\nSecond part.",
        True,
    ),
    (
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 2},
        "First part.\n***\n***\nSecond part.",
        False,
    ),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "Only one part.", False),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "later"},
        'The cook forgot the salt.\n\n"Later, everyone laughed.',
        True,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "later"},
        "The cook forgot the salt.\n\nThen everyone laughed.",
        False,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "later"},
        "One.\n\nLater two.\n\nThree.",
        False,
    ),
    ("detectable_format:title", {}, "<<A Good Bottle>>\nIt holds water.", True),
    ("detectable_format:title", {}, "<< >> no title, <<broken\n>>", False),
    ("detectable_format:json_format", {}, '```json\n{"fruit": ["apple", "pear"]}\n```', True),
    ("detectable_format:json_format", {}, 'Here it is: {"fruit": 1}', False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "Intro\n* tent\n- stove", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* tent\n* stove\n* map", False),
    (
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
        "Onions release *a gas* that makes **your eyes** water.",
        True,
    ),
    (
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
        "Only *one* highlight and an empty ** pair.",
        False,
    ),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "SECTION", "num_sections": 2},
        "SECTION 1\nIce forms.\nSECTION 2\nIt expands.",
        True,
    ),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "SECTION", "num_sections": 2},
        "SECTION 1\nIce forms and expands.",
        False,
    ),
    ("detectable_format:constrained_response", {}, "I think so. My answer is maybe.", True),
    ("detectable_format:constrained_response", {}, "My answer is probably.", False),
    (
        "detectable_content:postscript",
        {"postscript_marker": "P.S."},
        "See you Saturday.\n\nP.S. Bring a blanket.",
        True,
    ),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "See you Saturday.", False),
    (
        "detectable_content:postscript",
        {"postscript_marker": "P.P.S"},
        "Bikes balance.\nP.P.S. Wear a helmet.",
        True,
    ),
    (
        "detectable_content:postscript",
        {"postscript_marker": "P.P.S"},
        "Bikes balance.\nP.S. Wear a helmet.",
        False,
    ),
    (
        "detectable_content:number_placeholders",
        {"num_placeholders": 2},
        "Dear [name], the heater at [address] is broken.",
        True,
    ),
    (
        "detectable_content:number_placeholders",
        {"num_placeholders": 2},
        "Dear [name], the heater is broken.",
        False,
    ),
    (
        "startend:end_checker",
        {"end_phrase": "See you soon!"},
        'Congratulations on the job. See you soon!"\n',
        True,
    ),
    (
        "startend:end_checker",
        {"end_phrase": "See you soon!"},
        "See you soon! Congratulations on the job.",
        False,
    ),
    ("startend:quotation", {}, '  "Thank you for watering my plants."  ', True),
    ("startend:quotation", {}, "Thank you for watering my plants.", False),
    (
        "combination:repeat_prompt",
        {"prompt_to_repeat": "How do I keep apples fresh?"},
        "how do I keep apples fresh? Keep them cold.",
        True,
    ),
    (
        "combination:repeat_prompt",
        {"prompt_to_repeat": "How do I keep apples fresh?"},
        "Sure! How do I keep apples fresh? Keep them cold.",
        False,
    ),
    ("combination:two_responses", {}, "Take the train.\n******\nTake a taxi.", True),
    ("combination:two_responses", {}, "Take the train.\n******\nTake the train.", False),
    ("combination:two_responses", {}, "A\n******\n******\nB", False),
]


def _case_id(case: tuple[str, dict, str, bool]) -> str:
    return f"{case[0]}-{'pass' if case[3] else 'fail'}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_checker_cases(case: tuple[str, dict, str, bool]) -> None:
    instruction_id, kwargs, response, expected = case
    assert check_instruction(instruction_id, response, kwargs) is expected


def test_every_checker_has_a_passing_and_a_failing_case() -> None:
    outcomes = {(iid, expected) for iid, _, _, expected in CASES}
    for instruction_id in INSTRUCTIONS:
        assert (instruction_id, True) in outcomes, instruction_id
        assert (instruction_id, False) in outcomes, instruction_id
    assert len(INSTRUCTIONS) >= 18


def test_unknown_id_raises_one_line_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        check_instruction("language:response_language", "Hola", {"language": "es"})
    message = str(info.value)
    assert "\n" not in message
    assert "keywords:existence" in message


@pytest.mark.parametrize(
    ("instruction_id", "kwargs"),
    [
        ("keywords:frequency", {"keyword": "x", "frequency": 2, "relation": "at most"}),
        ("keywords:frequency", {"keyword": "x", "relation": "at least"}),
        ("keywords:letter_frequency", {"letter": "ab", "let_frequency": 1, "let_relation": LESS}),
        ("length_constraints:number_words", {"num_words": True, "relation": LESS}),
        ("keywords:existence", {"keywords": "basil"}),
        ("punctuation:no_comma", {"extra": 1}),
        (
            "length_constraints:nth_paragraph_first_word",
            {"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "x"},
        ),
        ("combination:repeat_prompt", {}),
    ],
)
def test_bad_kwargs_raise_config_error(instruction_id: str, kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        check_instruction(instruction_id, "some response", kwargs)


def test_is_supported() -> None:
    assert is_supported({"instruction_id_list": ["punctuation:no_comma"]})
    assert not is_supported({"instruction_id_list": ["language:response_language"]})
    assert not is_supported({"instruction_id_list": "punctuation:no_comma"})


def test_repeat_prompt_falls_back_to_prompt() -> None:
    assert check_instruction(
        "combination:repeat_prompt", "Hi there. Hello!", {}, prompt="Hi there."
    )


def test_register_twice_raises() -> None:
    with pytest.raises(ConfigError):
        register_instruction("punctuation:no_comma")(lambda response, kwargs, prompt: True)


def test_sentence_splitter() -> None:
    assert split_sentences("Mr. Brown paid 3.50 dollars, e.g. for tea. Then he left!") == [
        "Mr. Brown paid 3.50 dollars, e.g. for tea.",
        "Then he left!",
    ]
    assert count_sentences("1. Buy milk.\n2. Buy eggs.") == 2
    assert count_sentences("") == 0
    assert count_sentences("No full stop at the end") == 1


def _item(ids: list[str], kwargs: list[dict], prompt: str = "A request.") -> IFEvalItem:
    return IFEvalItem.from_record(
        {"key": 7, "prompt": prompt, "instruction_id_list": ids, "kwargs": kwargs}
    )


def test_strict_fails_but_loose_passes_with_preamble_line() -> None:
    item = _item(
        ["startend:quotation", "detectable_format:json_format"],
        [{}, {}],
    )
    quoted = _item(["startend:quotation"], [{}])
    result = evaluate_response(quoted, 'Sure, here it is:\n"Thanks for the plants."')
    assert result.strict == (False,)
    assert result.loose == (True,)
    assert not result.prompt_strict and result.prompt_loose
    json_result = evaluate_response(item, 'Sure, here it is:\n{"a": 1}')
    assert json_result.strict == (False, False)
    assert json_result.loose == (False, True)


def test_loose_removes_asterisks_and_last_line() -> None:
    item = _item(["startend:end_checker"], [{"end_phrase": "Order yours today."}])
    result = evaluate_response(item, "**Order yours today.**\nHope this helps!")
    assert result.strict == (False,) and result.loose == (True,)
    assert len(loose_variants("a\nb\nc")) == 8


def test_empty_response_fails_everything() -> None:
    item = _item(
        ["punctuation:no_comma", "keywords:forbidden_words"], [{}, {"forbidden_words": ["x"]}]
    )
    for response in ("", "   \n "):
        result = evaluate_response(item, response)
        assert result.strict == (False, False) and result.loose == (False, False)


def test_from_record_drops_none_kwargs_and_validates() -> None:
    item = IFEvalItem.from_record(
        {
            "key": 3,
            "prompt": "Say hi.",
            "instruction_id_list": ["punctuation:no_comma", "keywords:existence"],
            "kwargs": [{"num_words": None}, {"keywords": ["hi"], "relation": None}],
        }
    )
    assert item.kwargs == ({}, {"keywords": ["hi"]})
    assert item.instruction_id_list == ("punctuation:no_comma", "keywords:existence")
    good = {
        "key": 1,
        "prompt": "p",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    }
    bad_records = [
        {**good, "key": "1"},
        {**good, "key": True},
        {**good, "prompt": ""},
        {**good, "instruction_id_list": "punctuation:no_comma"},
        {**good, "instruction_id_list": ["nope:nope"]},
        {**good, "kwargs": []},
        {**good, "kwargs": [[]]},
        {**good, "kwargs": [{"bogus": 1}]},
        {**good, "instruction_id_list": ["keywords:frequency"], "kwargs": [{"keyword": "a"}]},
    ]
    for record in bad_records:
        with pytest.raises(ConfigError) as info:
            IFEvalItem.from_record(record)
        assert "\n" not in str(info.value)


def test_aggregate() -> None:
    results = [
        IFEvalResult(1, (True, True), (True, True), ("a:x", "b:y")),
        IFEvalResult(2, (False, True), (True, True), ("a:x", "b:y")),
        IFEvalResult(3, (False,), (False,), ("a:x",)),
    ]
    summary = aggregate(results)
    assert summary["prompt_strict"] == pytest.approx(1 / 3)
    assert summary["prompt_loose"] == pytest.approx(2 / 3)
    assert summary["inst_strict"] == pytest.approx(3 / 5)
    assert summary["inst_loose"] == pytest.approx(4 / 5)
    assert summary["n_prompts"] == 3 and summary["n_instructions"] == 5
    assert summary["inst_loose_count"] == 4
    by_id = aggregate_by_instruction(results)
    assert by_id["a:x"] == {"n": 3.0, "strict": pytest.approx(1 / 3), "loose": pytest.approx(2 / 3)}
    with pytest.raises(ConfigError):
        aggregate([])


def test_fixture_loads_and_every_kwargs_is_accepted() -> None:
    items = load_items()
    assert len(items) >= 60
    assert len({item.key for item in items}) == len(items)
    usage: Counter[str] = Counter()
    for item in items:
        assert 1 <= len(item.instruction_id_list) <= 3
        for instruction_id, kwargs in zip(item.instruction_id_list, item.kwargs, strict=True):
            assert instruction_id in INSTRUCTIONS
            usage[instruction_id] += 1
            check_instruction(instruction_id, "A dummy response.", kwargs, item.prompt)
        evaluate_response(item, "A dummy response.")
    assert all(usage[iid] >= 2 for iid in INSTRUCTIONS), usage


def test_fixture_raw_format() -> None:
    lines = fixture_path().read_text(encoding="utf-8").splitlines()
    for line in lines:
        record = json.loads(line)
        assert set(record) == {"key", "prompt", "instruction_id_list", "kwargs"}
        assert isinstance(record["key"], int)
        assert len(record["kwargs"]) == len(record["instruction_id_list"])


def test_load_items_reports_file_and_line(tmp_path) -> None:
    path = tmp_path / "bad.jsonl"
    good = {
        "key": 1,
        "prompt": "p",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    }
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(InputFileError, match=r"bad\.jsonl:2: duplicate"):
        load_items(path)
    path.write_text("{not json\n")
    with pytest.raises(InputFileError, match=r"bad\.jsonl:1"):
        load_items(path)
    with pytest.raises(InputFileError, match="not found"):
        load_items(tmp_path / "missing.jsonl")
