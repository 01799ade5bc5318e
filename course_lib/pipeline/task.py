"""A zoo model with its data splits and its evaluator, each loaded once and passed down as objects."""
from __future__ import annotations

from functools import cached_property


def build_evaluator(model_name: str, codebook_format: str = "float16", *, cache_dir=None, k_max: int = 50,
                    method: str = "dp"):
    """A :class:`CachedEvaluator` of zoo model ``model_name`` on its dataset's validation split
    (a function of names only, so that worker processes can build their own)."""
    from .. import datasets, zoo
    from ..compression import CachedEvaluator

    x, y = datasets.load(zoo.dataset(model_name), "val")
    return CachedEvaluator(zoo.load(model_name), x, y, codebook_format=codebook_format, k_max=k_max,
                           cache_dir=cache_dir, method=method)


class Task:
    """Zoo model ``model_name``: ``model`` (never modified), its dataset's splits (``split(name)``,
    loaded on first use) and the search's ``evaluator`` (on the validation split).

    ``evaluator``: an existing one to reuse (its memo and clustering cache), else one is built.
    """

    def __init__(self, model_name: str, codebook_format: str = "float16", *, cache_dir=None, k_max: int = 50,
                 evaluator=None):
        from .. import zoo

        self.model_name, self.codebook_format = model_name, codebook_format
        self.cache_dir, self.k_max = cache_dir, k_max
        self.dataset = zoo.dataset(model_name)
        self.model = zoo.load(model_name)
        self._splits: dict[str, tuple] = {}
        self.evaluator = evaluator if evaluator is not None else self._build_evaluator()

    def _build_evaluator(self):
        from ..compression import CachedEvaluator

        return CachedEvaluator(self.model, *self.split("val"), codebook_format=self.codebook_format, k_max=self.k_max,
                               cache_dir=self.cache_dir)

    def split(self, name: str) -> tuple:
        """``(x, y)`` of the split ``name`` ("train", "val", "test"), loaded once."""
        from .. import datasets

        if name not in self._splits:
            self._splits[name] = datasets.load(self.dataset, name)
        return self._splits[name]

    def accuracy(self, model, split: str) -> float:
        """Accuracy (fraction) of ``model`` on the split ``split``, single-threaded (bit-identical
        run to run: :func:`course_lib.training.deterministic`)."""
        from .. import training

        with training.deterministic(threads=1):
            return training.accuracy(model, *self.split(split))

    @property
    def baseline_val_accuracy(self) -> float:
        return self.evaluator.baseline_accuracy

    @cached_property
    def baseline_test_accuracy(self) -> float:
        """Test accuracy (fraction) of the uncompressed model."""
        return self.accuracy(self.model, "test")

    def worker_evaluator(self):
        """A picklable recipe that builds this task's evaluator once in a worker process
        (clusterings then come from the disk cache)."""
        from ..search.runner import Lazy

        return Lazy(build_evaluator, self.model_name, self.codebook_format, cache_dir=self.cache_dir,
                    k_max=self.k_max)
