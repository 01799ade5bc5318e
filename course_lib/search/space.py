"""A search space: a fixed list of genes, each with its own allowed values.

A *genes* vector is a plain list with one allowed value per gene, e.g. cluster counts
``[3, 5, 3, 2, 2]``. Algorithms work on one of two numeric views of it:

- indices: position of each value in its gene's ``values`` (genetic operators, annealing);
- coordinates: the value itself for integer genes, the index for categorical ones (PSO moves
  particles here, so a velocity of 4 means "4 clusters", as in the thesis).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Gene:
    """One decision variable. ``kind`` is ``"int"`` (sorted integers) or ``"cat"`` (any labels)."""

    name: str
    values: tuple
    kind: str = "int"

    def __post_init__(self):
        if self.kind not in ("int", "cat"):
            raise ValueError(f"gene {self.name!r}: kind must be 'int' or 'cat', got {self.kind!r}")
        if len(self.values) == 0:
            raise ValueError(f"gene {self.name!r} has no allowed values; give at least one")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"gene {self.name!r} has repeated values {list(self.values)}")
        if self.kind == "int":
            vals = list(self.values)
            if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
                raise ValueError(f"integer gene {self.name!r} needs int values, got {vals}; "
                                 "use Gene(..., kind='cat') for labels")
            if vals != sorted(vals):
                raise ValueError(f"integer gene {self.name!r}: values must be sorted ascending, got {vals}")


def integer(name: str, values: Sequence[int]) -> Gene:
    """An integer gene, e.g. ``integer("conv1", range(1, 51))`` or a reduced list of cluster counts."""
    return Gene(name, tuple(int(v) for v in values), "int")


def categorical(name: str, values: Sequence) -> Gene:
    """A categorical gene, e.g. ``categorical("act", ["relu", "tanh"])``."""
    return Gene(name, tuple(values), "cat")


class Space:
    """An ordered list of genes; converts between genes, indices and coordinates."""

    def __init__(self, genes: Sequence[Gene]):
        genes = list(genes)
        if not genes:
            raise ValueError("a Space needs at least one gene")
        if not all(isinstance(g, Gene) for g in genes):
            raise TypeError("Space(genes): every item must be a Gene (use search.integer / search.categorical)")
        names = [g.name for g in genes]
        if len(set(names)) != len(names):
            raise ValueError(f"gene names must be unique, got {names}")
        self.genes = genes
        self.sizes = np.array([len(g.values) for g in genes])
        self._lookup = [{v: i for i, v in enumerate(g.values)} for g in genes]

    @classmethod
    def integers(cls, allowed: Sequence[Sequence[int]], names: Sequence[str] | None = None) -> "Space":
        """One integer gene per list of allowed values (what ``CachedEvaluator.reduce_space`` returns)."""
        names = list(names) if names is not None else [f"x{i}" for i in range(len(allowed))]
        if len(names) != len(allowed):
            raise ValueError(f"{len(names)} names for {len(allowed)} genes")
        return cls([integer(n, v) for n, v in zip(names, allowed)])

    def __len__(self) -> int:
        return len(self.genes)

    def __repr__(self) -> str:
        return f"Space({len(self)} genes, {self.cardinality():.3g} points)"

    @property
    def names(self) -> list[str]:
        return [g.name for g in self.genes]

    def cardinality(self) -> float:
        """Number of distinct points (a float: it overflows int64 quickly)."""
        return float(np.prod(self.sizes.astype(float)))

    # --- indices -------------------------------------------------------------------------
    def sample_indices(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` uniform random points as an int array ``(n, len(self))``."""
        return rng.integers(0, self.sizes, size=(n, len(self)))

    def to_indices(self, genes: Sequence) -> np.ndarray:
        self.validate(genes)
        return np.array([lk[v] for lk, v in zip(self._lookup, genes)])

    def from_indices(self, idx: Sequence[int]) -> list:
        return [_plain(g.values[int(i)]) for g, i in zip(self.genes, idx)]

    # --- coordinates (PSO) ---------------------------------------------------------------
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lowest and highest coordinate of each gene, float arrays ``(len(self),)``."""
        lo = [g.values[0] if g.kind == "int" else 0 for g in self.genes]
        hi = [g.values[-1] if g.kind == "int" else len(g.values) - 1 for g in self.genes]
        return np.array(lo, float), np.array(hi, float)

    def to_coords(self, genes: Sequence) -> np.ndarray:
        idx = self.to_indices(genes)
        return np.array([float(g.values[i]) if g.kind == "int" else float(i)
                         for g, i in zip(self.genes, idx)])

    def nearest(self, coords: Sequence[float]) -> list:
        """The allowed point nearest to continuous ``coords`` (ties go to the smaller value)."""
        out = []
        for g, c in zip(self.genes, coords):
            axis = np.asarray(g.values, float) if g.kind == "int" else np.arange(len(g.values), dtype=float)
            out.append(_plain(g.values[int(np.argmin(np.abs(axis - c)))]))
        return out

    # --- checks --------------------------------------------------------------------------
    def validate(self, genes: Sequence) -> None:
        if len(genes) != len(self):
            raise ValueError(f"expected {len(self)} genes ({', '.join(self.names)}), got {len(genes)}: {list(genes)}")
        for g, lk, v in zip(self.genes, self._lookup, genes):
            if v not in lk:
                raise ValueError(f"gene {g.name!r}: {v!r} is not an allowed value; allowed: {list(g.values)}")


def _plain(v):
    """numpy scalars -> Python scalars, so genes stay JSON-friendly."""
    return v.item() if isinstance(v, np.generic) else v
