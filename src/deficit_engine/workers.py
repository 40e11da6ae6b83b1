"""Worker processes: how many, how they start, how they are stopped.

The process pools of :func:`deficit_engine.engine.evaluate_many` and of the batch
(:mod:`deficit_engine.cohort`, whose workers write parts) share these: a cap on
the number of workers, the start method, a worker that ends with its parent and
on SIGTERM, and a pool stopped at once when the run is interrupted. So do the
runs on a Dask cluster (:meth:`deficit_engine.engine.Engine.evaluate_dask`, ``batch
--scheduler``): the client (:func:`dask_client`) and the tasks' values taken in
order with a bounded number in flight (:func:`in_order`). What a worker keeps
between two of its tasks goes to a spill file (:func:`spill`, :func:`unspill`):
the next task may run in another process, or on another machine. Nothing here
knows the engine: a pool's tasks are whatever its owner submits.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import multiprocessing
import os
import pickle
import signal
import struct
import sys
import threading
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from .errors import UsageError

__all__ = [
    "DASK_WINDOW",
    "WORKERS_PER_CORE",
    "dask_client",
    "die_with_parent",
    "forks",
    "in_order",
    "max_workers",
    "pool_worker",
    "spill",
    "start_pool",
    "start_worker",
    "stop_pool",
    "unspill",
]

#: The most worker processes a pool starts, per core: each holds its own engine,
#: so more only cost memory and contention (``--workers 500``).
WORKERS_PER_CORE = 4


def max_workers() -> int:
    """The cap on ``workers``: :data:`WORKERS_PER_CORE` per core of this machine.

    Returns
    -------
    int
        At least 4.
    """
    return WORKERS_PER_CORE * (os.cpu_count() or 1)


#: prctl(2) option: the signal a process gets when its parent dies (Linux).
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Have the kernel terminate this worker when the process that started it dies
    (``kill -9`` of a batch): else it would wait on its pipe for ever. Linux only;
    elsewhere the worker ends when it next reads its closed pipe.

    Parameters
    ----------
    parent : int
        The pid of the process that started this one (``os.getpid()`` there).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def start_worker(parent: int) -> None:
    """What every worker does first: SIGTERM ends it, and so does its parent's death.

    A worker forked from the command inherits its SIGTERM handler, which raises
    SystemExit: the pool's loop would catch that and carry on, so a terminated
    worker would outlive its parent. Terminating a worker must end it.

    Parameters
    ----------
    parent : int
        The pid of the process that started the pool.
    """
    global _POOL_WORKER
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)
    _POOL_WORKER = True


#: Whether this process is a worker of a pool :func:`start_pool` started (set by
#: :func:`start_worker`): a process of the batch's own, which runs one task at a
#: time and nothing of a caller's.
_POOL_WORKER = False


def pool_worker() -> bool:
    """Whether this process is one of :func:`start_pool`'s workers (not the
    command, nor a Dask worker): process-wide choices there are the batch's own.

    Returns
    -------
    bool
        True in a worker that :func:`start_worker` started.
    """
    return _POOL_WORKER


def start_pool(
    workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...]
) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes, forked where the platform can (a forked worker
    inherits the parent's loaded KB), each started by ``initializer(*initargs)``.

    Parameters
    ----------
    workers : int
        How many processes.
    initializer : callable
        Run first in each worker; it should call :func:`start_worker`.
    initargs : tuple
        Its arguments.

    Returns
    -------
    ProcessPoolExecutor
        The pool.
    """
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=initializer,
        initargs=initargs,
    )


def forks() -> bool:
    """Whether :func:`start_pool`'s workers are forked (they see the parent's memory).

    Returns
    -------
    bool
        True where the platform has ``fork``.
    """
    return "fork" in multiprocessing.get_all_start_methods()


def stop_pool(executor: ProcessPoolExecutor) -> None:
    """Shut a pool down now: queued tasks cancelled and its processes terminated (a
    worker deep in one evaluation would finish it first, or block on a full pipe, and
    outlive an interrupted or terminated parent).

    Parameters
    ----------
    executor : ProcessPoolExecutor
        The pool.
    """
    processes = list((executor._processes or {}).values())
    # shutdown(wait=False) forgets the manager thread (typeshed types it wrongly)
    manager: threading.Thread | None = getattr(executor, "_executor_manager_thread", None)
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():  # stopped or stuck in the kernel: SIGTERM was not enough
            process.kill()
            process.join(timeout=10)
    _join_manager(manager)


def _join_manager(manager: threading.Thread | None) -> None:
    """Wait (at most 10 s) for a stopped pool's manager thread to close its pipes.

    With its workers gone it finds the pool broken and winds down. Until then it may
    be closing its wake-up pipe while the interpreter's exit hook (Python 3.11's
    ``concurrent.futures.process._python_exit``, which takes no lock) writes to that
    pipe: under load the command then ended with ``OSError: [Errno 9] Bad file
    descriptor`` after "terminated" (CPython gh-125451, fixed in later 3.12 and 3.13 releases).
    Once the thread has ended, the hook finds the pipe closed and writes nothing.
    """
    if manager is not None and manager is not threading.current_thread():
        manager.join(timeout=10)


