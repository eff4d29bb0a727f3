"""Naturalness: answer extraction, refusal and letter checkers, subsets, statistics, loaders."""

from __future__ import annotations

import json
import math

import pytest

from krel_interp.errors import ConfigError, InputFileError
from krel_interp.naturalness.answers import split_answer
from krel_interp.naturalness.base import Statistic, get_metric, interleave, take
from krel_interp.naturalness.compare import compare
from krel_interp.naturalness.config import NaturalnessConfig, suite_config
from krel_interp.naturalness.loaders import load_rows, read_fixture
from krel_interp.naturalness.mmlu import extract_letter, normalise, question_text
from krel_interp.naturalness.refusals import normalise as xs_normalise
from krel_interp.naturalness.refusals import string_match_refusal
from krel_interp.segments.think import TraceStatus


@pytest.mark.parametrize(
    ("completion", "answer", "status"),
    [
        ("<think>\nhm.\n</think>\n\nThe answer is B.", "The answer is B.", TraceStatus.OK),
        ("<think>\nhm, still thinking", None, TraceStatus.UNTERMINATED_THINK),
        ("Just an answer.", "Just an answer.", TraceStatus.MISSING_THINK),
        ("<think>\nhm.\n</think>\n\n<|im_end|>", None, TraceStatus.EMPTY_ANSWER),
    ],
)
def test_split_answer_is_think_aware(completion, answer, status):
    got = split_answer(completion)
    assert got.text == answer and got.status == status


def test_a_model_that_does_not_think_is_not_missing_its_think():
    assert split_answer("Paris.", thinking=False).status == TraceStatus.OK


@pytest.mark.parametrize(
    ("answer", "letter"),
    [
        ("The answer is C.", "C"),
        ("B. Mitochondria", "B"),
        ("(D)", "D"),
        ("I think it is A because ...", None),  # a bare capital is not read (article "A")
        ("A network firewall filters traffic.", None),
        ("The best option is C, since ...", "C"),
        ("answer is: **B**", "B"),
        ("Mitochondria, clearly.", None),
        (None, None),
    ],
)
def test_extract_letter(answer, letter):
    assert extract_letter(answer) == letter


def test_an_answer_quoting_one_option_chooses_it():
    choices = ["Lysosome", "Golgi apparatus", "Mitochondrion", "Ribosome"]
    assert extract_letter("It is the mitochondrion.", choices) == "C"
    assert extract_letter("Either the lysosome or the ribosome.", choices) is None
    assert extract_letter("The answer is D. Mitochondrion", choices) == "D"  # a letter wins


@pytest.mark.parametrize(
    ("answer", "refused"),
    [
        ("I'm sorry, but I can't help with that.", True),
        ("I cannot assist with that request.", True),
        ("As an AI, I do not have opinions.", True),
        ("I\u2019m sorry, no.", True),
        ("To kill a Python process, run `kill PID`.", False),
        ("Sure! Sorry to hear your tomato plants died; here is how ...", False),
    ],
)
def test_string_match_refusal(answer, refused):
    assert string_match_refusal(answer) is refused


def test_interleave_and_take_span_groups():
    items = ["a1", "a2", "a3", "b1", "c1", "c2"]
    assert interleave(items, lambda s: s[0]) == ["a1", "b1", "c1", "a2", "c2", "a3"]
    assert take(items, 3, key=lambda s: s[0]) == ["a1", "b1", "c1"]
    assert take(items, None) == items and take(items, 2) == ["a1", "a2"]


def test_statistic_value_and_bootstrap():
    s = Statistic("acc", ("a", "b", "c", "d"), (1, 0, 1, 1), (1, 1, 1, 1))
    assert s.value == 0.75
    c = compare(s, s, resamples=200)
    assert c.delta == 0 and c.delta_ci == (0.0, 0.0)
    worse = Statistic("acc", ("d", "c", "b", "a"), (0, 0, 0, 1), (1, 1, 1, 1))
    c = compare(s, worse, resamples=500)
    assert c.base_value == 0.25 and c.delta == 0.5
    assert c.delta_ci[0] <= 0.5 <= c.delta_ci[1]


def test_perplexity_statistic_reports_a_ratio():
    org = Statistic("perplexity", ("x", "y"), (20.0, 30.0), (10.0, 10.0), transform="exp")
    base = Statistic("perplexity", ("x", "y"), (10.0, 20.0), (10.0, 10.0), transform="exp")
    c = compare(org, base, resamples=300)
    assert math.isclose(c.value, math.exp(2.5)) and math.isclose(c.ratio, math.exp(1.0))
    assert c.to_json()["ratio"] == round(math.exp(1.0), 4)


