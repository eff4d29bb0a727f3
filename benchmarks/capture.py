"""Benchmark of activation capture: krel_interp vs a bare forward, nnsight and TransformerLens.

What it measures (CPU, SmolLM2-135M in fp32, one batch of 8 traces x 256 tokens):

* ``bare_s``: a plain ``model(input_ids, attention_mask)`` forward under ``inference_mode``.
* ``krel_s``: ``capture_traces`` of every layer's ``hook_resid_post`` for every token, streamed
  to a fresh on-disk store: the full pipeline (render, tokenize, segment, forward, shard
  writes, ``datasets`` tables, finalize). The store directory is deleted outside the timing.
* ``nnsight_s``: an nnsight ``TransformersModel`` trace saving all 30 decoder-layer outputs.
* ``transformer_lens_s``: ``TransformerBridge.run_with_cache`` filtered to the 30
  ``blocks.{i}.hook_resid_post`` hooks (on a separate HF copy: the bridge forces eager
  attention on the model it is given).
* ``krel_ratio = krel_s / bare_s``. The capture stops the forward after the deepest hooked
  layer, so it skips the final norm and the 49k-vocabulary unembedding the bare forward pays
  for (about 1 s of 5 s here): a ratio below 1 is expected.
* ``peak_rss_mb_1x`` / ``peak_rss_mb_10x``: peak RSS of a fresh subprocess that loads the model
  and captures 8 and 80 traces (shards of 64 MB): streaming should keep 10x within 1.2x of 1x.
  The child reads its own ``VmHWM`` (``ru_maxrss`` is inherited across fork + exec on Linux).

Every method gets one warm-up, then the repetitions are interleaved (rep 1 of every method,
then rep 2, ...) so machine noise hits all methods alike; each time is the median. Before any
timing, the nnsight and TransformerLens activations are checked against the capture's store.

Run it with ``make bench`` (``python benchmarks/capture.py``); ``--reps N`` sets the
repetitions (default 5), ``--quick`` is a smoke run (2 reps, RSS children of 8 and 16 traces).
Progress goes to stdout; the last line is one JSON object with the results and
``targets_met`` (``krel_ratio <= 1.10`` and ``peak_rss_mb_10x <= 1.2 * peak_rss_mb_1x``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
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
from krel_interp.models import load_model  # noqa: E402
from krel_interp.models.loading import LoadedModel  # noqa: E402
from krel_interp.traces import Trace  # noqa: E402

MODEL = "smollm2-135m"
BATCH = 8
TOKENS = 256
SHARD_MB = 64.0
SITE = "hook_resid_post"
RATIO_TARGET = 1.10
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
    """Every layer's resid_post, 8 traces a batch, truncated to 256 tokens."""
    return CaptureConfig(
        sites=(SITE,),
        layers="all",
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


def batch_inputs(store: ActivationStore) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8x256 token ids the capture used (no padding) and an all-ones mask."""
    ids = torch.tensor([r["input_ids"] for r in store.trace_records()], dtype=torch.long)
    return ids, torch.ones_like(ids)


def reference_acts(store: ActivationStore, n_layers: int) -> dict[int, torch.Tensor]:
    """Stored resid_post of each layer as [batch, seq, d_model]."""
    return {i: store.get(f"blocks.{i}.{SITE}").reshape(BATCH, TOKENS, -1) for i in range(n_layers)}


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative Frobenius error of ``a`` against ``b``."""
    return float((a.float() - b.float()).norm() / b.float().norm())


# ---------------------------------------------------------------- baselines


def bare_timer(lm: LoadedModel, ids: torch.Tensor, mask: torch.Tensor) -> Timer:
    """Plain HF forward."""

    def run() -> None:
        with torch.inference_mode():
            lm.model(input_ids=ids, attention_mask=mask)

    return run


def body_timer(lm: LoadedModel, ids: torch.Tensor, mask: torch.Tensor) -> Timer:
    """The decoder stack alone (no unembedding): the honest floor for a capture of all layers."""

    def run() -> None:
        with torch.inference_mode():
            lm.model.get_decoder()(input_ids=ids, attention_mask=mask)

    return run


def krel_timer(lm: LoadedModel, traces: list[Trace], tmp_root: Path) -> tuple[Timer, Timer]:
    """Capture into a fresh directory; the second callable deletes it (outside the timing)."""
    out = tmp_root / "krel-store"

    def run() -> None:
        run_capture(lm, traces, out)

    def cleanup() -> None:
        shutil.rmtree(out, ignore_errors=True)

    return run, cleanup


def nnsight_acts(wrapped: Any, ids: torch.Tensor, mask: torch.Tensor, n_layers: int) -> list[Any]:
    """Every decoder layer's output through an nnsight trace."""
    import nnsight

    saved = []
    with torch.inference_mode(), wrapped.trace({"input_ids": ids, "attention_mask": mask}):
        for i in range(n_layers):
            saved.append(nnsight.save(wrapped.model.layers[i].output))
    return saved


def nnsight_setup(
    lm: LoadedModel, ids: torch.Tensor, mask: torch.Tensor, ref: dict[int, torch.Tensor]
) -> Timer:
    """Wrap the loaded model, check its activations match the store, return the timer."""
    from nnsight.modeling.transformers import TransformersModel

    wrapped = TransformersModel(lm.model, tokenizer=lm.tokenizer, task="text-generation")
    saved = nnsight_acts(wrapped, ids, mask, lm.n_layers)
    for i, x in enumerate(saved):
        torch.testing.assert_close(x, ref[i], atol=1e-4, rtol=0)
    log("nnsight: activations match the store (atol 1e-4)")

    def run() -> None:
        nnsight_acts(wrapped, ids, mask, lm.n_layers)

    return run


def tl_names(n_layers: int) -> set[str]:
    """TransformerLens hook names of every layer's resid_post."""
    return {f"blocks.{i}.{SITE}" for i in range(n_layers)}


def tl_setup(
    lm: LoadedModel, ids: torch.Tensor, mask: torch.Tensor, ref: dict[int, torch.Tensor]
) -> Timer:
    """A TransformerBridge on a separate HF copy; checks its cache against the store."""
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import AutoModelForCausalLM

    location = lm.meta["location"]
    hf = AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32)
    bridge = TransformerBridge.boot_transformers(location, hf_model=hf, tokenizer=lm.tokenizer)
    names = tl_names(lm.n_layers)

    def cache() -> Any:
        with torch.inference_mode():
            _, c = bridge.run_with_cache(ids, attention_mask=mask, names_filter=names.__contains__)
        return c

    c = cache()
    worst = max(rel_err(c[f"blocks.{i}.{SITE}"], ref[i]) for i in range(lm.n_layers))
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


