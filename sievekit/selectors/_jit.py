"""``njit``: numba's ``njit(cache=True)`` for the package's compiled kernels, which still compiles where numba has
nowhere to keep its cache.

numba keeps compiled kernels beside their source (``__pycache__``) or in a per-user cache directory; with neither
writable (a read-only install and a read-only home) its decorator raises "cannot cache function ...: no locator
available" when the module is imported. The kernels are then compiled without the cache, on each process's first
call, with the same bits. Imported only by the ``_jit_*`` modules, which are loaded only where numba is wanted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

F = TypeVar("F", bound=Callable[..., Any])


def njit(**options: Any) -> Callable[[F], F]:
    """``numba.njit(cache=True, **options)``, or ``numba.njit(**options)`` where numba cannot cache."""
    def wrap(fn: F) -> F:
        try:
            compiled: F = numba.njit(cache=True, **options)(fn)
        except RuntimeError:
            compiled = numba.njit(**options)(fn)
        return compiled
    return wrap
