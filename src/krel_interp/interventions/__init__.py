"""Interventions through one removable write-hook mechanism: activation patching (and, built
on the same hooks, steering)."""

from krel_interp.interventions.hooks import Edit, edit_sites
from krel_interp.interventions.patch import (
    PatchCase,
    PatchResult,
    build_cases,
    patch_cases,
    summarise_patch,
)
from krel_interp.interventions.positions import Run, prepare_run, resolve_position

__all__ = [
    "Edit",
    "PatchCase",
    "PatchResult",
    "Run",
    "build_cases",
    "edit_sites",
    "patch_cases",
    "prepare_run",
    "resolve_position",
    "summarise_patch",
]
