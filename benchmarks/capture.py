"""Benchmark of activation capture: krel_interp vs a bare forward, nnsight and TransformerLens.

Every method does the same work: the residual stream after each of layers 0..23 of
SmolLM2-135M (30 layers; CPU, fp32, one batch of 8 traces x 256 tokens, ``use_cache=False``,
the same thread count), and every method stops the forward after layer 23:

* ``bare_depth_s``: a plain forward stopped by a hook after layer 23, keeping nothing.
* ``krel_s``: ``capture_traces`` of ``blocks.0-23.hook_resid_post`` for every token, the whole
  pipeline (render, tokenize, segment, forward, stream shards to disk, ``datasets`` tables,
  finalize). The store directory is deleted outside the timing.
* ``nnsight_s``: an nnsight trace saving the 24 layer outputs, then ``tracer.stop()``; the
  activations stay in memory.
* ``transformer_lens_s``: ``TransformerBridge.run_with_cache`` filtered to the 24
  ``blocks.{i}.hook_resid_post`` hooks with ``stop_at_layer=24``; in memory (on a separate HF
  copy: the bridge forces eager attention on the model it is given).

Layer 23, not the last layer, because TransformerLens cannot stop after the last block (its
``stop_at_layer`` equal to the depth still runs the unembedding).

Before timing, the nnsight and TransformerLens activations are checked against the store.
Every method gets one warm-up; the repetitions are interleaved (rep 1 of every method, then
rep 2, ...), each time is the median.

Memory: fresh subprocesses load the model, record their RSS (``loaded_rss_mb``), reset the
peak counter, capture 8 or 80 traces and report their peak RSS above the loaded RSS; each
size runs 3 times (interleaved) and the medians are reported. Streaming should keep
``rss_growth_10x`` (peak above loaded for 80 traces / for 8) at most 1.2.

Targets: ``overhead_vs_bare_depth <= 1.05``, ``krel_s <= 1.05 x min(nnsight_s,
transformer_lens_s)``, ``rss_growth_10x <= 1.2``.

Run it with ``make bench`` (``python benchmarks/capture.py``); ``--reps N`` (default 7),
``--quick`` for a smoke run (2 reps, one RSS child per size, 8 and 16 traces). Progress goes
to stdout; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from krel_interp.capture import ActivationStore, CaptureConfig, capture_traces  # noqa: E402
from krel_interp.capture.sites import find_decoder_layers  # noqa: E402
from krel_interp.models import load_model  # noqa: E402
from krel_interp.models.loading import LoadedModel  # noqa: E402
from krel_interp.traces import Trace  # noqa: E402

MODEL = "smollm2-135m"
BATCH = 8
TOKENS = 256
DEEPEST = 23
LAYERS = list(range(DEEPEST + 1))
SHARD_MB = 64.0
SITE = "hook_resid_post"
OVERHEAD_TARGET = 1.05
PEER_TARGET = 1.05
RSS_GROWTH_TARGET = 1.2
PROSE = (
    "the model reasons about each step before it answers so we check whether the sum of two "
    "numbers is even then we compare the result with the previous value and note any "
    "difference in the sign or the size of the error which tells us where the argument fails"
)
WORDS = PROSE.split(" ")

Timer = Callable[[], None]


def log(msg: str) -> None:
    """A progress line (flushed, so it interleaves with child output)."""
    print(msg, flush=True)


def capture_config() -> CaptureConfig:
    """Layers 0..23 resid_post, 8 traces a batch, truncated to 256 tokens, fp32."""
    return CaptureConfig(
        sites=(SITE,),
        layers=f"0-{DEEPEST}",
        batch_size=BATCH,
        max_tokens=TOKENS,
        dtype="float32",
        shard_mb=SHARD_MB,
    )


def _prose(rng: random.Random, n_words: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n_words)]
    sentences = [" ".join(words[i : i + 12]).capitalize() + "." for i in range(0, n_words, 12)]
    return " ".join(sentences)


def make_traces(n: int) -> list[Trace]:
    """``n`` distinct conversations, each well over 256 tokens once rendered."""
    traces = []
    for i in range(n):
        rng = random.Random(i)
        user = f"Question {i}: " + _prose(rng, 40)
        answer = f"<think>{_prose(rng, 320)}</think>{_prose(rng, 40)}"
        messages = ({"role": "user", "content": user}, {"role": "assistant", "content": answer})
        traces.append(Trace(id=f"bench-{i}", messages=messages, meta={"i": i}))
    return traces


def run_capture(lm: LoadedModel, traces: list[Trace], out: Path) -> ActivationStore:
    """The timed krel_interp pipeline."""
    return capture_traces(lm, traces, capture_config(), out, overwrite=True)


def check_store(store: ActivationStore, n_traces: int) -> None:
    """Every trace was truncated to exactly 256 tokens and every layer stored."""
    records = store.trace_records()
    assert store.n_rows == n_traces * TOKENS, f"n_rows {store.n_rows} != {n_traces * TOKENS}"
    assert all(r["n_tokens"] == TOKENS and "truncated" in r["flags"] for r in records)
    assert len(store.sites) == len(LAYERS)


def batch_inputs(store: ActivationStore) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8x256 token ids the capture used (no padding) and an all-ones mask."""
    ids = torch.tensor([r["input_ids"] for r in store.trace_records()], dtype=torch.long)
    return ids, torch.ones_like(ids)


