"""Sparse autoencoders: train with sae-lens on activation stores, load, vet, diff models."""

from krel_interp.sae.artifact import LoadedSae, load_sae, save_sae
from krel_interp.sae.config import SaeTrainConfig, load_sae_config
from krel_interp.sae.diff import (
    DIFF_METHODS,
    LatentRanking,
    encode_latents,
    get_diff_method,
    latent_activations,
    rank_latents,
    register_diff_method,
)
from krel_interp.sae.generation import ReplyRows, generation_stats, load_reply_rows
from krel_interp.sae.metrics import evaluate_sae
from krel_interp.sae.paired import PairedRows, load_paired_rows
from krel_interp.sae.train import train_sae

__all__ = [
    "DIFF_METHODS",
    "LatentRanking",
    "LoadedSae",
    "PairedRows",
    "ReplyRows",
    "SaeTrainConfig",
    "encode_latents",
    "evaluate_sae",
    "generation_stats",
    "get_diff_method",
    "latent_activations",
    "load_paired_rows",
    "load_reply_rows",
    "load_sae",
    "load_sae_config",
    "rank_latents",
    "register_diff_method",
    "save_sae",
    "train_sae",
]
