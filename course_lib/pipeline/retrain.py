"""Steps 3 and 4 of ``course-lib compress``: retrain the best searched vectors, then refine.

The search's evaluations do not retrain, so its best vector loses more accuracy than it has to.
Step 3 retrains a few candidates (:func:`.retrain_candidates`), highest true CR first, and keeps
the first within the allowed loss after retraining; step 4 walks on from there one index bit at
a time, one retraining per move. Every retraining is seeded and single-threaded with
deterministic kernels, so a run repeats bit for bit. Method: ``docs/method.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .select import retrain_candidates, within_loss


@dataclass
class Retrained:
    """The delivered vector ``ks`` with its retrained ``shared`` model and ``val_accuracy``
    (a fraction); ``record``: the step-3 candidate's search record; ``tried``: one summary per
    step-3 candidate; ``refine``: one summary per step-4 retraining."""
    ks: list
    shared: object
    val_accuracy: float
    record: dict
    tried: list = field(default_factory=list)
    refine: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """The summaries, without the model."""
        return {"ks": self.ks, "val_accuracy": self.val_accuracy, "record": self.record, "tried": self.tried,
                "refine": self.refine}


def retrain(task, ks: list[int], epochs: int, keep_indices: bool = False, progress: bool = True):
    """Share ``task.model`` with ``ks`` and retrain it ``epochs`` epochs on the training split
    (:func:`course_lib.compression.train_codebooks`; epoch chosen on validation, at most ``ks``
    values per layer, so the CR cannot drop). Returns ``(shared, val_accuracy)``."""
    from ..compression import share_model, train_codebooks
    from ..training import deterministic

    with deterministic(threads=1):
        # lr 5e-4 and latent weights starting at the unshared ones: the best validation loss over
        # six searched vectors among 8/16 epochs, lr 2e-4..2e-3, centroid/original start
        shared = train_codebooks(share_model(task.model, ks, codebook_format=task.codebook_format),
                                 *task.split("train"), *task.split("val"), epochs=epochs, lr=5e-4, max_shift=2,
                                 reassign=not keep_indices, original=None if keep_indices else task.model,
                                 progress=progress)
    return shared, task.accuracy(shared.model, "val")


def retrain_and_select(task, history: list[dict], config, progress: bool = True) -> Retrained:
    """Step 3: retrain the :func:`.retrain_candidates` of a search ``history``, highest CR first,
    until one is within ``config.max_loss_points`` on validation after retraining."""
    baseline, tried = task.baseline_val_accuracy, []
    for cand in retrain_candidates(history, baseline, config.max_loss_points, config.retrain_slack_points):
        shared, val_acc = retrain(task, cand["genes"], config.retrain_epochs, config.keep_indices, progress)
        tried.append({"ks": cand["genes"], "cr_true": shared.cr("true"), "val_accuracy_before": cand["accuracy"],
                      "val_accuracy": val_acc})
        if within_loss(baseline, val_acc, config.max_loss_points):
            break  # the search's own best (the last candidate) always gets here: retraining never loses val
    return Retrained(list(cand["genes"]), shared, val_acc, cand, tried)


def bit_steps(ks: list[int], admissible, layer_sizes: list[int]) -> list[tuple[int, int, int]]:
    """The one-bit-cheaper moves from ``ks``: for each layer, the largest ``k`` with a shorter
    index for which ``admissible(layer, k)`` holds. Returns ``(bits saved, layer, new k)``, most
    bits saved first."""
    from ..compression.rate import index_bits

    steps = []
    for i, (k, n) in enumerate(zip(ks, layer_sizes)):
        shorter = range(2 ** index_bits(k) // 2, 0, -1) if k > 1 else ()
        new = next((v for v in shorter if admissible(i, v)), None)
        if new is not None:
            steps.append((n * (index_bits(k) - index_bits(new)), i, new))
    return sorted(steps, reverse=True)


def worth_retraining(evaluator, max_single_loss_points: float):
    """``admissible(layer, k)`` for :func:`refine_retrained`: sharing only that layer with ``k``
    clusters loses at most ``max_single_loss_points`` on the evaluator's split (compress uses the
    space reduction's limit plus the slack that retraining is trusted to win back)."""
    def admissible(layer: int, k: int) -> bool:
        return within_loss(evaluator.baseline_accuracy, evaluator.single_layer_accuracy(layer, k),
                           max_single_loss_points)

    return admissible


def refine_retrained(task, start: Retrained, admissible, config, progress: bool = True) -> Retrained:
    """Step 4: a greedy descent that the search cannot do, because each of its moves costs a
    retraining. Take the :func:`bit_steps` move that saves the most bits, retrain it, keep it if
    the validation loss stays within ``config.max_loss_points`` (else never move that layer
    again), for at most ``config.refine_steps`` retrainings. ``admissible(layer, k)`` says which
    moves are worth a retraining at all. Returns ``start`` moved on, with ``refine`` filled in."""
    ks, shared, val_acc = list(start.ks), start.shared, start.val_accuracy
    sizes = [len(c.indices) for c in shared.codes]
    failed, steps = set(), []
    for _ in range(config.refine_steps):
        moves = [m for m in bit_steps(ks, admissible, sizes) if m[1] not in failed]
        if not moves:
            break
        _, layer, k = moves[0]
        trial = [k if i == layer else v for i, v in enumerate(ks)]
        trained, acc = retrain(task, trial, config.retrain_epochs, config.keep_indices, progress)
        ok = within_loss(task.baseline_val_accuracy, acc, config.max_loss_points)
        steps.append({"ks": trial, "cr_true": trained.cr("true"), "val_accuracy": acc, "accepted": ok})
        if ok:
            ks, shared, val_acc = trial, trained, acc
        else:
            failed.add(layer)
    return Retrained(ks, shared, val_acc, start.record, start.tried, steps)


def retrain_and_refine(task, history: list[dict], config, progress: bool = True) -> Retrained:
    """Steps 3 and 4 on a search ``history`` with ``config``'s settings (a :class:`CompressConfig`)."""
    chosen = retrain_and_select(task, history, config, progress)
    if config.refine_steps == 0:
        return chosen
    admissible = worth_retraining(task.evaluator, config.reduce_loss_points + config.retrain_slack_points)
    return refine_retrained(task, chosen, admissible, config, progress)
