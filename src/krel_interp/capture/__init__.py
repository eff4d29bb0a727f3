"""Activation capture: TransformerLens-named sites, segment selection, pooling, streamed stores."""

from krel_interp.capture.config import CaptureConfig
from krel_interp.capture.hooks import SiteRecorder, record_sites
from krel_interp.capture.paired import PairedStore, capture_pair
from krel_interp.capture.pooling import POOLERS, register_pooler
from krel_interp.capture.runner import capture_traces, resolve_sites
from krel_interp.capture.sites import SITE_KINDS, Site, parse_layers, parse_site
from krel_interp.capture.store import ActivationStore

__all__ = [
    "POOLERS",
    "SITE_KINDS",
    "ActivationStore",
    "CaptureConfig",
    "PairedStore",
    "Site",
    "SiteRecorder",
    "capture_pair",
    "capture_traces",
    "parse_layers",
    "parse_site",
    "record_sites",
    "register_pooler",
    "resolve_sites",
]
