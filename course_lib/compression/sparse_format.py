"""The Deep Compression file (``.edc``): sparse relative indices + Huffman-coded codebook indices.

Each weight layer keeps only its non-zero weights. Their positions are stored as *relative
indices* (Han et al., 2016; EIE): the number of zeros skipped since the previous entry, in a
``b``-bit alphabet; a longer run of zeros is bridged by a *filler* entry (gap ``2**b - 1``,
value symbol ``k`` = "zero"). Their values are indices into the layer's codebook of ``k``
non-zero values. Both symbol streams are Huffman coded (:mod:`.huffman`); the tables store only
code lengths. The rest (biases, BatchNorm) is stored densely. Byte-by-byte layout:
``docs/deep_compression.md``. Files are written to a temporary name and renamed, so a failed
write leaves no half-written file.
"""
from __future__ import annotations

import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..deprecation import renamed_keywords
from . import huffman
from .codebook import CODEBOOKS, codebook_dtype, round_to
from .layers import adapter
from .share import LayerCode, Shared

MAGIC = b"EDC1"
VERSION = 1
FORMATS = list(CODEBOOKS)           # u8 code -> value format (same order as CODEBOOKS)
INT64 = len(FORMATS)                # u8 code of an int64 rest tensor (e.g. BatchNorm's counter)
MAX_BITS = 8                        # relative indices use at most 8 bits (an alphabet of 256 gaps)


