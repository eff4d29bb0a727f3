"""Write safetensors files from lists of tensor chunks without concatenating or copying them.

A shard's rows arrive trace by trace; ``safetensors.torch.save_file`` would first need one
concatenated tensor per name and then copy it into Python bytes. Here each chunk's memory is
written as it lies (the format is an 8-byte header length, a JSON header, raw little-endian
data), so writing a shard costs no extra memory. Files read back with ``safetensors``.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def _shape(chunks: Sequence[Tensor]) -> list[int]:
    first = chunks[0]
    if any(c.dtype != first.dtype or c.shape[1:] != first.shape[1:] for c in chunks):
        raise ValueError("chunks of one tensor must share dtype and trailing shape")
    return [sum(int(c.shape[0]) for c in chunks), *first.shape[1:]]


def _raw(chunk: Tensor) -> memoryview:
    flat = chunk.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().data


def save_chunks(
    tensors: Mapping[str, Sequence[Tensor]], path: str | Path, metadata: Mapping[str, str]
) -> None:
    """Write ``{name: [chunk, ...]}`` as one safetensors file (chunks stacked along dim 0).

    Written to a temporary name and renamed, so a crash never leaves a partial file.
    """
    header: dict[str, object] = {"__metadata__": dict(metadata)}
    offset = 0
    for name, chunks in tensors.items():
        if not chunks:
            raise ValueError(f"tensor {name!r} has no chunks")
        shape = _shape(chunks)
        nbytes = sum(c.numel() * c.element_size() for c in chunks)
        header[name] = {
            "dtype": _DTYPES[chunks[0].dtype],
            "shape": shape,
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(blob)))
        fh.write(blob)
        for chunks in tensors.values():
            for chunk in chunks:
                if chunk.numel():
                    fh.write(_raw(chunk))
    os.replace(tmp, path)
