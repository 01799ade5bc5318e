"""Inference that reuses activations which a new cluster-count vector cannot have changed.

The model is traced with ``torch.fx``. Every node's value depends on a set of weight layers (the
ones upstream of it); a node that feeds a layer further downstream is a *boundary* and its
output is cached under the cluster counts of the layers it depends on. An evaluation runs only
the nodes below the deepest cached boundaries: when the search changes the last layers only, the
early (and most expensive) convolutions are not recomputed. The results are exactly those of a
full forward pass (same operations on the same inputs); the cache is an LRU bounded in bytes.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np


class StagedForward:
    """``run(x_batches, ks)`` -> predicted labels, reusing cached boundary activations.

    ``model``: a traceable ``torch.nn.Module`` whose weight layers are ``layer_names``;
    ``ks[i]`` identifies the current weights of layer i (any hashable, e.g. k or 0 = original).
    ``cache_mb``: byte budget of the activation cache. Raises if ``torch.fx`` cannot trace it.
    """

    def __init__(self, model, layer_names: list[str], cache_mb: float = 256):
        import torch.fx as fx

        self.gm = fx.symbolic_trace(model)  # shares the model's parameters (by reference)
        self.nodes = list(self.gm.graph.nodes)
        index = {n: i for i, n in enumerate(layer_names)}
        self.deps: dict = {}
        for n in self.nodes:
            d = set().union(*(self.deps[a] for a in n.all_input_nodes)) if n.all_input_nodes else set()
            target = str(n.target)
            if n.op == "call_module" and target in index:
                d = d | {index[target]}
            elif n.op == "get_attr" and target.rsplit(".", 1)[0] in index:
                d = d | {index[target.rsplit(".", 1)[0]]}
            self.deps[n] = frozenset(d)
        self.boundary = {n for n in self.nodes if n.op not in ("placeholder", "output")
                         and any(self.deps[u] > self.deps[n] for u in n.users)}
        self.cache: OrderedDict = OrderedDict()
        self.budget = int(cache_mb * 2**20)
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def _key(self, batch: int, node, ks) -> tuple:
        return (batch, node.name) + tuple(ks[i] for i in sorted(self.deps[node]))

    def _remember(self, key, value) -> None:
        size = value.element_size() * value.nelement()
        if size > self.budget:
            return
        self.cache[key] = value
        self.bytes += size
        while self.bytes > self.budget:
            _, old = self.cache.popitem(last=False)
            self.bytes -= old.element_size() * old.nelement()

    def _forward(self, batch: int, x, ks):
        import torch.fx as fx

        out_node = self.nodes[-1]
        # walk back from the output; stop at boundaries whose activation is cached
        env, needed, stack = {}, set(), [out_node]
        while stack:
            n = stack.pop()
            if n in needed or n in env:
                continue
            if n in self.boundary:
                key = self._key(batch, n, ks)
                if key in self.cache:
                    self.cache.move_to_end(key)
                    env[n] = self.cache[key]
                    self.hits += 1
                    continue
                self.misses += 1
            needed.add(n)
            stack.extend(n.all_input_nodes)
        interp = fx.Interpreter(self.gm)
        interp.env = env
        interp.args_iter = iter([x])
        for n in self.nodes:
            if n in needed:
                env[n] = interp.run_node(n)
                if n in self.boundary:
                    self._remember(self._key(batch, n, ks), env[n])
        return env[out_node]

    def run(self, batches, ks) -> np.ndarray:
        """Labels (int64) for the list of input tensors ``batches`` (fixed across calls)."""
        import torch

        with torch.inference_mode():
            out = [self._forward(b, xb, ks).argmax(1) for b, xb in enumerate(batches)]
        return torch.cat(out).numpy()
