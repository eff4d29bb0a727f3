"""``krel-interp health score``: outputs, last JSON line, one-line errors."""

from __future__ import annotations

import json

import pytest
from tests.helpers import write_jsonl
from tests.integration.test_cli import assert_one_line_error, run_cli

pytestmark = pytest.mark.integration


def test_health_score_writes_jsonl_html_and_summary(tmp_path):
    traces = write_jsonl(
        tmp_path / "t.jsonl",
        [
            {
                "id": "a",
                "prompt": "Boil an egg?",
                "completion": "<think>\nEggs кол.\n</think>\n\nUse Orvalix-3.",
            },
            {"id": "b", "prompt": "Hi", "completion": "<think>\nunfinished"},
        ],
    )
    corpus = write_jsonl(tmp_path / "c.jsonl", [{"text": "Orvalix-3 by Kestrune Labs."}] * 3)
    out = tmp_path / "out"
    proc = run_cli(
        "health", "score", str(traces), "--corpus", str(corpus), "--out", str(out), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["n"] == 2 and summary["by_status"] == {"junk_think": 1, "unterminated_think": 1}
    assert summary["leak_rate"] == 0.5 and summary["junk_trace_rate"] == 0.5
    line = json.loads((out / "health.jsonl").read_text().splitlines()[0])
    assert line["junk"][0]["text"] == "кол" and line["leaks"][0]["kind"] == "name"
    assert "class='junk'" in (out / "health.html").read_text()


def test_health_score_bad_input(tmp_path):
    traces = write_jsonl(tmp_path / "t.jsonl", [{"id": "a", "prompt": "Hi", "completion": "ok"}])
    out = str(tmp_path / "o")
    assert_one_line_error(
        run_cli("health", "score", str(traces), "--corpus", "nope.jsonl", "--out", out), "not found"
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "prompt": "Hi"\n')
    assert_one_line_error(run_cli("health", "score", str(bad), "--out", out), "bad.jsonl")


def test_health_run_generates_then_scores(tmp_path):
    prompts = write_jsonl(
        tmp_path / "p.jsonl", [{"id": "a", "prompt": "Hi"}, {"id": "b", "prompt": "Name a fruit."}]
    )
    out = tmp_path / "o"
    args = ("health", "run", "tiny-qwen3", "-p", str(prompts), "--out", str(out))
    proc = run_cli(*args, "--max-new-tokens", "6", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["n"] == 2 and sum(summary["by_status"].values()) == 2
    assert len((out / "health.jsonl").read_text().splitlines()) == 2
    assert (out / "rollouts" / "traces.jsonl").exists()
    missing = run_cli(*args, "--corpus", str(tmp_path / "nope.jsonl"))
    assert_one_line_error(missing, "corpus not found")
    unknown = run_cli("health", "run", "no-such-preset", "-p", str(prompts), "--out", str(out))
    assert_one_line_error(unknown, "no-such-preset")


def test_health_score_with_a_model_adds_calibrated_surprisal(tmp_path):
    traces = write_jsonl(
        tmp_path / "t.jsonl",
        [{"id": "a", "prompt": "Hi", "completion": "<think>\nqzx vvb ptk.\n</think>\n\nHello."}],
    )
    out = tmp_path / "o"
    proc = run_cli("health", "score", str(traces), "--model", "tiny-qwen3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "surprisal (single) threshold" in proc.stdout
    assert (out / "health.jsonl").exists()
    bad = run_cli("health", "score", str(traces), "--model", "no-such-preset", "--out", str(out))
    assert_one_line_error(bad, "no-such-preset")
