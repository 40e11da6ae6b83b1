"""The cyclic garbage collector paused for a block: :func:`paused_gc`.

A cohort's stages make millions of small containers (facts, Results, rows) and hold
thousands of Results at once; every collection those allocations trigger walks
everything alive, and on a 3,000-person batch such collections were a third of its
CPU. The stages make no reference cycles (tests/test_engine.py checks that an
evaluation leaves none), so what they drop is freed by reference counting and the
collector has nothing to find meanwhile. One context manager, used by the engine,
the batch's parts and the planner, rather than each pausing it its own way.
"""

from __future__ import annotations

import contextlib
import gc
import sysconfig
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["call_without_gc", "paused_gc"]


@contextlib.contextmanager
def paused_gc(*, keep: bool = False) -> Iterator[None]:
    """The cyclic garbage collector paused for the block, and restored after it.

    Restored as it was: a block inside another paused block leaves it paused, and
    a caller that had it off keeps it off.

    Parameters
    ----------
    keep : bool, optional
        What the block made is long-lived (a cohort plan's working data, the
        Resolutions its caller takes away): as the pause ends, the collection
        its allocations are due would walk all of it, to find no garbage (the
        blocks make no cycles) and move it to an older generation. With
        ``keep`` it is moved to the oldest generation at once, without the
        walk (:func:`_settle`); the collector still walks it, and frees what
        is garbage, in its next full collection.

    Yields
    ------
    None
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if keep:
                _settle()
            gc.enable()


def _settle() -> None:
    """Every object the collector tracks moved to the oldest generation, and the
    youngest's allocation count set back to zero, without a collection.

    ``gc.freeze`` then ``gc.unfreeze``: each splices the generations' lists, so
    this costs the same whatever the heap holds. Skipped (the due collection then
    runs as usual) when objects are frozen already, as a worker freezes its KB:
    ``unfreeze`` would hand those back to the collector; and on a free-threaded
    build, whose ``freeze`` visits every object.
    """
    if sysconfig.get_config_var("Py_GIL_DISABLED") or gc.get_freeze_count():
        return
    gc.freeze()
    gc.unfreeze()


def call_without_gc(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` with the cyclic garbage collector paused for the whole call.

    A pause that ends inside the call ends while the call's objects are still alive:
    the collection its end triggers (the allocations it counted are due) walks them
    all, and moves them to an older generation that later collections walk again.
    Here the pause ends after the call's frame is gone, so what the call made and
    dropped is freed by then (freeing also takes back its count): the collector finds
    only what the call returns. A batch's worker task runs this way.

    Parameters
    ----------
    function : callable
        What to call; it must make no reference cycles that matter before the pause
        ends (what it does make is collected after).
    *args
        Its arguments.

    Returns
    -------
    Any
        What ``function`` returns.
    """
    with paused_gc():
        return function(*args)
