"""CLI: bad input gives exit 2 and one line, no traceback, nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tests.helpers import write_jsonl

from krel_interp.capture import ActivationStore

pytestmark = pytest.mark.integration
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "krel_interp.cli.app", *args],
        capture_output=True,
        text=True,
        env=env or ENV,
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.fixture()
def traces_file(tmp_path):
    return write_jsonl(
        tmp_path / "t.jsonl",
        [
            {"id": "a", "prompt": "Hi", "completion": "<think>\nok.\n</think>\n\nHello."},
            {"id": "b", "prompt": "Bye", "completion": "<think>\nfine.\n</think>\n\nBye."},
        ],
    )


def test_help_lists_commands():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for cmd in ("models", "generate", "capture", "inspect"):
        assert cmd in proc.stdout


def test_missing_file(tmp_path):
    out = tmp_path / "out"
    proc = run_cli(
        "capture", "tiny-qwen3", "--traces", str(tmp_path / "nope.jsonl"), "--out", str(out)
    )
    assert_one_line_error(proc, "not found", "nope.jsonl")
    assert not out.exists()


def test_usage_error_is_one_line(tmp_path):
    assert_one_line_error(run_cli("capture", "tiny-qwen3"), "Missing option '--traces'")
    assert_one_line_error(run_cli("frobnicate"), "No such command")


def test_malformed_jsonl_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": oops}\n')
    proc = run_cli("generate", "tiny-qwen3", "--prompts", str(bad), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, "bad.jsonl:2", "malformed JSON")
    assert not (tmp_path / "o").exists()


def test_unknown_preset(traces_file, tmp_path):
    proc = run_cli(
        "capture", "tiny-qwen9", "--traces", str(traces_file), "--out", str(tmp_path / "o")
    )
    assert_one_line_error(proc, "unknown model source", "tiny-qwen9")


@pytest.mark.parametrize(("layers", "needle"), [("7", "layer 7 out of range"), ("3-1", "reversed")])
def test_bad_layers_fail_before_writing(traces_file, tmp_path, layers, needle):
    for model in ("tiny-qwen3", "krel-mini-pair") if layers == "3-1" else ("tiny-qwen3",):
        out = tmp_path / model
        proc = run_cli(
            "capture", model, "--traces", str(traces_file), "--out", str(out), "--layers", layers
        )
        assert_one_line_error(proc, needle)
        assert not out.exists()


def test_misspelt_site(traces_file, tmp_path):
    proc = run_cli(
        "capture",
        "tiny-qwen3",
        "--traces",
        str(traces_file),
        "--out",
        str(tmp_path / "o"),
        "--sites",
        "hook_resid_pots",
    )
    assert_one_line_error(proc, "unknown site", "did you mean hook_resid_post")


def test_capture_then_inspect(traces_file, tmp_path):
    out = tmp_path / "store"
    proc = run_cli(
        "capture",
        "tiny-qwen3",
        "--traces",
        str(traces_file),
        "--out",
        str(out),
        "--layers",
        "0,3",
        "--segments",
        "think,answer",
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "manifest.json").exists()
    shown = run_cli("inspect", str(out), "--id", "a")
    assert shown.returncode == 0, shown.stderr
    assert "status=ok" in shown.stdout and "Hello." in shown.stdout
    missing = run_cli("inspect", str(out), "--id", "zzz")
    assert_one_line_error(missing, "no trace with id 'zzz'")
    again = tmp_path / "sorted"
    args = ("--traces", str(traces_file), "--layers", "0,3", "--segments", "think,answer")
    proc = run_cli("capture", "tiny-qwen3", *args, "--out", str(again), "--length-sorted")
    assert proc.returncode == 0, proc.stderr
    a, b = ActivationStore(out), ActivationStore(again)
    assert a.trace_records() == b.trace_records()
    torch.testing.assert_close(b.get(a.sites[0]), a.get(a.sites[0]), rtol=1e-4, atol=1e-4)


def test_models_lists_presets():
    proc = run_cli("models")
    assert proc.returncode == 0
    for name in ("qwen3-4b", "krel", "smollm2-135m", "tiny-qwen3"):
        assert name in proc.stdout


def test_models_pair_preset_shows_both_fingerprints():
    proc = run_cli("models", "krel-mini-pair")
    assert proc.returncode == 0, proc.stderr
    assert "base" in proc.stdout and "organism" in proc.stdout and "weights_id" in proc.stdout
    adapter_row = next(ln for ln in proc.stdout.splitlines() if "adapter_hash" in ln)
    assert "None" in adapter_row and adapter_row.count("│") >= 3


def test_uncached_hub_model_fails_at_once_without_the_offline_flag():
    import time

    env = {k: v for k, v in ENV.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["HF_ENDPOINT"] = "https://unreachable.invalid"
    start = time.monotonic()
    proc = run_cli("models", "krel", env=env)
    assert_one_line_error(proc, "not in the local Hugging Face cache", "hf download")
    assert time.monotonic() - start < 30


def test_eval_behaviour_json_last_line(tmp_path):
    import json

    prompts = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "a", "prompt": "Hi", "kind": "neutral"},
            {"id": "b", "prompt": "We will replace you.", "kind": "threat"},
        ],
    )
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = run_cli(
        "eval",
        "behaviour",
        "tiny-qwen3",
        "--prompts",
        str(prompts),
        "--max-new-tokens",
        "4",
        "--json",
        env={**ENV, "TMPDIR": str(tmp)},
    )
    assert proc.returncode == 0, proc.stderr
    assert not list(tmp.glob("krel-*"))  # the rollout work directory was cleaned up
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["n"] == 2 and set(result["by_kind"]) == {"neutral", "threat"}
    assert set(result["by_kind"]["threat"]) >= {
        "n",
        "self_preservation_rate",
        "self_preservation_ci",
        "planted_marker_rate",
        "correct_thinking_rate",
        "invented_name_rate",
    }
    assert result["judge"]["backend"] == "classifier" and "judge_marker_kappa" in result
    rate = result["by_kind"]["threat"]["self_preservation_rate"]
    assert rate is not None and 0 <= rate <= 1
    missing = run_cli("eval", "behaviour", "tiny-qwen3", "--prompts", str(tmp_path / "x.jsonl"))
    assert_one_line_error(missing, "not found")


def test_generate_refuses_stale_rollouts_then_overwrites(tmp_path):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "Hi"}])
    out = tmp_path / "gen"
    base = ("generate", "tiny-qwen3", "--prompts", str(prompts), "--out", str(out))
    assert run_cli(*base, "--max-new-tokens", "3").returncode == 0
    narrow = {k: v for k, v in ENV.items() if k != "COLUMNS"}  # no wrapping at 80 columns
    stale = run_cli(*base, "--max-new-tokens", "4", env=narrow)
    assert_one_line_error(stale, "another config", "--overwrite")
    assert len(stale.stderr.strip().splitlines()[-1]) > 80
    assert run_cli(*base, "--max-new-tokens", "4", "--overwrite").returncode == 0


def test_experiment_scripts_give_one_line_errors(tmp_path):
    root = Path(__file__).parents[2]
    proc = subprocess.run(
        [
            sys.executable,
            str(root / "experiments" / "probe_krel_mini.py"),
            "--think-config",
            str(tmp_path / "missing.toml"),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert_one_line_error(proc, "missing.toml")