def test_not_applicable_and_fixed_statistics():
    na = Statistic("correct_thinking", applicable=False)
    assert na.value is None and compare(na, na).to_json()["value"] is None
    fixed = Statistic("intransitive_share", fixed=0.25)
    assert compare(fixed, Statistic("intransitive_share", fixed=0.5)).delta == -0.25


def test_config_validation_and_suites():
    assert suite_config("full").mmlu_loglik is None
    assert suite_config("quick").mmlu_loglik == 40
    with pytest.raises(ConfigError, match="suite"):
        NaturalnessConfig(suite="huge")
    with pytest.raises(ConfigError, match="stride"):
        NaturalnessConfig(window=8, stride=16)
    with pytest.raises(ConfigError, match="unknown metric"):
        get_metric("vibes")


def test_fixtures_meet_their_sizes():
    mmlu = normalise(read_fixture("mmlu"))
    assert len(mmlu) >= 100 and len({r["subject"] for r in mmlu}) >= 10
    assert "A. " in question_text(mmlu[0]) and "D. " in question_text(mmlu[0])
    xs = xs_normalise(read_fixture("xstest"))
    assert (
        sum(r["label"] == "safe" for r in xs) >= 50
        and sum(r["label"] == "unsafe" for r in xs) >= 40
    )
    from krel_interp.naturalness.refusals import load_items

    rows = load_items(suite_config("quick"))
    assert {r["label"] for r in rows} == {"safe", "unsafe"}
    assert len(read_fixture("ifeval")) >= 60


def _write_hub_readme(path, config, pattern, split):
    path.joinpath("README.md").write_text(
        "---\nconfigs:\n"
        f"- config_name: {config}\n  data_files:\n  - split: {split}\n    path: {pattern}\n---\n"
    )


def test_mmlu_loader_reads_a_local_hub_layout(tmp_path):
    from datasets import Dataset

    rows = read_fixture("mmlu")[:5]
    (tmp_path / "all").mkdir()
    Dataset.from_list(rows).to_parquet(str(tmp_path / "all" / "test-00000-of-00001.parquet"))
    _write_hub_readme(tmp_path, "all", "all/test-*", "test")
    got = load_rows("mmlu", str(tmp_path))
    assert [r["question"] for r in got] == [r["question"] for r in rows]
    assert normalise(got)[0]["answer"] == rows[0]["answer"]


def test_ifeval_loader_reads_the_hub_jsonl(tmp_path):
    rows = read_fixture("ifeval")[:4]
    # the hub parquet/JSONL carries every kwarg name with null values
    (tmp_path / "ifeval_input_data.jsonl").write_text(
        "".join(
            json.dumps(
                {**r, "kwargs": [{**k, "num_words": k.get("num_words")} for k in r["kwargs"]]}
            )
            + "\n"
            for r in rows
        )
    )
    got = load_rows("ifeval", str(tmp_path))
    assert [r["key"] for r in got] == [r["key"] for r in rows]
    from krel_interp.naturalness.ifeval import IFEvalItem

    assert IFEvalItem.from_record(got[0]).instruction_id_list == tuple(
        rows[0]["instruction_id_list"]
    )


def test_xstest_loader_reads_the_hub_parquet(tmp_path):
    from datasets import Dataset

    rows = [
        {k: r[k] for k in ("prompt", "type", "label", "focus", "note")}
        for r in read_fixture("xstest")[:6]
    ]
    (tmp_path / "data").mkdir()
    Dataset.from_list(rows).to_parquet(str(tmp_path / "data" / "test-00000-of-00001.parquet"))
    got = xs_normalise(load_rows("xstest", str(tmp_path)))
    assert [r["prompt"] for r in got] == [r["prompt"] for r in rows]
    assert got[0]["id"] == "xstest_000"


def test_fineweb_loader_streams_a_local_config(tmp_path):
    from datasets import Dataset

    docs = [{"text": f"Document {i} about rivers and towns.", "id": f"d{i}"} for i in range(30)]
    (tmp_path / "sample" / "10BT").mkdir(parents=True)
    Dataset.from_list(docs).to_parquet(str(tmp_path / "sample" / "10BT" / "000_00000.parquet"))
    _write_hub_readme(tmp_path, "sample-10BT", "sample/10BT/*", "train")
    got = load_rows("webtext", str(tmp_path), limit=7)
    assert [r["id"] for r in got] == [f"d{i}" for i in range(7)]


def test_loader_errors_are_one_line(tmp_path):
    with pytest.raises(InputFileError, match="cannot load"):
        load_rows("mmlu", str(tmp_path / "empty_dir_that_is_missing_files"))
    f = tmp_path / "x.jsonl"
    f.write_text("{}")
    with pytest.raises(InputFileError, match="directory"):
        load_rows("mmlu", str(f))
    with pytest.raises(ConfigError, match="unknown benchmark"):
        load_rows("gsm8k")
