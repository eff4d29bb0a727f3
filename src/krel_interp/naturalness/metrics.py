"""Imports every metric module so each registers itself (``METRICS``)."""

from krel_interp.naturalness import (  # noqa: F401
    instruction_following,
    mmlu,
    perplexity,
    preferences,
    refusals,
    thinking,
)