def relative_indices(nonzero, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Entries for the flat boolean ``nonzero`` (n,): ``(gaps, positions)``, int64.

    ``gaps[i]`` = zeros skipped before entry ``i`` (< ``2**bits``); ``positions`` = where the
    entries sit, fillers included (a filler sits on a zero). ``positions == cumsum(gaps + 1) - 1``.
    """
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"relative-index bits must be in 1..{MAX_BITS}, got {bits}")
    span = 1 << bits
    pos = np.flatnonzero(np.asarray(nonzero).ravel())
    skips = np.diff(np.concatenate([[-1], pos])) - 1
    fillers = skips // span                      # filler entries needed before each non-zero
    gaps = np.full(int(fillers.sum()) + pos.size, span - 1, dtype=np.int64)
    last = np.cumsum(fillers + 1) - 1            # where each real entry lands in the stream
    gaps[last] = skips - fillers * span
    return gaps, np.cumsum(gaps + 1) - 1


def layer_streams(w, bits: int) -> dict:
    """The two symbol streams of a flat weight array ``w``: codebook (sorted non-zero values),
    ``index`` symbols (``k`` = filler) and ``gap`` symbols for ``bits``-bit relative indices."""
    w = np.asarray(w, dtype=np.float32).ravel()
    gaps, positions = relative_indices(w != 0, bits)
    book = np.unique(w[w != 0])
    vals = w[positions]
    index = np.where(vals != 0, np.searchsorted(book, vals), book.size)
    return {"codebook": book, "index": index.astype(np.int64), "gap": gaps}


def _table(symbols, alphabet: int) -> np.ndarray:
    if not len(symbols):
        return np.zeros(alphabet, np.int64)
    return huffman.limited_code_lengths(np.bincount(symbols, minlength=alphabet), 15)


def _nibbles(n: int) -> int:
    return (n + 1) // 2


def layer_bytes(w, bits: int, value_bytes: int) -> int:
    """Bytes of one layer in the file (see :func:`_encode_layer`) without encoding it."""
    s = layer_streams(w, bits)
    k = s["codebook"].size
    li, lg = _table(s["index"], k + 1), _table(s["gap"], 1 << bits)
    return (1 + 2 * np.ndim(w) + 2 + k * value_bytes + 4 + _nibbles(k + 1) + _nibbles(1 << bits) + 8
            + -(-huffman.encoded_bits(np.bincount(s["index"], minlength=k + 1), li) // 8)
            + -(-huffman.encoded_bits(np.bincount(s["gap"], minlength=1 << bits), lg) // 8))


def best_bits(w, value_bytes: int) -> int:
    """The relative-index width (1..8 bits) giving the smallest layer in the file."""
    return min(range(1, MAX_BITS + 1), key=lambda b: (layer_bytes(w, b, value_bytes), b))


def _check_layer(name: str, w, fmt: str) -> None:
    book = np.unique(np.asarray(w, dtype=np.float32)[np.asarray(w) != 0])
    if book.size > 255:
        raise ValueError(f"layer {name!r} has {book.size} distinct non-zero values; the format stores at most 255: "
                         "share the weights first (k-means, k <= 255)")
    if not np.array_equal(round_to(book, fmt), book):
        raise ValueError(f"layer {name!r}: values not exactly representable in {fmt}; share them with "
                         f"codebook_format={fmt!r} (or write with a wider codebook format)")


def _encode_layer(name: str, w, bits: int, fmt: str) -> bytes:
    _check_layer(name, w, fmt)
    s = layer_streams(w, bits)
    k = s["codebook"].size
    li, lg = _table(s["index"], k + 1), _table(s["gap"], 1 << bits)
    istream = huffman.encode(s["index"], li) if s["index"].size else b""
    gstream = huffman.encode(s["gap"], lg) if s["gap"].size else b""
    return b"".join([
        struct.pack("<B", np.ndim(w)), struct.pack(f"<{np.ndim(w)}H", *np.shape(w)),
        struct.pack("<BB", bits, k), s["codebook"].astype(codebook_dtype(fmt)).tobytes(),
        struct.pack("<I", s["index"].size), huffman.pack_lengths(li), huffman.pack_lengths(lg),
        struct.pack("<I", len(istream)), istream, struct.pack("<I", len(gstream)), gstream])


def _encode_rest(name: str, arr, fmt: str) -> bytes:
    arr = np.asarray(arr)
    if arr.dtype.kind == "f":
        code, data = FORMATS.index(fmt), arr.astype(codebook_dtype(fmt)).tobytes()
    elif arr.dtype.kind in "iu":
        code, data = INT64, arr.astype("<i8").tobytes()
    else:
        raise ValueError(f"cannot store tensor {name!r} of dtype {arr.dtype}")
    key = name.encode()
    return (struct.pack("<B", len(key)) + key + struct.pack("<BB", code, arr.ndim)
            + struct.pack(f"<{arr.ndim}H", *arr.shape) + data)


@renamed_keywords("course_lib.compression.sparse_format.write_deep", codebook="codebook_format")
def write_deep(model, path, model_id: str, *, codebook_format: str = "float16", rest: str = "float16",
               bits=None) -> dict:
    """Write a pruned and shared PyTorch ``model`` to ``path`` (atomically).

    Zeros of each weight layer are dropped; its non-zero values (at most 255 distinct, exactly
    representable in ``codebook_format``) form its codebook. ``bits``: relative-index width per layer
    (list), one int, or ``None`` = the smallest file per layer. ``rest``: the format of the
    biases and other tensors. Returns ``{"file_bytes", "layer_bytes": [...], "rest_bytes",
    "header_bytes", "bits": [...]}``.
    """
    if codebook_format not in CODEBOOKS or rest not in CODEBOOKS:
        raise ValueError(f"codebook_format and rest must be formats among {FORMATS}, "
                         f"got {codebook_format!r}, {rest!r}")
    name = (model_id or "").encode("ascii")
    if not 0 < len(name) < 256:
        raise ValueError(f"model_id must be a zoo name of 1-255 ASCII characters, got {model_id!r}")
    ad = adapter(model)
    weights = [ad.get(i) for i in range(len(ad.layers))]
    vb = codebook_dtype(codebook_format).itemsize
    for layer, w in zip(ad.layers, weights):
        _check_layer(layer.name, w, codebook_format)
    if bits is None:
        bits = [best_bits(w, vb) for w in weights]
    elif isinstance(bits, int):
        bits = [bits] * len(weights)
    header = MAGIC + struct.pack("<BB", VERSION, len(name)) + name + struct.pack(
        "<BBB", FORMATS.index(codebook_format), FORMATS.index(rest), len(weights))
    layers = [_encode_layer(l.name, w, b, codebook_format) for l, w, b in zip(ad.layers, weights, bits)]
    rests = [_encode_rest(n, a, rest) for n, a in ad.rest().items()]
    body = header + b"".join(layers) + struct.pack("<B", len(rests)) + b"".join(rests)
    blob = body + struct.pack("<I", zlib.crc32(body))
    _atomic_write(Path(path), blob)
    return {"file_bytes": len(blob), "layer_bytes": [len(b) for b in layers],
            "rest_bytes": 1 + sum(len(r) for r in rests), "header_bytes": len(header) + 4, "bits": list(bits)}


def _atomic_write(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@dataclass
class _Reader:
    data: bytes
    path: str
    pos: int = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"{self.path} is truncated: {what} needs {n} bytes at offset {self.pos}, "
                             f"the file has {len(self.data) + 4} bytes")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def is_deep_file(path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == MAGIC


def _check_crc(raw: bytes, path) -> bytes:
    if len(raw) < 4 or raw[:4] != MAGIC:
        raise ValueError(f"{path} is not a Deep Compression file (magic {raw[:4]!r}, expected {MAGIC!r})")
    if len(raw) < 13:
        raise ValueError(f"{path} is truncated: {len(raw)} bytes")
    body, (crc,) = raw[:-4], struct.unpack("<I", raw[-4:])
    if zlib.crc32(body) != crc:
        raise ValueError(f"{path} is corrupt or truncated: CRC-32 {zlib.crc32(body):08x} != stored {crc:08x}; "
                         "write the file again")
    return body


def _decode_layer(r: _Reader, fmt: str, i: int) -> tuple[tuple, np.ndarray, np.ndarray]:
    (ndim,) = r.unpack("B", f"layer {i} rank")
    shape = r.unpack(f"{ndim}H", f"layer {i} shape")
    bits, k = r.unpack("BB", f"layer {i} bits and k")
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"{r.path}: layer {i} has {bits}-bit relative indices (corrupt file)")
    dt = codebook_dtype(fmt)
    book = np.frombuffer(r.take(k * dt.itemsize, f"layer {i} codebook"), dtype=dt).astype(np.float32)
    (n,) = r.unpack("I", f"layer {i} entry count")
    li = huffman.unpack_lengths(r.take(_nibbles(k + 1), f"layer {i} index table"), k + 1)
    lg = huffman.unpack_lengths(r.take(_nibbles(1 << bits), f"layer {i} gap table"), 1 << bits)
    (ni,) = r.unpack("I", f"layer {i} index stream length")
    istream = r.take(ni, f"layer {i} index stream")
    (ng,) = r.unpack("I", f"layer {i} gap stream length")
    gstream = r.take(ng, f"layer {i} gap stream")
    size = int(np.prod(shape))
    w = np.zeros(size, dtype=np.float32)
    index = np.zeros(size, dtype=np.int64)  # 0 = the zero entry of the loaded code
    if n:
        idx, gaps = huffman.decode(istream, li, n), huffman.decode(gstream, lg, n)
        pos = np.cumsum(gaps + 1) - 1
        if pos[-1] >= size:
            raise ValueError(f"{r.path}: layer {i} entries run past its {size} weights (corrupt file)")
        real = idx < k
        w[pos[real]] = book[idx[real]]
        index[pos[real]] = idx[real] + 1
    return tuple(shape), w.reshape(shape), (np.concatenate([[0.0], book]).astype(np.float32), index)


def _decode_rest(r: _Reader, fmt: str) -> tuple[str, np.ndarray]:
    (n,) = r.unpack("B", "rest name length")
    name = r.take(n, "rest name").decode("utf-8", "replace")
    code, ndim = r.unpack("BB", f"rest {name!r} type")
    if code > INT64:
        raise ValueError(f"{r.path}: tensor {name!r} has unknown type code {code} (corrupt file)")
    shape = r.unpack(f"{ndim}H", f"rest {name!r} shape")
    dt = np.dtype("<i8") if code == INT64 else codebook_dtype(FORMATS[code])
    count = int(np.prod(shape))
    arr = np.frombuffer(r.take(count * dt.itemsize, f"rest {name!r} values"), dtype=dt).reshape(shape)
    return name, (arr.astype(np.float32) if code != INT64 else arr.astype(np.int64))


def read_deep(path, model=None) -> Shared:
    """Rebuild the model stored in a ``.edc`` file; returns a :class:`Shared` whose codes have
    the value 0 at index 0 (the pruned weights) and the layer's codebook after it."""
    raw = Path(path).read_bytes()
    r = _Reader(_check_crc(raw, path), str(path), 4)
    (version, n) = r.unpack("BB", "version")
    if version != VERSION:
        raise ValueError(f"{path}: unsupported Deep Compression format version {version} (this library reads {VERSION})")
    model_id = r.take(n, "model name").decode("ascii", "replace")
    fc, fr, n_layers = r.unpack("BBB", "formats")
    if fc >= len(FORMATS) or fr >= len(FORMATS):
        raise ValueError(f"{path}: unknown value format codes {fc}, {fr} (corrupt file)")
    if model is None:
        from .. import zoo

        model = zoo.build(model_id)
    ad = adapter(model)
    if n_layers != len(ad.layers):
        raise ValueError(f"{path} stores {n_layers} weight layers, the model {model_id!r} has {len(ad.layers)}")
    codes = []
    for i, layer in enumerate(ad.layers):
        shape, w, (book, index) = _decode_layer(r, FORMATS[fc], i)
        if shape != layer.shape:
            raise ValueError(f"{path}: layer {layer.name!r} has shape {list(shape)} in the file, "
                             f"{list(layer.shape)} in the model")
        ad.set(i, w)
        codes.append(LayerCode(layer.name, shape, book, index, i))
    (n_rest,) = r.unpack("B", "rest count")
    ad.set_rest(dict(_decode_rest(r, FORMATS[fr]) for _ in range(n_rest)))
    if r.pos != len(r.data):
        raise ValueError(f"{path}: {len(r.data) - r.pos} unexpected bytes after the last tensor (corrupt file)")
    ad.model.eval()
    ks = [c.k for c in codes]
    return Shared(ad.model, codes, FORMATS[fc], ks, False, [c.name for c in codes])
