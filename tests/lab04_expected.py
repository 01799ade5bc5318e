"""The literal expected values of lab 4's hidden tests, recomputed with course_lib.

The lab's hidden tests hold these numbers as literals (no library call in the student's kernel);
tests/test_grading_lab04.py checks that the literals in the notebook still equal what this returns.
"""
from __future__ import annotations

import numpy as np

from course_lib import pruning as P


def expected() -> dict:
    rng = np.random.default_rng(404)
    w = np.round(rng.normal(size=(6, 5)), 3)
    mask = P.magnitude_mask(w, 0.4)
    w4 = np.round(rng.normal(size=(4, 3, 2, 2)), 3)
    m4 = P.magnitude_mask(w4, 0.75)
    rng = np.random.default_rng(4041)
    ws = [rng.normal(0, 0.1, 37), rng.normal(0, 1.0, (5, 8)), rng.normal(0, 0.5, (3, 2, 2))]
    per = [int((m == 0).sum()) for m in P.global_magnitude_masks(ws, 0.65)]
    rng = np.random.default_rng(4042)
    w79 = rng.normal(size=(7, 9)) * (rng.random((7, 9)) < 0.3)
    rng = np.random.default_rng(4043)
    wc = rng.normal(size=(10, 12)) * (rng.random((10, 12)) < 0.2)
    rng = np.random.default_rng(4044)
    wb = rng.normal(size=(5, 7)) * (rng.random((5, 7)) < 0.4)
    rng = np.random.default_rng(4045)
    cw = rng.normal(size=(6, 2, 3, 3)) - 0.4 * np.arange(6)[:, None, None, None]
    import torch

    conv = torch.nn.Conv2d(2, 6, 3, bias=False)
    conv.weight.data = torch.from_numpy(cw).float()
    return {
        "mask_zeros": np.flatnonzero(mask.ravel() == 0).tolist(),
        "mask_min_kept": round(float(np.abs(w4[m4 == 1]).min()), 3),
        "global_per_layer": per,
        "csr_7x9": P.sparse_bytes(w79, "csr", 32, 32),
        "csr_16": P.sparse_bytes(wc, "csr", 16, 16),
        "csr_row": P.sparse_bytes(wc[:1], "csr", 8, 16),
        "bitmask_4": P.sparse_bytes(wb, "bitmask", 4),
        "channels_kept": [int(i) for i in P.channel_keep(conv, 0.5)],
    }
