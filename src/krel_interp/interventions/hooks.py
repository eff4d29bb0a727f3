"""One write-hook mechanism for every intervention: patching, steering, ablation.

``edit_sites`` registers hooks that may replace a site's activation during the forward pass and
removes them when the ``with`` block ends. The edit function sees the site and its activation
``[batch, seq, d_model]`` and returns a replacement or ``None`` (unchanged).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from torch import Tensor

from krel_interp.capture.sites import Site, find_decoder_layers, submodule

Edit = Callable[[Site, Tensor], Tensor | None]


def _replace_output(output: Any, value: Tensor) -> Any:
    if isinstance(output, Tensor):
        return value
    if isinstance(output, tuple) and output and isinstance(output[0], Tensor):
        return (value, *output[1:])
    raise TypeError(f"cannot replace an activation inside {type(output).__name__}")


def _first(output: Any) -> Tensor:
    if isinstance(output, Tensor):  # transformers 5 decoder layers: a plain tensor
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    raise TypeError(f"cannot read an activation from {type(output).__name__}")


@contextlib.contextmanager
def edit_sites(model: Any, sites: Sequence[Site], n_layers: int, edit: Edit) -> Iterator[None]:
    """Hooks that let ``edit`` rewrite each site's activation, alive for the ``with`` block."""
    blocks = find_decoder_layers(model, n_layers)
    handles = []
    try:
        for site in sites:
            module = submodule(blocks[site.layer], site)
            if site.kind == "hook_resid_pre":

                def pre(
                    _m: Any, args: tuple[Any, ...], kwargs: dict[str, Any], site: Site = site
                ) -> Any:
                    x = args[0] if args else kwargs["hidden_states"]
                    new = edit(site, x)
                    if new is None:
                        return None
                    if args:
                        return (new, *args[1:]), kwargs
                    return args, {**kwargs, "hidden_states": new}

                handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
            else:

                def post(_m: Any, _args: Any, output: Any, site: Site = site) -> Any:
                    new = edit(site, _first(output))
                    return None if new is None else _replace_output(output, new)

                handles.append(module.register_forward_hook(post))
        yield
    finally:
        for h in handles:
            h.remove()
