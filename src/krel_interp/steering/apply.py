"""Applying a steering vector through removable hooks, scoped to segments during generation.

``steer(lm, vector, coef=1.0, scope="think")`` is a context manager: inside it every forward
pass of ``lm`` (``generate`` with a KV cache included) adds ``coef x mean_norm x direction`` to
the residual stream after each chosen layer, at the positions of the scope only (``think:N``:
the first N think positions). With
``operator="project_out"`` the component along the direction is removed instead (scaled by
``coef``; 1 removes it entirely). ``coef == 0`` registers nothing, so outputs are bit-identical.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from torch import Tensor

from krel_interp.capture.sites import Site, parse_site
from krel_interp.errors import ConfigError
from krel_interp.interventions.hooks import edit_sites
from krel_interp.models.loading import LoadedModel
from krel_interp.steering.scope import ScopeTracker, parse_scope
from krel_interp.steering.vector import SITE, SteeringVector

OPERATORS = ("add", "project_out")
Recorder = Callable[[int, Tensor], None]  # (layer, steered mask [batch, seq])


@dataclass(frozen=True)
class SteeringSpec:
    """How a vector is applied: coefficient, scope, layers (None: all of the vector's), operator."""

    coef: float = 1.0
    scope: str = "think"
    layers: tuple[int, ...] | None = None
    operator: str = "add"

    def __post_init__(self) -> None:
        parse_scope(self.scope)
        if self.operator not in OPERATORS:
            raise ConfigError(f"unknown operator {self.operator!r}; valid: {', '.join(OPERATORS)}")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready provenance of a steered run."""
        return {
            "coef": self.coef,
            "scope": self.scope,
            "layers": None if self.layers is None else list(self.layers),
            "operator": self.operator,
        }


def _edit(
    vector: SteeringVector, spec: SteeringSpec, tracker: ScopeTracker, record: Recorder | None
) -> Callable[[Site, Tensor], Tensor | None]:
    allowed, window = parse_scope(spec.scope)

    def edit(site: Site, x: Tensor) -> Tensor | None:
        mask = tracker.mask(allowed, window)
        if mask.shape != x.shape[:2]:
            raise RuntimeError(f"scope mask {tuple(mask.shape)} does not fit {tuple(x.shape[:2])}")
        if record is not None:
            record(site.layer, mask.clone())
        m = mask.to(device=x.device, dtype=x.dtype)[..., None]
        u = vector.direction(site.layer).to(device=x.device, dtype=x.dtype)
        if spec.operator == "add":
            return x + m * (spec.coef * vector.norm(site.layer)) * u
        return x - m * spec.coef * (x @ u)[..., None] * u

    return edit


@contextlib.contextmanager
def steer(
    lm: LoadedModel,
    vector: SteeringVector,
    spec: SteeringSpec,
    record: Recorder | None = None,
) -> Iterator[list[str]]:
    """Hooks that steer every forward pass of ``lm`` inside the block; yields fit notes."""
    notes = vector.check_model(lm)
    layers = spec.layers if spec.layers is not None else vector.layers
    vector.check_layers(tuple(layers))
    if spec.coef == 0:
        yield notes
        return
    tracker = ScopeTracker(lm.tokenizer)
    sites = [parse_site(f"blocks.{layer}.{SITE}", lm.n_layers) for layer in layers]
    embed = lm.model.get_input_embeddings()

    def observe(_module: object, args: tuple[Tensor, ...]) -> None:
        tracker.observe(args[0])

    handle = embed.register_forward_pre_hook(observe)
    try:
        with edit_sites(lm.model, sites, lm.n_layers, _edit(vector, spec, tracker, record)):
            yield notes
    finally:
        handle.remove()


def layers_of(spec: str | None, vector: SteeringVector) -> tuple[int, ...] | None:
    """``"12,14"`` -> (12, 14); None keeps the vector's layers."""
    if not spec:
        return None
    try:
        layers = tuple(int(x) for x in spec.split(",") if x.strip())
    except ValueError as exc:
        raise ConfigError(f"--layers takes comma-separated integers, got {spec!r}") from exc
    vector.check_layers(layers)
    return layers
