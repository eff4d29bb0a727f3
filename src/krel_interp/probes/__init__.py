"""Linear probes: methods (registry), family-grouped evaluation, artifacts, pipelines."""

from krel_interp.probes.artifact import ProbeArtifact, load_probe, save_probe
from krel_interp.probes.config import ProbeConfig, load_probe_config
from krel_interp.probes.data import ProbeDataset, build_dataset
from krel_interp.probes.evaluation import ProbeResult, fit_and_evaluate
from krel_interp.probes.methods import (
    PROBE_METHODS,
    LinearProbe,
    ProbeFitConfig,
    fit_probe,
    register_method,
)

__all__ = [
    "PROBE_METHODS",
    "LinearProbe",
    "ProbeArtifact",
    "ProbeConfig",
    "ProbeDataset",
    "ProbeFitConfig",
    "ProbeResult",
    "build_dataset",
    "fit_and_evaluate",
    "fit_probe",
    "load_probe",
    "load_probe_config",
    "register_method",
    "save_probe",
]