#: A task and its arguments, as :func:`in_order` submits them.
Call = tuple[Callable[..., Any], tuple[Any, ...]]


def in_order(
    submit: Callable[[Callable[..., Any], tuple[Any, ...]], Any],
    calls: Iterable[Call],
    window: int,
) -> Iterator[Any]:
    """Each call's value, in the order of the calls, at most ``window`` in flight.

    ``submit(task, args)`` starts a call and gives a future (a process pool's, a
    Dask client's); the calls are taken as the window frees up, so a generator of
    calls too large for memory is fine. When the caller stops (an error, an
    interrupt, the generator closed), the futures still pending are cancelled.

    Parameters
    ----------
    submit : callable
        ``submit(task, args)`` -> a future with ``result()`` and ``cancel()``.
    calls : iterable of (task, args)
        The calls, in order.
    window : int
        The most futures pending at once.

    Returns
    -------
    Iterator
        Each call's result, in order.
    """
    pending: deque[Any] = deque()
    try:
        for task, args in calls:
            pending.append(submit(task, args))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BaseException:  # failed, interrupted or closed early: nothing keeps running
        for future in pending:
            future.cancel()
        raise


#: Tasks in flight on a Dask cluster at once: the cluster queues them; more would
#: only hold more of the input and the results in the process that sends them.
DASK_WINDOW = 64


@contextlib.contextmanager
def dask_client(scheduler: Any) -> Iterator[Any]:
    """A ``dask.distributed`` Client: ``scheduler`` itself when it is one, else one
    connected to the scheduler at that address and closed after.

    Parameters
    ----------
    scheduler : str or distributed.Client
        A scheduler's address, such as ``tcp://10.0.0.5:8786``, or a Client.

    Yields
    ------
    distributed.Client
        The connected client.

    Raises
    ------
    UsageError
        If dask.distributed is not installed (``pip install 'deficit-engine[dask]'``)
        or the scheduler cannot be reached.
    """
    if not isinstance(scheduler, str):
        yield scheduler
        return
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            "--scheduler needs dask.distributed: pip install 'deficit-engine[dask]'"
        ) from None
    try:
        client = Client(scheduler, timeout="10s")  # type: ignore[no-untyped-call]
    except OSError as exc:  # refused, timed out, unknown host
        raise UsageError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]


#: A spill file's footer: the number of items, after their end offsets.
_COUNT = struct.Struct("<Q")


def spill(path: Path, items: Sequence[Any]) -> None:
    """Write ``items`` to a spill file, each pickled on its own so that a later task
    reads back any range of them (:func:`unspill`) without the others.

    The file is the items' pickles one after another, then their end offsets
    (unsigned 64-bit, little-endian) and their count: a footer the reader finds
    from the file's end.

    Parameters
    ----------
    path : Path
        The file to write (replaced if it exists).
    items : sequence
        Picklable values.

    Raises
    ------
    OSError
        If the file cannot be written.
    """
    ends = array("Q")
    written = 0
    with path.open("wb") as out:
        for item in items:
            written += out.write(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
            ends.append(written)
        if sys.byteorder != "little":  # pragma: no cover - the footer is little-endian
            ends.byteswap()
        out.write(ends.tobytes())
        out.write(_COUNT.pack(len(items)))


def unspill(path: Path, start: int, stop: int) -> list[Any]:
    """Items ``start:stop`` of a spill file written by :func:`spill`.

    Parameters
    ----------
    path : Path
        The spill file.
    start, stop : int
        The range of items, as a slice takes it (``0 <= start <= stop <= count``).

    Returns
    -------
    list
        The items, unpickled.

    Raises
    ------
    OSError
        If the file cannot be read.
    UsageError
        If the range is not within the file's items.
    """
    with path.open("rb") as handle:
        handle.seek(-_COUNT.size, os.SEEK_END)
        (count,) = _COUNT.unpack(handle.read(_COUNT.size))
        if not 0 <= start <= stop <= count:
            raise UsageError(f"{path.name}: items {start}:{stop} of {count}")
        if start == stop:
            return []
        # the end offsets of items start-1 .. stop-1 (item -1 ends at 0)
        first = max(start - 1, 0)
        handle.seek(-_COUNT.size - 8 * (count - first), os.SEEK_END)
        ends = array("Q", handle.read(8 * (stop - first)))
        if sys.byteorder != "little":  # pragma: no cover
            ends.byteswap()
        begin = ends[0] if start > 0 else 0
        handle.seek(begin)
        data = memoryview(handle.read(ends[-1] - begin))
    bounds = [begin, *ends[start - first :]]
    return [pickle.loads(data[a - begin : b - begin]) for a, b in itertools.pairwise(bounds)]