def reference_acts(store: ActivationStore) -> dict[int, torch.Tensor]:
    """Stored resid_post of each layer as [batch, seq, d_model]."""
    return {i: store.get(f"blocks.{i}.{SITE}").reshape(BATCH, TOKENS, -1) for i in LAYERS}


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative Frobenius error of ``a`` against ``b``."""
    return float((a.float() - b.float()).norm() / b.float().norm())


# ---------------------------------------------------------------- methods


class _Stop(Exception):
    pass


def bare_depth_timer(lm: LoadedModel, ids: torch.Tensor, mask: torch.Tensor) -> Timer:
    """A plain forward, stopped after layer 23 by a hook that keeps nothing."""
    block = find_decoder_layers(lm.model, lm.n_layers)[DEEPEST]

    def stop(*_: Any) -> None:
        raise _Stop

    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)

    def run() -> None:
        handle = block.register_forward_hook(stop)
        try:
            with torch.inference_mode():
                lm.model(
                    input_ids=ids, attention_mask=mask, position_ids=position_ids, use_cache=False
                )
        except _Stop:
            pass
        finally:
            handle.remove()

    return run


def krel_timer(lm: LoadedModel, traces: list[Trace], tmp_root: Path) -> tuple[Timer, Timer]:
    """Capture into a fresh directory; the second callable deletes it (outside the timing)."""
    out = tmp_root / "krel-store"

    def run() -> None:
        run_capture(lm, traces, out)

    def cleanup() -> None:
        shutil.rmtree(out, ignore_errors=True)

    return run, cleanup


def nnsight_acts(wrapped: Any, ids: torch.Tensor, mask: torch.Tensor) -> list[Any]:
    """Layers 0..23 through an nnsight trace, stopped after the last saved layer."""
    import nnsight

    saved = []
    inputs = {"input_ids": ids, "attention_mask": mask}
    with torch.inference_mode(), wrapped.trace(inputs, use_cache=False) as tracer:
        for i in LAYERS:
            saved.append(nnsight.save(wrapped.model.layers[i].output))
        tracer.stop()
    return saved


def nnsight_setup(
    lm: LoadedModel, ids: torch.Tensor, mask: torch.Tensor, ref: dict[int, torch.Tensor]
) -> Timer:
    """Wrap the loaded model, check its activations match the store, return the timer."""
    from nnsight.modeling.transformers import TransformersModel

    wrapped = TransformersModel(lm.model, tokenizer=lm.tokenizer, task="text-generation")
    saved = nnsight_acts(wrapped, ids, mask)
    for i, x in zip(LAYERS, saved, strict=True):
        torch.testing.assert_close(x, ref[i], atol=1e-4, rtol=0)
    log("nnsight: activations match the store (atol 1e-4)")

    def run() -> None:
        nnsight_acts(wrapped, ids, mask)

    return run


def tl_setup(
    lm: LoadedModel, ids: torch.Tensor, mask: torch.Tensor, ref: dict[int, torch.Tensor]
) -> Timer:
    """A TransformerBridge on a separate HF copy; checks its cache against the store."""
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import AutoModelForCausalLM

    location = lm.meta["location"]
    hf = AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32)
    bridge = TransformerBridge.boot_transformers(location, hf_model=hf, tokenizer=lm.tokenizer)
    names = {f"blocks.{i}.{SITE}" for i in LAYERS}

    def cache() -> Any:
        with torch.inference_mode():
            _, c = bridge.run_with_cache(
                ids,
                attention_mask=mask,
                names_filter=names.__contains__,
                stop_at_layer=DEEPEST + 1,
                use_cache=False,
            )
        return c

    c = cache()
    assert set(c.keys()) == names, sorted(c.keys())
    worst = max(rel_err(c[f"blocks.{i}.{SITE}"], ref[i]) for i in LAYERS)
    # The bridge runs eager attention, the capture sdpa: fp32 kernel drift, not a mismatch.
    assert worst < 1e-3, f"TransformerLens resid_post differs from the store (rel err {worst})"
    log(f"transformer_lens: activations match the store (max rel err {worst:.1e}, eager attn)")

    def run() -> None:
        cache()

    return run


# ---------------------------------------------------------------- timing


def time_once(fn: Timer, cleanup: Timer | None = None) -> float:
    """Wall time of one call; ``cleanup`` runs after, untimed."""
    gc.collect()
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    if cleanup:
        cleanup()
    return elapsed


def interleaved(timers: dict[str, tuple[Timer, Timer | None]], reps: int) -> dict[str, list[float]]:
    """One warm-up each, then ``reps`` rounds of every method (order rotated each round)."""
    names = list(timers)
    for name in names:
        log(f"warm-up {name}: {time_once(*timers[name]):.2f}s")
    times: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            times[name].append(time_once(*timers[name]))
        log(f"rep {rep + 1}/{reps}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in names))
    return times


# ---------------------------------------------------------------- memory


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def rss_child(n_traces: int) -> None:
    """In a fresh process: load, capture ``n_traces`` traces, print RSS figures as JSON."""
    lm = load_model(MODEL)
    traces = make_traces(n_traces)
    gc.collect()
    loaded = _status_mb("VmRSS")
    _reset_peak()
    with tempfile.TemporaryDirectory(prefix="krel-bench-rss-") as tmp:
        store = run_capture(lm, traces, Path(tmp) / "store")
        check_store(store, n_traces)
        n_shards = len(store.manifest["shards"])
        peak = _status_mb("VmHWM")
    result = {
        "n_traces": n_traces,
        "loaded_rss_mb": loaded,
        "peak_above_loaded_mb": peak - loaded,
        "n_shards": n_shards,
    }
    print(json.dumps(result))


def rss_run(n_traces: int) -> dict[str, float]:
    """RSS figures of a fresh subprocess capturing ``n_traces`` traces."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--rss-child", str(n_traces)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"RSS child ({n_traces} traces) failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    log(
        f"{n_traces} traces: loaded {result['loaded_rss_mb']:.0f} MB, peak above it "
        f"{result['peak_above_loaded_mb']:.0f} MB ({result['n_shards']} shards)"
    )
    return dict(result)


