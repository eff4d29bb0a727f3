"""User-facing errors: one line, naming the problem. The CLI maps them to exit code 2."""

from __future__ import annotations


class KrelError(Exception):
    """A problem with the user's input or environment, reported as one line."""


class ConfigError(KrelError):
    """A configuration value is invalid (unknown preset, layer out of range, misspelt site)."""


class InputFileError(KrelError):
    """An input file is missing or malformed."""


class IncompatibleArtifactError(KrelError):
    """An artifact (store, probe, vector) does not fit the model it is applied to."""
