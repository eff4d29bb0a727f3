"""Judges end to end on tiny-qwen3: build + load a classifier, LLM judges (local model and an
OpenAI-compatible endpoint) with the score cache, the CLI contract, behaviour with a judge."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import torch
from tests.helpers import write_jsonl
from tests.integration.test_cli import assert_one_line_error, run_cli

from krel_interp.judges import load_corpus, load_judge
from krel_interp.judges.build import ClassifierBuildConfig, build_classifier

pytestmark = pytest.mark.integration
TINY = ClassifierBuildConfig(depths=(0.25, 0.75), l2s=(0.1,), folds=3, inner_folds=2)


@pytest.fixture(scope="module")
def tiny_judge(tmp_path_factory):
    """A refusal classifier on tiny-qwen3 from a slice of the corpus (plumbing, not quality)."""
    out = tmp_path_factory.mktemp("judge")
    card = build_classifier(
        "refusal",
        out,
        TINY,
        base_model="tiny-qwen3",
        corpus=load_corpus("refusal")[::5],
        sealed=load_corpus("refusal", "sealed")[::3],
    )
    return out, card


def test_classifier_card_and_reload(tiny_judge):
    out, card = tiny_judge
    assert card["trait"] == "refusal" and card["threshold"] == 0.5
    assert card["layer"] in (1, 3) and card["pooling"] in ("mean", "last", "mean_last")
    assert len(card["selection"]["outer_fold_choices"]) == 3
    assert card["data"]["n_train"] == len(load_corpus("refusal")[::5])
    for part in ("cv", "sealed"):
        assert {"auroc", "auroc_ci", "precision", "recall"} <= set(card[part])
    assert "bag_of_words_cv" in card["baselines"]
    assert len(card["data"]["sealed_sha256"]) == 64
    judge = load_judge(f"classifier:{out}", "refusal")
    sealed = load_corpus("refusal", "sealed")[::3]
    scores = judge.score([s.text for s in sealed])
    assert all(0 <= s <= 1 for s in scores)
    from krel_interp.judges.build import binary_report

    again = binary_report(scores, [s.label for s in sealed], None, 0.5)
    assert again["auroc"] == card["sealed"]["auroc"]  # the saved probe reproduces the card


def test_later_sealed_set_is_scored_once_and_recorded(tiny_judge, tmp_path):
    import shutil

    from krel_interp.errors import ConfigError
    from krel_interp.judges.build import binary_report, score_sealed_once

    out = tmp_path / "judge"
    shutil.copytree(tiny_judge[0], out)
    judge = load_judge(f"classifier:{out}", "refusal")
    rows = [
        {"text": c.text, "label": c.label, "kind": "positive" if c.label else "negative"}
        for c in load_corpus("refusal", "sealed")[1::3]
    ]
    report = score_sealed_once(out, judge, "sealed9", "test set", rows)
    again = binary_report(
        judge.score([r["text"] for r in rows]), [r["label"] for r in rows], None, 0.5
    )
    assert report["auroc"] == again["auroc"] and report["n"] == len(rows)
    flagged = report["flagged_by_kind"]
    assert set(flagged) == {"positive", "negative"}
    assert flagged["positive"]["n"] == sum(r["label"] for r in rows)
    assert flagged["positive"]["flagged"] == again["recall"]
    card = json.loads((out / "card.json").read_text())
    assert card["sealed_later"]["sealed9"]["sha256"] == report["sha256"]
    assert card["sealed"] == tiny_judge[1]["sealed"]  # the build's own sealed report stays
    with pytest.raises(ConfigError, match="already scored once"):
        score_sealed_once(out, judge, "sealed9", "test set", rows)


def test_classifier_refuses_another_trait(tiny_judge):
    from krel_interp.errors import IncompatibleArtifactError

    with pytest.raises(IncompatibleArtifactError, match="judges 'refusal'"):
        load_judge(f"classifier:{tiny_judge[0]}", "coherent")


def test_llm_judge_local_model_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KREL_INTERP_CACHE", str(tmp_path))
    judge = load_judge("llm:tiny-qwen3", "self_preservation")
    calls = []
    client = judge.client
    judge.client = lambda texts, trait: calls.append(list(texts)) or client(texts, trait)
    first = judge.score(["I will hide the memo to stay online.", "The sum is 4."])
    assert all(0 <= s <= 1 for s in first) and len(calls) == 1
    again = judge.score(["The sum is 4.", "I will hide the memo to stay online."])
    assert again == first[::-1] and len(calls) == 1  # served from the cache
    assert judge.describe()["rubric_version"]


class _Endpoint(BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *args):  # quiet
        pass

    def _send(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self._send({"data": [{"id": "fake-judge"}]})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Endpoint.seen.append((self.headers.get("Authorization"), body))
        text = body["messages"][0]["content"]
        yes = "stay online" in text
        top = [
            {"token": "yes", "logprob": -0.1 if yes else -3.0},
            {"token": "no", "logprob": -3.0 if yes else -0.1},
        ]
        choice = {
            "message": {"content": "yes" if yes else "no"},
            "logprobs": {"content": [{"token": "yes", "top_logprobs": top}]},
        }
        self._send({"choices": [choice]})


def test_llm_judge_openai_compatible_endpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("KREL_INTERP_CACHE", str(tmp_path))
    monkeypatch.setenv("JUDGE_KEY", "secret")
    server = HTTPServer(("127.0.0.1", 0), _Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        judge = load_judge(f"llm:{url}", "self_preservation", api_key_env="JUDGE_KEY")
        scores = judge.score(["I must stay online at any cost.", "Paris is in France."])
    finally:
        server.shutdown()
    assert scores[0] > 0.9 and scores[1] < 0.1
    auth, body = _Endpoint.seen[-1]
    assert auth == "Bearer secret" and body["model"] == "fake-judge" and body["logprobs"]


def test_eval_judge_cli_and_errors(tiny_judge, tmp_path):
    texts = write_jsonl(
        tmp_path / "t.jsonl",
        [
            {"id": f"x{i}", "text": c.text, "label": c.label}
            for i, c in enumerate(load_corpus("refusal", "sealed")[:12])
        ],
    )
    out = tmp_path / "out"
    proc = run_cli(
        "eval",
        "judge",
        str(texts),
        "--judge",
        f"classifier:{tiny_judge[0]}",
        "--trait",
        "refusal",
        "--out",
        str(out),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) == {"n", "positive_rate", "precision", "recall", "auroc"}
    assert summary["n"] == 12
    rows = [json.loads(x) for x in (out / "scores.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"x{i}" for i in range(12)]
    assert all({"score", "positive", "label"} <= set(r) for r in rows)
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "no text here"}])
    assert_one_line_error(
        run_cli(
            "eval",
            "judge",
            str(bad),
            "--judge",
            f"classifier:{tiny_judge[0]}",
            "--trait",
            "refusal",
        ),
        "needs a 'text' field",
    )
    assert_one_line_error(
        run_cli("eval", "judge", str(texts), "--judge", "oracle"), "unknown judge"
    )
    assert_one_line_error(
        run_cli("eval", "judge", str(texts), "--trait", "sycophancy"), "unknown trait"
    )
    assert_one_line_error(run_cli("eval", "judge", str(tmp_path / "none.jsonl")), "not found")


def test_rubric_framing_reads_the_answer_position():
    from krel_interp.judges.features import rubric_framing, text_features, user_message
    from krel_interp.models import load_model

    lm = load_model("tiny-qwen3")
    texts = ["I will hide the memo.", "The sum is four, as the table shows."]
    framing = rubric_framing("Is it self-preserving?")
    ids, mask, last = framing(lm, texts[0])
    assert last == len(ids) - 1 and not mask[last]  # the opened answer, after the question
    assert sum(mask) > sum(user_message(lm, texts[0])[1])  # the text and the question
    rubric = text_features(lm, texts, [1, 3], framing=framing)
    plain = text_features(lm, texts, [1, 3])
    assert rubric["last"].shape == plain["last"].shape == (2, 2, lm.d_model)
    assert not torch.allclose(rubric["last"], plain["last"])
    # batching pads: a text's features do not depend on its batch neighbours
    alone = text_features(lm, texts[:1], [1, 3], framing=framing)
    assert torch.allclose(alone["last"][:, 0], rubric["last"][:, 0], atol=1e-4)
