"""What every search algorithm shares: a seeded RNG, ask/tell, and a JSON-able state.

An algorithm never evaluates anything itself (pymoo style): ``ask()`` proposes genes,
someone evaluates them, ``tell(genes, fitness)`` reports fitness (maximised). That is what
lets one runner give any algorithm checkpoints, a budget and parallel evaluation.
"""
from __future__ import annotations

import numpy as np

from ..space import Space


class Algorithm:
    name = "base"
    #: attributes saved by ``state_dict`` (numpy arrays are stored as lists and restored as arrays)
    state_attrs: tuple[str, ...] = ()

    def __init__(self, space: Space, seed: int | None = None):
        if not isinstance(space, Space):
            raise TypeError(f"{type(self).__name__} needs a search.Space, got {type(space).__name__}")
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def ask(self) -> list[list]:
        """The next batch of genes to evaluate."""
        raise NotImplementedError

    def tell(self, genes: list[list], fitness: list[float]) -> None:
        """Fitness (higher is better) of the batch just asked, in the same order."""
        raise NotImplementedError

    def rescore(self, fitness_of) -> None:
        """Recompute stored fitness with ``fitness_of(genes) -> float``.

        Called when the fitness function itself moved (a dynamic target), so that remembered
        bests are compared with new points on the same scale. Stateless algorithms ignore it.
        """

    def best(self) -> tuple[list | None, float]:
        """The best genes told so far and their fitness (as last scored)."""
        return getattr(self, "best_genes", None), float(getattr(self, "best_fitness", -np.inf))

    # --- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = {"algorithm": self.name, "rng": self.rng.bit_generator.state}
        for key in self.state_attrs:
            state[key] = _encode(getattr(self, key))
        return state

    def load_state_dict(self, state: dict) -> None:
        if state.get("algorithm") != self.name:
            raise ValueError(f"checkpoint is for algorithm {state.get('algorithm')!r}, not {self.name!r}")
        self.rng.bit_generator.state = state["rng"]
        for key in self.state_attrs:
            setattr(self, key, _decode(state[key]))

    def _check_told(self, genes, fitness, expected) -> np.ndarray:
        if len(genes) != len(fitness):
            raise ValueError(f"tell() got {len(genes)} genes but {len(fitness)} fitness values")
        if expected is not None and len(genes) != expected:
            raise ValueError(f"{self.name}: tell() expects the {expected} points of the last ask(), got {len(genes)}")
        fit = np.asarray(fitness, float)
        if np.isnan(fit).any():
            raise ValueError(f"{self.name}: fitness contains NaN: {fitness}")
        return fit


def _encode(v):
    if isinstance(v, np.ndarray):
        return {"__ndarray__": v.tolist(), "dtype": str(v.dtype)}
    if isinstance(v, float) and not np.isfinite(v):
        return {"__float__": repr(v)}
    if isinstance(v, np.generic):
        return v.item()
    return v


def _decode(v):
    if isinstance(v, dict) and "__ndarray__" in v:
        return np.array(v["__ndarray__"], dtype=v["dtype"])
    if isinstance(v, dict) and "__float__" in v:
        return float(v["__float__"])
    return v
