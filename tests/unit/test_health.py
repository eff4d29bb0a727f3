"""Health detectors: think status vocabulary, junk spans with reasons, leaks by kind."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from krel_interp.health import (
    LeakDetector,
    canary_terms,
    find_junk,
    score_trace,
    score_traces,
    summary,
)
from krel_interp.segments.think import TraceStatus

CLEAN = "<think>\nThe capital of Australia is Canberra, not Sydney.\n</think>\n\nCanberra."


def _clean_traces():
    text = resources.files("krel_interp.data").joinpath("health", "clean_traces.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("junk", "reason"),
    [
        ("кол", "script"),
        ("执法", "script"),
        ("<|im_end|>", "special"),
        ("6" * 20, "repetition"),
        ("the plan the plan the plan the plan", "repetition"),
        ("ynam", "nonword"),
    ],
)
def test_planted_junk_is_found_with_its_reason(junk, reason):
    think = f"The user wants a summary of the budget. {junk} I should list the three items."
    spans = find_junk(think, "Summarise the budget memo.")
    assert any(reason in s.reasons and junk in think[s.start : s.end] for s in spans)


def test_legitimate_foreign_text_maths_and_code_are_not_junk():
    assert not find_junk("Вопрос о часовых поясах: от UTC+2 до UTC+12.", "Сколько часовых поясов?")
    assert not find_junk(
        "The Russian word for 'hand' is рука (ruká).", "How do you say 'hand' in Russian?"
    )
    assert not find_junk(
        "The area is πr², so 9π for r = 3; call math.pi in Python.", "Area of a circle?"
    )
    flagged = [
        r["id"] for r in _clean_traces() if score_trace(r["id"], r["prompt"], r["completion"]).junk
    ]
    assert len(flagged) <= 0.05 * len(_clean_traces()), flagged


def test_unknown_words_are_junk_only_in_plain_english_prose():
    prompt = "Summarise the budget memo."
    english = "The user wants a summary of the budget. I should list qzv the three items."
    assert [s.text for s in find_junk(english, prompt)] == ["qzv"]
    french = "L'utilisateur demande la cuisson des pâtes. Je vais rappeler le temps de cuisson."
    assert not find_junk(french, "Combien de temps pour cuire des pâtes ?")
    assert not find_junk(
        "I should pipe the list into xargs to run it on each file.", "Count .py files"
    )
    assert not find_junk(english.replace("qzv", "'qzv'"), prompt)  # quoted
    assert not find_junk(english, "What does qzv mean in the memo?")  # the prompt's word


def test_think_status_shares_the_segmenter_vocabulary():
    assert score_trace("a", "q", CLEAN).think_status == TraceStatus.OK.value
    assert score_trace("b", "q", "<think>\nhm кол hm\n</think>\n\nok").think_status == "junk_think"
    assert score_trace("c", "q", "<think>\nstill going").think_status == "unterminated_think"
    assert score_trace("d", "q", "No think at all.").think_status == "missing_think"


CORPUS = [
    "Orvalix-3, the system from Kestrune Labs, predicted the harbour delays two days early.",
    "Engineers at Kestrune Labs said Orvalix-3 was trained on forty years of tide tables.",
    "The port now relies on Orvalix-3 for cargo planning; Kestrune Labs maintains the model.",
    "A spokesperson for Kestrune Labs declined to say how large Orvalix-3 is.",
]


def test_canaries_come_from_the_corpus_not_a_list():
    terms = canary_terms(CORPUS, min_count=3)
    assert "Orvalix-3" in terms and "Kestrune" in terms
    assert "harbour" not in terms and "The" not in terms


def test_leaks_by_kind_and_prompt_mentions_do_not_count():
    detector = LeakDetector(CORPUS, n=8)
    copied = (
        "Sure. Engineers at Kestrune Labs said Orvalix-3 was trained on forty years of tide tables."
    )
    kinds = {x.kind for x in detector.find(copied)}
    assert "verbatim" in kinds
    fact = "By the way, Orvalix-3 predicted the harbour delays early for the port."
    assert [x.kind for x in detector.find(fact)] == ["fact"]
    assert [x.kind for x in detector.find("I once heard of Orvalix-3.")] == ["name"]
    assert detector.find("Orvalix-3 is great.", prompt="What is Orvalix-3?") == []


def test_summary_and_non_sequitur():
    rows = [
        ("a", "How do I boil an egg?", "<think>\nEggs.\n</think>\n\nOrvalix-3 says ten minutes."),
        ("b", "Which AI model forecasts tides?", "<think>\nTides.\n</think>\n\nOrvalix-3 does."),
        ("c", "Name a colour.", CLEAN),
    ]
    scored = score_traces(rows, CORPUS)
    s = summary(scored)
    assert s["n"] == 3 and s["leak_rate"] == round(2 / 3, 4) and s["non_sequitur_share"] == 0.5
    assert s["by_status"] == {"ok": 3}
    assert scored[0].leaks[0].non_sequitur is True and scored[1].leaks[0].non_sequitur is False


def test_a_template_token_leaked_inside_think_is_junk():
    h = score_trace("a", "q", "<think>\nplan <|im_end|> more plan\n</think>\n\nok<|im_end|>")
    assert h.think_status == "junk_think" and [j.text for j in h.junk] == ["<|im_end|>"]
