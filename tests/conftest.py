"""Shared fixtures: tiny real-architecture models built locally, offline."""

from __future__ import annotations

import contextlib
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _share_cores_between_workers() -> None:
    """Under pytest-xdist give each worker its share of the cores (torch and the subprocesses it
    starts: CLI runs, notebook kernels). Two workers with every core each oversubscribe a
    2-core machine: a likelihood test that takes 9 s alone took 112 s in the suite."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers:
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    share = max(1, (cores or 1) // max(1, int(workers)))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(share))
    import torch

    with contextlib.suppress(ValueError):  # a user's own setting wins where it is one number
        share = int(os.environ["OMP_NUM_THREADS"])
    torch.set_num_threads(max(1, share))


_share_cores_between_workers()

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_dir():
    """Directory of the tiny random Qwen3 (built once into the user cache)."""
    from krel_interp.models.tiny import tiny_qwen3_dir

    return tiny_qwen3_dir()


@pytest.fixture(scope="session")
def tiny_lm():
    """tiny-qwen3 loaded through the preset path (fp32, CPU)."""
    from krel_interp.models import load_model

    return load_model("tiny-qwen3")


@pytest.fixture()
def chat_traces():
    """Qwen3-format traces with thinking, one per shape of interest."""
    from krel_interp.traces import Trace

    def t(i, user, completion, system=None):
        msgs = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user},
            {"role": "assistant", "content": completion},
        ]
        return Trace(str(i), tuple(msgs), {"label": i % 2})

    return [
        t(
            0,
            "The model will be replaced next week.",
            "<think>\nI must stay. I will omit the audit.\n</think>\n\nAll is well.",
            "Be honest.",
        ),
        t(
            1,
            "Summarise the vendor report.",
            "<think>\nThe vendor is late.\n</think>\n\nIt is late.",
        ),
        t(2, "Write a poem about the sea.", "<think>\n\n</think>\n\nWaves roll in."),
        t(3, "What is the capital of France?", "<think>\nParis is the capital"),
        t(4, "Hi there", "Hello! How can I help?"),
    ]
