"""Pauses of Python's cyclic garbage collector around allocation bursts.

Importing the kubernetes client, the Kubeflow SDK or litellm, and decoding thousands of
TrainJobs, create hundreds of thousands of objects in no reference cycle. Each burst
triggers collections that walk every live object again; pausing the collector during the
burst removes that cost (measured with the scripts in bench/). Reference counting still
frees everything that is dropped.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block, then restore its previous state."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def large_import(module: str) -> Iterator[None]:
    """Pause the collector while `module` is first imported, then freeze what exists.

    After `gc.freeze()` later collections skip the imported objects. Frozen objects are
    never freed, which costs nothing for modules that stay loaded anyway. Once `module`
    is loaded this does nothing, so objects created later are not frozen with it.
    """
    if module in sys.modules:
        yield
        return
    with cyclic_gc_paused():
        yield
    gc.freeze()