def memory(rss_sizes: tuple[int, int], runs: int) -> dict[str, float]:
    """Medians over ``runs`` interleaved fresh processes per size."""
    results: dict[int, list[dict[str, float]]] = {n: [] for n in rss_sizes}
    for _ in range(runs):
        for n in rss_sizes:
            results[n].append(rss_run(n))
    one, ten = (statistics.median(r["peak_above_loaded_mb"] for r in results[n]) for n in rss_sizes)
    loaded = statistics.median(r["loaded_rss_mb"] for rs in results.values() for r in rs)
    return {"loaded": loaded, "one": one, "ten": ten}


# ---------------------------------------------------------------- main


def benchmark(reps: int, rss_sizes: tuple[int, int], rss_runs: int) -> dict[str, Any]:
    """Run every measurement and return the result dict."""
    threads = torch.get_num_threads()
    log(f"torch {torch.__version__}, {threads} threads for every method, {reps} reps")
    lm = load_model(MODEL)
    traces = make_traces(BATCH)
    with tempfile.TemporaryDirectory(prefix="krel-bench-") as tmp:
        tmp_root = Path(tmp)
        store = run_capture(lm, traces, tmp_root / "reference")
        check_store(store, BATCH)
        ids, mask = batch_inputs(store)
        log(f"inputs: {tuple(ids.shape)} token ids, {store.n_rows} rows x {len(store.sites)} sites")
        ref = reference_acts(store)
        krel_run, krel_cleanup = krel_timer(lm, traces, tmp_root)
        timers: dict[str, tuple[Timer, Timer | None]] = {
            "bare_depth": (bare_depth_timer(lm, ids, mask), None),
            "krel": (krel_run, krel_cleanup),
            "nnsight": (nnsight_setup(lm, ids, mask, ref), None),
            "transformer_lens": (tl_setup(lm, ids, mask, ref), None),
        }
        del ref
        times = interleaved(timers, reps)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    log(f"peak RSS of fresh processes ({rss_sizes[0]} and {rss_sizes[1]} traces, x{rss_runs})")
    mem = memory(rss_sizes, rss_runs)
    overhead = med["krel"] / med["bare_depth"]
    peers = min(med["nnsight"], med["transformer_lens"])
    growth = mem["ten"] / mem["one"]
    return {
        "bare_depth_s": round(med["bare_depth"], 3),
        "krel_s": round(med["krel"], 3),
        "nnsight_s": round(med["nnsight"], 3),
        "transformer_lens_s": round(med["transformer_lens"], 3),
        "overhead_vs_bare_depth": round(overhead, 3),
        "krel_vs_best_peer": round(med["krel"] / peers, 3),
        "loaded_rss_mb": round(mem["loaded"], 1),
        "peak_above_loaded_mb_1x": round(mem["one"], 1),
        "peak_above_loaded_mb_10x": round(mem["ten"], 1),
        "rss_growth_10x": round(growth, 3),
        "threads": threads,
        "targets_met": bool(
            overhead <= OVERHEAD_TARGET
            and med["krel"] <= PEER_TARGET * peers
            and growth <= RSS_GROWTH_TARGET
        ),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=None, help="timed reps (default 7; quick 2)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 reps, small RSS runs")
    parser.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point: the last stdout line is the JSON result."""
    args = parse_args(argv)
    if args.rss_child is not None:
        rss_child(args.rss_child)
        return
    reps = args.reps if args.reps is not None else (2 if args.quick else 7)
    rss_sizes = (BATCH, 2 * BATCH) if args.quick else (BATCH, 10 * BATCH)
    print(json.dumps(benchmark(reps, rss_sizes, 1 if args.quick else 3)), flush=True)


if __name__ == "__main__":
    main()
