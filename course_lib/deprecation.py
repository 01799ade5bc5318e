"""Old public names kept for one release: each call warns and names its replacement."""
from __future__ import annotations

import functools
import warnings


def deprecated_alias(new, old_name: str, new_name: str):
    """``new`` under its former name ``old_name``: a wrapper that warns (DeprecationWarning,
    pointing at the caller) that ``old_name`` is now ``new_name``, then calls ``new``."""
    @functools.wraps(new)
    def alias(*args, **kwargs):
        warn_renamed(old_name, new_name)
        return new(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old_name.rsplit(".", 1)[-1]
    alias.__doc__ = f"Deprecated alias of :func:`{new_name}` (renamed; this name goes in the next release)."
    return alias


def renamed_keywords(where: str, **renamed: str):
    """Decorator: each keyword ``old="new"`` of ``renamed`` still works under its old name for one
    release; passing it warns (DeprecationWarning, pointing at the caller) that
    ``WHERE(old=...)`` is now ``WHERE(new=...)``, then calls with the new keyword."""
    def decorate(func):
        @functools.wraps(func)
        def call(*args, **kwargs):
            for old, new in renamed.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{where}() got both {old}= and {new}=; "
                                        f"pass only {new}= ({old}= is deprecated)")
                    warn_renamed(f"{where}({old}=...)", f"{where}({new}=...)")
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)
        return call
    return decorate


def warn_renamed(old_name: str, new_name: str, stacklevel: int = 2) -> None:
    warnings.warn(f"{old_name} is deprecated; use {new_name}", DeprecationWarning, stacklevel=stacklevel + 1)
