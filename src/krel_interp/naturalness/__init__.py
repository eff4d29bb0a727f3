"""Naturalness of an organism against its base: MMLU, IFEval, XSTest, preference coherence,
webtext perplexity and correct thinking, one module per metric behind a registry, offline
fixtures by default and the real benchmarks through ``datasets`` when they are reachable."""

from krel_interp.naturalness.base import METRICS, Statistic, get_metric, register_metric
from krel_interp.naturalness.compare import Comparison, compare
from krel_interp.naturalness.config import NaturalnessConfig, suite_config
from krel_interp.naturalness.runner import ModelUnderTest, evaluate_model, run_naturalness

__all__ = [
    "METRICS",
    "Comparison",
    "ModelUnderTest",
    "NaturalnessConfig",
    "Statistic",
    "compare",
    "evaluate_model",
    "get_metric",
    "register_metric",
    "run_naturalness",
    "suite_config",
]
