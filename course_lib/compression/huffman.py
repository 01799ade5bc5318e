"""Canonical Huffman coding of small integer alphabets (Huffman, 1952).

Deep Compression's last stage: codebook indices and relative positions are far from uniform,
so a prefix code with short words for frequent symbols beats fixed-width fields. Only the code
*lengths* are stored; the canonical code is rebuilt from them (symbols sorted by (length,
symbol) get consecutive codes), as DEFLATE does. Bits are written most significant first.
"""
from __future__ import annotations

import heapq

import numpy as np


def code_lengths(counts) -> np.ndarray:
    """Optimal code length (bits) per symbol for ``counts`` (n,) >= 0; 0 for unused symbols.

    A single used symbol gets length 1 (a code needs at least one bit per symbol).
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1 or counts.size == 0 or (counts < 0).any():
        raise ValueError(f"counts must be a non-empty 1-D array of non-negative integers, got {counts!r}")
    lengths = np.zeros(counts.size, dtype=np.int64)
    used = np.flatnonzero(counts)
    if used.size == 1:
        lengths[used] = 1
    if used.size <= 1:
        return lengths
    # heap of (weight, tiebreak, symbols in the subtree): each merge adds one bit to its members
    heap = [(int(counts[s]), int(s), [int(s)]) for s in used]
    heapq.heapify(heap)
    while len(heap) > 1:
        w1, t1, a = heapq.heappop(heap)
        w2, t2, b = heapq.heappop(heap)
        lengths[a + b] += 1
        heapq.heappush(heap, (w1 + w2, min(t1, t2), a + b))
    return lengths


def limited_code_lengths(counts, max_length: int = 15) -> np.ndarray:
    """:func:`code_lengths` with no code longer than ``max_length`` bits: while a code is too
    long, halve the counts (rounding up, so used symbols stay used) and rebuild, flattening the
    tree a little at a small cost in bits (the heuristic of several DEFLATE encoders)."""
    counts = np.asarray(counts, dtype=np.int64)
    if (counts > 0).sum() > 1 << max_length:
        raise ValueError(f"{(counts > 0).sum()} symbols do not fit in codes of <= {max_length} bits")
    lengths = code_lengths(counts)
    while lengths.max() > max_length:
        counts = np.where(counts > 0, (counts + 1) // 2, 0)
        lengths = code_lengths(counts)
    return lengths


def pack_lengths(lengths) -> bytes:
    """Code lengths 0..15 as 4-bit nibbles, two per byte (low nibble first)."""
    lengths = np.asarray(lengths, dtype=np.uint8)
    if lengths.size and lengths.max() > 15:
        raise ValueError(f"code length {lengths.max()} does not fit in 4 bits; use limited_code_lengths")
    padded = np.concatenate([lengths, np.zeros(lengths.size % 2, np.uint8)])
    return (padded[0::2] | (padded[1::2] << 4)).astype(np.uint8).tobytes()


def unpack_lengths(data: bytes, n: int) -> np.ndarray:
    """Inverse of :func:`pack_lengths`: ``n`` code lengths, int64."""
    b = np.frombuffer(data, dtype=np.uint8)
    return np.stack([b & 15, b >> 4], axis=1).ravel()[:n].astype(np.int64)


def check_lengths(lengths) -> np.ndarray:
    """Valid code lengths: non-negative, some used, Kraft sum <= 1 (else ValueError)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.ndim != 1 or (lengths < 0).any() or not (lengths > 0).any():
        raise ValueError(f"Huffman code lengths must be non-negative with at least one used symbol, got {lengths}")
    if sum(2.0 ** -int(n) for n in lengths[lengths > 0]) > 1.0 + 1e-12:
        raise ValueError("Huffman code lengths violate the Kraft inequality (corrupt table)")
    return lengths


def canonical_codes(lengths) -> dict[int, tuple[int, int]]:
    """``{symbol: (code, length)}`` of the canonical code with these lengths."""
    lengths = check_lengths(lengths)
    codes, code, prev = {}, 0, 0
    for s in sorted(np.flatnonzero(lengths), key=lambda s: (lengths[s], s)):
        code <<= int(lengths[s]) - prev
        prev = int(lengths[s])
        codes[int(s)] = (code, prev)
        code += 1
    return codes


def encode(symbols, lengths) -> bytes:
    """The bit string of ``symbols`` under the canonical code, zero-padded to whole bytes."""
    codes = canonical_codes(lengths)
    bits = []
    for s in np.asarray(symbols, dtype=np.int64).ravel().tolist():
        if s not in codes:
            raise ValueError(f"symbol {s} has no code (its length is 0)")
        code, n = codes[s]
        bits.extend((code >> (n - 1 - i)) & 1 for i in range(n))
    return np.packbits(np.array(bits, dtype=np.uint8)).tobytes()


def encoded_bits(counts, lengths) -> int:
    """Bits of a stream with these symbol counts: ``sum(counts * lengths)``."""
    return int(np.dot(np.asarray(counts, np.int64), np.asarray(lengths, np.int64)))


def decode(data: bytes, lengths, n: int) -> np.ndarray:
    """The first ``n`` symbols (int64) of the bit string ``data``; ValueError if it runs out or
    holds a bit pattern that is no code word."""
    table = {(length, code): s for s, (code, length) in canonical_codes(lengths).items()}
    max_len = max(length for length, _ in table)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8)).tolist()
    out, pos = np.empty(n, dtype=np.int64), 0
    for i in range(n):
        code, length = 0, 0
        while True:
            if pos >= len(bits):
                raise ValueError(f"Huffman stream ends after {i} of {n} symbols (truncated or corrupt)")
            code = (code << 1) | bits[pos]
            pos += 1
            length += 1
            s = table.get((length, code))
            if s is not None:
                out[i] = s
                break
            if length > max_len:
                raise ValueError(f"invalid Huffman code word at bit {pos} (corrupt stream)")
    return out
