"""The compressed file: bit-packed indices + codebooks + the uncompressed rest (``.ews``).

Layout (all integers little-endian; byte-by-byte description in ``docs/compression.md``)::

    0   4 bytes   magic b"EWS1"
    4   u32       H, length of the JSON header in bytes
    8   H bytes   UTF-8 JSON header (model id, codebook format, groups, layers, rest, offsets)
    8+H ...       data: per group its codebook (k entries in the codebook format), per layer its
                  bit-packed indices (ceil(size * bits / 8) bytes), then the rest tensors

Offsets in the header are relative to the start of the data section. The *weight payload* is
codebooks + packed indices: the bits the compression rate formula counts, rounded up to bytes.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from ..deprecation import renamed_keywords
from .codebook import codebook_dtype
from .layers import adapter
from .rate import index_bits
from .share import LayerCode, Shared, share_model, share_whole

MAGIC = b"EWS1"
VERSION = 1


def pack_bits(indices, bits: int) -> bytes:
    """``indices`` (n,) each in [0, 2**bits) packed LSB-first into ceil(n * bits / 8) bytes."""
    idx = np.asarray(indices, dtype=np.uint64).ravel()
    if bits == 0:
        return b""
    if idx.size and int(idx.max()) >= 1 << bits:
        raise ValueError(f"index {int(idx.max())} does not fit in {bits} bits")
    planes = (idx[:, None] >> np.arange(bits, dtype=np.uint64)) & np.uint64(1)
    return np.packbits(planes.astype(np.uint8).ravel(), bitorder="little").tobytes()


def unpack_bits(data: bytes, n: int, bits: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: int64 (n,)."""
    if bits == 0:
        return np.zeros(n, dtype=np.int64)
    flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=n * bits, bitorder="little")
    return flat.reshape(n, bits).astype(np.int64) @ (np.int64(1) << np.arange(bits, dtype=np.int64))


def write_shared(shared: Shared, path, model_id: str | None = None) -> dict:
    """Write an already shared model (:class:`Shared`) to ``path``; returns the size summary."""
    ad = adapter(shared.model)
    dtype = codebook_dtype(shared.codebook)
    blobs, offset = [], 0

    def add(data: bytes) -> dict:
        nonlocal offset
        blobs.append(data)
        entry = {"offset": offset, "bytes": len(data)}
        offset += len(data)
        return entry

    groups, seen = [], {}
    for c in shared.codes:
        if c.group not in seen:
            seen[c.group] = len(groups)
            groups.append({"k": c.k, "codebook": add(c.codebook.astype(dtype).tobytes())})
    layers = []
    for c in shared.codes:
        g = seen[c.group]
        bits = index_bits(groups[g]["k"])
        layers.append({"name": c.name, "shape": list(c.shape), "group": g, "index_bits": bits,
                       "indices": add(pack_bits(c.indices, bits))})
    payload = offset
    rest = []
    for name, arr in ad.rest().items():
        arr = np.ascontiguousarray(arr)
        if arr.dtype.kind == "f":
            arr = arr.astype("<f4")  # the uncompressed rest is stored as float32
        rest.append({"name": name, "shape": list(arr.shape), "dtype": arr.dtype.str,
                     **add(arr.tobytes())})
    header = {"format": "edgeml-weight-sharing", "version": VERSION, "framework": ad.framework,
              "model": model_id, "codebook": shared.codebook, "whole_model": shared.whole,
              "ks_requested": shared.ks, "groups": groups, "layers": layers, "rest": rest,
              "payload_bytes": payload}
    head = json.dumps(header, separators=(",", ":")).encode()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<I", len(head)) + head)
        for b in blobs:
            f.write(b)
    return {"file_bytes": path.stat().st_size, "payload_bytes": payload,
            "rest_bytes": offset - payload, "header_bytes": 8 + len(head)}


@renamed_keywords("course_lib.compression.save_compressed", codebook="codebook_format")
def save_compressed(model, ks, path, codebook_format: str = "float32", *, method: str = "dp",
                    model_id: str | None = None, seed: int = 0) -> dict:
    """Share ``model`` (per layer with ``ks`` a list, or whole model with ``ks`` an int) and write it.

    ``model_id``: a zoo name stored in the header so :func:`load_compressed` can rebuild the
    architecture without a skeleton. Returns sizes (``file_bytes``, ``payload_bytes``, ...) and
    the :class:`Shared` record under ``"shared"``. The model itself is not modified.
    """
    if isinstance(ks, (int, np.integer)) and not isinstance(ks, bool):
        shared = share_whole(model, int(ks), codebook_format=codebook_format, method=method, seed=seed)
    else:
        shared = share_model(model, ks, codebook_format=codebook_format, method=method, seed=seed)
    info = write_shared(shared, path, model_id)
    info["shared"] = shared
    return info


def read_header(path) -> tuple[dict, int]:
    """The JSON header of a ``.ews`` file and the byte offset of its data section."""
    with open(path, "rb") as f:
        start = f.read(8)
        if len(start) < 8 or start[:4] != MAGIC:
            raise ValueError(f"{path} is not a weight-sharing file (magic {start[:4]!r}, expected {MAGIC!r})")
        (n,) = struct.unpack("<I", start[4:])
        header = json.loads(f.read(n))
    if header.get("version") != VERSION:
        raise ValueError(f"{path}: unsupported format version {header.get('version')}")
    return header, 8 + n


def load_compressed(path, model=None) -> Shared:
    """Rebuild the shared model stored in ``path``.

    ``model``: a skeleton with the same architecture (any weights; it is filled in place). Not
    needed when the file names a zoo model. Returns a :class:`Shared` whose ``model`` predicts
    exactly like the in-memory shared model that was saved. Deep Compression files (``.edc``,
    pruned + shared + Huffman coded) are recognised by their magic bytes and read the same way.
    """
    from .sparse_format import is_deep_file, read_deep

    if is_deep_file(path):
        return read_deep(path, model)
    header, base = read_header(path)
    data = Path(path).read_bytes()[base:]
    if model is None:
        if not header.get("model"):
            raise ValueError(f"{path} names no zoo model; pass model=<an instance of the architecture>")
        from .. import zoo

        model = zoo.build(header["model"])
    ad = adapter(model)
    dtype = codebook_dtype(header["codebook"])
    names = [l.name for l in ad.layers]
    stored = [l["name"] for l in header["layers"]]
    if names != stored:
        raise ValueError(f"the model's weight layers {names} do not match the file's {stored}")

    def blob(entry):
        return data[entry["offset"]:entry["offset"] + entry["bytes"]]

    books = [np.frombuffer(blob(g["codebook"]), dtype=dtype).astype(np.float32) for g in header["groups"]]
    codes = []
    for i, l in enumerate(header["layers"]):
        if tuple(l["shape"]) != ad.layers[i].shape:
            raise ValueError(f"layer {l['name']!r}: file shape {l['shape']} != model shape {list(ad.layers[i].shape)}")
        n = int(np.prod(l["shape"]))
        code = LayerCode(l["name"], tuple(l["shape"]), books[l["group"]],
                         unpack_bits(blob(l["indices"]), n, l["index_bits"]), l["group"])
        ad.set(i, code.weights())
        codes.append(code)
    ad.set_rest({r["name"]: np.frombuffer(blob(r), dtype=np.dtype(r["dtype"])).reshape(r["shape"])
                 for r in header["rest"]})
    if hasattr(ad.model, "eval"):
        ad.model.eval()
    return Shared(ad.model, codes, header["codebook"], header["ks_requested"], header["whole_model"], names)
