"""Forward hooks that record sites, always registered inside a context manager."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from krel_interp.capture.sites import Site, find_decoder_layers, submodule


class _StopForward(Exception):
    """Raised by the last hook to skip the layers after the deepest requested site."""


def _as_tensor(output: Any) -> Tensor:
    # transformers 5 decoder layers return a Tensor; attention modules return (out, weights).
    # Indexing a Tensor with [0] would silently take batch row 0, so check the type.
    if isinstance(output, Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    raise TypeError(f"cannot read an activation from {type(output).__name__}")


def _pre_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor:
    if args and isinstance(args[0], Tensor):
        return args[0]
    return kwargs["hidden_states"]


class SiteRecorder:
    """Records the activations of ``sites`` during one forward pass.

    Use through :func:`record_sites`; call :meth:`run` with the model inputs. Each site is
    moved to ``offload`` (default the CPU; None keeps it where it was produced) by its hook.
    """

    def __init__(
        self,
        model: Any,
        sites: Sequence[Site],
        n_layers: int,
        stop_early: bool = True,
        offload: str | torch.device | None = "cpu",
    ):
        self.model = model
        self.offload = offload
        self._slab: Tensor | None = None
        self.sites = sorted(sites)
        self.cache: dict[str, Tensor] = {}
        self._handles: list[Any] = []
        self._blocks = find_decoder_layers(model, n_layers)
        self._last = self.sites[-1] if stop_early else None

    def _store(self, site: Site, value: Tensor) -> None:
        value = value.detach()
        if self.offload is None:
            self.cache[site.name] = value
        else:
            self.cache[site.name] = self._offloaded(site, value)
        if site == self._last:
            raise _StopForward

    def _offloaded(self, site: Site, value: Tensor) -> Tensor:
        """Copy a site into one slab on the offload device, as soon as it is produced.

        The accelerator then holds one site at a time, not every requested layer; on the CPU
        the slab (one large allocation, returned to the OS when freed) keeps long captures
        from fragmenting the heap with per-layer tensors born among the forward's temporaries.
        """
        slab = self._slab
        if slab is None or slab.shape[1:] != value.shape or slab.dtype != value.dtype:
            slab = torch.empty(
                (len(self.sites), *value.shape), dtype=value.dtype, device=self.offload
            )
            self._slab = slab
        out = slab[self.sites.index(site)]
        out.copy_(value, non_blocking=False)
        return out

    def _register(self, site: Site) -> None:
        module = submodule(self._blocks[site.layer], site)
        if site.kind == "hook_resid_pre":

            def pre_hook(_m: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
                self._store(site, _pre_input(args, kwargs))

            handle = module.register_forward_pre_hook(pre_hook, with_kwargs=True)
        else:

            def hook(_m: Any, _args: Any, output: Any) -> None:
                self._store(site, _as_tensor(output))

            handle = module.register_forward_hook(hook)
        self._handles.append(handle)

    def attach(self) -> None:
        """Register every hook (done by the context manager)."""
        for site in self.sites:
            self._register(site)

    def detach(self) -> None:
        """Remove every hook (done by the context manager)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    @torch.inference_mode()
    def run(
        self,
        input_ids: Int[Tensor, "batch seq"],
        attention_mask: Int[Tensor, "batch seq"],
    ) -> dict[str, Float[Tensor, "batch seq d_model"]]:
        """One forward pass (stopped after the deepest site); returns ``{site name: acts}``."""
        self.cache = {}
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        with contextlib.suppress(_StopForward):
            self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                use_cache=False,
            )
        out, self.cache = self.cache, {}  # the recorder keeps no reference between batches
        self._slab = None
        return out


@contextlib.contextmanager
def record_sites(
    model: Any,
    sites: Sequence[Site],
    n_layers: int,
    stop_early: bool = True,
    offload: str | torch.device | None = "cpu",
) -> Iterator[SiteRecorder]:
    """Context manager: hooks live exactly as long as the ``with`` block.

    Example:
        >>> with record_sites(model, [Site(3, 3)], n_layers=4) as rec:
        ...     acts = rec.run(input_ids, attention_mask)["blocks.3.hook_resid_post"]
    """
    recorder = SiteRecorder(model, sites, n_layers, stop_early, offload)
    recorder.attach()
    try:
        yield recorder
    finally:
        recorder.detach()