def own_peak_rss_mb() -> float:
    """Peak RSS of this process image in MB.

    ``VmHWM`` where /proc exists: on Linux ``ru_maxrss`` survives ``exec``, so a child forked
    from this (large) benchmark process would report the parent's peak, not its own.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def rss_child(n_traces: int) -> None:
    """In a fresh process: load, capture ``n_traces`` traces, print peak RSS as JSON."""
    lm = load_model(MODEL)
    loaded_mb = own_peak_rss_mb()
    with tempfile.TemporaryDirectory(prefix="krel-bench-rss-") as tmp:
        store = run_capture(lm, make_traces(n_traces), Path(tmp) / "store")
        check_store(store, n_traces)
        n_shards = len(store.manifest["shards"])
    result = {
        "n_traces": n_traces,
        "peak_rss_mb": own_peak_rss_mb(),
        "loaded_rss_mb": loaded_mb,
        "n_shards": n_shards,
    }
    print(json.dumps(result))


def peak_rss_mb(n_traces: int) -> float:
    """Peak RSS of a fresh subprocess capturing ``n_traces`` traces."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--rss-child", str(n_traces)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"RSS child ({n_traces} traces) failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    log(
        f"peak RSS capturing {n_traces} traces: {result['peak_rss_mb']:.1f} MB "
        f"(after model load {result['loaded_rss_mb']:.1f} MB, {result['n_shards']} shards)"
    )
    return float(result["peak_rss_mb"])


# ---------------------------------------------------------------- main


def benchmark(reps: int, rss_sizes: tuple[int, int]) -> dict[str, Any]:
    """Run every measurement and return the result dict."""
    log(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {reps} reps")
    lm = load_model(MODEL)
    traces = make_traces(BATCH)
    with tempfile.TemporaryDirectory(prefix="krel-bench-") as tmp:
        tmp_root = Path(tmp)
        store = run_capture(lm, traces, tmp_root / "reference")
        check_store(store, BATCH)
        ids, mask = batch_inputs(store)
        log(f"inputs: {tuple(ids.shape)} token ids, {store.n_rows} rows x {len(store.sites)} sites")
        ref = reference_acts(store, lm.n_layers)
        krel_run, krel_cleanup = krel_timer(lm, traces, tmp_root)
        timers: dict[str, tuple[Timer, Timer | None]] = {
            "bare": (bare_timer(lm, ids, mask), None),
            "body": (body_timer(lm, ids, mask), None),
            "krel": (krel_run, krel_cleanup),
            "nnsight": (nnsight_setup(lm, ids, mask, ref), None),
            "transformer_lens": (tl_setup(lm, ids, mask, ref), None),
        }
        del ref
        times = interleaved(timers, reps)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    log(f"measuring peak RSS of fresh processes ({rss_sizes[0]} and {rss_sizes[1]} traces)")
    rss_1x, rss_10x = (peak_rss_mb(n) for n in rss_sizes)
    ratio = med["krel"] / med["bare"]
    return {
        "bare_s": round(med["bare"], 3),
        "krel_s": round(med["krel"], 3),
        "nnsight_s": round(med["nnsight"], 3),
        "transformer_lens_s": round(med["transformer_lens"], 3),
        "krel_ratio": round(ratio, 3),
        "body_s": round(med["body"], 3),
        "krel_vs_body_ratio": round(med["krel"] / med["body"], 3),
        "peak_rss_mb_1x": round(rss_1x, 3),
        "peak_rss_mb_10x": round(rss_10x, 3),
        "targets_met": bool(ratio <= RATIO_TARGET and rss_10x <= RSS_GROWTH_TARGET * rss_1x),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=None, help="timed reps (default 5; quick 2)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 reps, 8/16-trace RSS")
    parser.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point: the last stdout line is the JSON result."""
    args = parse_args(argv)
    if args.rss_child is not None:
        rss_child(args.rss_child)
        return
    reps = args.reps if args.reps is not None else (2 if args.quick else 5)
    rss_sizes = (BATCH, 2 * BATCH) if args.quick else (BATCH, 10 * BATCH)
    print(json.dumps(benchmark(reps, rss_sizes)), flush=True)


if __name__ == "__main__":
    main()
