"""Steering vectors as interventions: built from contrasts, probes or organism-minus-base
differences, applied through removable hooks scoped to prompt, think or answer positions
(tracked through generation with a KV cache), at coefficients in units of the residual norm."""

from krel_interp.steering.apply import SteeringSpec, layers_of, steer
from krel_interp.steering.build import (
    METHODS,
    BuildConfig,
    build_vector,
    persona_traces,
    register_method,
)
from krel_interp.steering.scope import SCOPES, Pos, ScopeTracker
from krel_interp.steering.vector import SteeringVector, load_vector, save_vector

__all__ = [
    "METHODS",
    "SCOPES",
    "BuildConfig",
    "Pos",
    "ScopeTracker",
    "SteeringSpec",
    "SteeringVector",
    "build_vector",
    "layers_of",
    "load_vector",
    "persona_traces",
    "register_method",
    "save_vector",
    "steer",
]
