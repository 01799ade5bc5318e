"""Deprecated module name: the focus sweep lives in :mod:`course_lib.compression.focus`."""
from .focus import cluster_lifted, code_from_labels, default_focuses, finetune, focus_sweep, lift  # noqa: F401
