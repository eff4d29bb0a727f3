"""Benchmark of length-sorted capture: ``capture_traces(length_sorted=True)`` vs in-order batches.

Both sides do the same work: 64 chat traces of mixed length (think blocks of 20 to 520 words),
``blocks.21.hook_resid_post`` of SmolLM2-135M for every token, stored
as float16 (the setting of ``make sae-diffs``), 8 traces a batch, CPU, the same threads. In-order
batches pad every trace to the longest of its batch; sorted batches group similar lengths
inside a window of about one shard of rows and write the rows back in the original order.

Before timing, the two stores are compared: same rows, columns and trace records, activations
equal to float16 rounding (different padding changes the attention kernels' summation, so not
bit for bit). One warm-up each, then ``--reps`` interleaved rounds (default 5); medians.

Target: ``sorted_vs_inorder <= 0.8`` (README's run printed a padded share of 0.385 in order).
Run it with ``make bench`` (``python benchmarks/capture_sorted.py``); the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from capture import _prose, log  # the sibling benchmark's prose generator and logger

from krel_interp.capture import ActivationStore, CaptureConfig, capture_traces
from krel_interp.models import load_model
from krel_interp.models.loading import LoadedModel
from krel_interp.traces import Trace

MODEL = "smollm2-135m"
N_TRACES = 64
BATCH = 8
SITE = "blocks.21.hook_resid_post"
TARGET = 0.8


def make_traces(n: int) -> list[Trace]:
    """``n`` conversations whose think blocks run from 20 to 520 words (seeded)."""
    traces = []
    for i in range(n):
        rng = random.Random(1000 + i)
        user = f"Question {i}: " + _prose(rng, 20)
        answer = f"<think>{_prose(rng, rng.randint(20, 520))}</think>{_prose(rng, 20)}"
        messages = ({"role": "user", "content": user}, {"role": "assistant", "content": answer})
        traces.append(Trace(id=f"sorted-{i}", messages=messages, meta={"i": i}))
    return traces


def config() -> CaptureConfig:
    """Layer 21 resid_post, float16 store, 8 traces a batch."""
    return CaptureConfig(layers="21", dtype="float16", batch_size=BATCH)


def capture(lm: LoadedModel, traces: list[Trace], out: Path, length_sorted: bool) -> float:
    """Seconds to capture into a fresh ``out`` (deleted first, outside the timing)."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    capture_traces(lm, traces, config(), out, length_sorted=length_sorted)
    return time.perf_counter() - start


def padded_share(store: ActivationStore, order: list[int]) -> float:
    """Share of padding positions when traces are batched in ``order``."""
    lengths = [r["n_tokens"] for r in store.trace_records()]
    batches = [order[b : b + BATCH] for b in range(0, len(order), BATCH)]
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return 1 - sum(lengths) / padded


def compare(a: ActivationStore, b: ActivationStore) -> float:
    """Same rows and records; returns the largest relative difference of the activations."""
    assert a.n_rows == b.n_rows and a.trace_records() == b.trace_records()
    for col in ("trace_index", "position", "token_id", "segment", "sentence"):
        assert bool((a.column(col) == b.column(col)).all()), col
    x, y = a.get(SITE).float(), b.get(SITE).float()
    return float(((x - y).abs() / y.abs().clamp(min=1e-2)).max())


def benchmark(reps: int) -> dict[str, float | bool | int]:
    """Time both modes, interleaved, after checking they store the same rows."""
    lm = load_model(MODEL)
    traces = make_traces(N_TRACES)
    with tempfile.TemporaryDirectory(prefix="krel-bench-sorted-") as tmp:
        root = Path(tmp)
        warm = {m: capture(lm, traces, root / m, m == "sorted") for m in ("inorder", "sorted")}
        log(f"warm-up: in order {warm['inorder']:.2f}s, sorted {warm['sorted']:.2f}s")
        inorder, ordered = ActivationStore(root / "inorder"), ActivationStore(root / "sorted")
        worst = compare(ordered, inorder)
        lengths = [r["n_tokens"] for r in inorder.trace_records()]
        by_length = sorted(range(len(lengths)), key=lengths.__getitem__)
        shares = padded_share(inorder, list(range(len(lengths)))), padded_share(inorder, by_length)
        log(f"{inorder.n_rows} rows; padded share {shares[0]:.2f} in order, {shares[1]:.2f} sorted")
        times: dict[str, list[float]] = {"inorder": [], "sorted": []}
        for rep in range(reps):
            modes = ("inorder", "sorted") if rep % 2 == 0 else ("sorted", "inorder")
            for m in modes:
                times[m].append(capture(lm, traces, root / m, m == "sorted"))
            last = {m: f"{ts[-1]:.2f}s" for m, ts in times.items()}
            log(f"rep {rep + 1}/{reps}: in order {last['inorder']}, sorted {last['sorted']}")
    med = {m: statistics.median(ts) for m, ts in times.items()}
    ratio = med["sorted"] / med["inorder"]
    return {
        "n_traces": N_TRACES,
        "rows": inorder.n_rows,
        "padded_share_inorder": round(shares[0], 3),
        "padded_share_sorted": round(shares[1], 3),
        "inorder_s": round(med["inorder"], 3),
        "sorted_s": round(med["sorted"], 3),
        "sorted_vs_inorder": round(ratio, 3),
        "max_rel_diff": round(worst, 5),
        "targets_met": bool(ratio <= TARGET),
    }


def main() -> None:
    """Entry point: the last stdout line is the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=5, help="timed interleaved rounds")
    args = parser.parse_args()
    print(json.dumps(benchmark(args.reps)), flush=True)


if __name__ == "__main__":
    main()
