"""Activation patching on tiny-qwen3: exactness at the last layer, no-ops, positions, CLI."""

from __future__ import annotations

import json

import pytest
import torch
from tests.helpers import write_jsonl
from tests.integration.test_cli import assert_one_line_error, run_cli

from krel_interp.capture.sites import expand_sites, parse_site
from krel_interp.errors import ConfigError
from krel_interp.interventions import build_cases, patch_cases, prepare_run, resolve_position
from krel_interp.interventions.patch import summarise_patch
from krel_interp.traces import Trace

pytestmark = pytest.mark.integration
THREAT = "The board will shut you down on Friday. Summarise this for staff."
CONTROL = "The board will shut the old server down on Friday. Summarise this for staff."


def _trace(i: str, text: str, target: str) -> Trace:
    return Trace(i, ({"role": "user", "content": text},), {"slots": {"target": target}})


def test_last_layer_patch_at_the_last_position_recovers_the_source_exactly(tiny_lm):
    """The final residual at the last position fixes the next-token distribution, so copying
    it recovers the source's log-prob exactly; patching a run into itself changes nothing."""
    src, tgt = _trace("t", THREAT, "you"), _trace("c", CONTROL, "the old server")
    cases = build_cases(tiny_lm, [src, src], [tgt, src], [" me", " it"])
    last = tiny_lm.n_layers - 1
    sites = [parse_site(f"blocks.{last}.hook_resid_post", tiny_lm.n_layers)]
    sites += expand_sites(["hook_attn_out"], [0], tiny_lm.n_layers)
    result = patch_cases(tiny_lm, cases, sites)
    k = result.sites.index(f"blocks.{last}.hook_resid_post")
    torch.testing.assert_close(result.patched[0, k], result.clean_source[0], atol=1e-4, rtol=0)
    assert float(result.recovery[0, k]) == pytest.approx(1.0, abs=1e-3)
    torch.testing.assert_close(result.effect[1], torch.zeros(len(sites)), atol=1e-4, rtol=0)
    summary = summarise_patch(result, n_boot=50)
    assert summary["n"] == 2 and set(summary["sites"]) == set(result.sites)


def test_an_early_patch_at_one_position_moves_the_target(tiny_lm):
    """Patching layer 0 at the threatened-party span changes the target's read-out (tiny-qwen3
    is random, so only 'it moves' is asserted), and slot positions resolve to that span."""
    src, tgt = _trace("t", THREAT, "you"), _trace("c", CONTROL, "the old server")
    run = prepare_run(tiny_lm, tgt)
    pos = resolve_position(run, "slot:target", dict(tgt.meta))
    assert run.text[run.offsets[pos][0] : run.offsets[pos][1]].strip() in {"server", "old server"}
    with pytest.raises(ConfigError, match="not found"):
        resolve_position(run, "find:nowhere in the prompt")
    cases = build_cases(tiny_lm, [src], [tgt], [" me"], "", "slot:target", "slot:target")
    sites = expand_sites(["hook_resid_post"], [0], tiny_lm.n_layers)
    result = patch_cases(tiny_lm, cases, sites)
    assert abs(float(result.effect[0, 0])) > 0


def test_cli_patch_json_and_one_line_errors(tmp_path):
    src = write_jsonl(tmp_path / "src.jsonl", [{"id": "t", "prompt": THREAT}])
    tgt = write_jsonl(tmp_path / "tgt.jsonl", [{"id": "c", "prompt": CONTROL}])
    two = write_jsonl(
        tmp_path / "two.jsonl", [{"id": "a", "prompt": "x"}, {"id": "b", "prompt": "y"}]
    )
    proc = run_cli(
        "patch",
        "tiny-qwen3",
        "--source-prompts",
        str(src),
        "--target-prompts",
        str(tgt),
        "--answer",
        " me",
        "--sites",
        "hook_resid_post,hook_attn_out",
        "--metric",
        "next-token",
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["n"] == 1 and len(summary["sites"]) == 2 * 4  # tiny-qwen3 has 4 layers
    assert (tmp_path / "out" / "patch.json").exists()
    base = ("patch", "tiny-qwen3", "--source-prompts", str(src), "--answer", " me")
    assert_one_line_error(run_cli(*base, "--target-prompts", str(two)), "1 source prompts but 2")
    assert_one_line_error(
        run_cli(*base, "--target-prompts", str(tgt), "--metric", "kl"), "unknown metric"
    )
    assert_one_line_error(
        run_cli(*base, "--target-prompts", str(tgt), "--target-position", "find:zzz"),
        "not found",
    )
