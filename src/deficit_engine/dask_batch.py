"""A batch on a Dask cluster: ``batch --scheduler ADDRESS``.

The same pipeline as on one machine (:func:`deficit_engine.cohort.run_batch`):
the cluster's workers diagnose the cohort chunk by chunk, the parent plans the
cohort once on the gathered diagnoses (the mentor allocation needs everyone),
then the workers build the routes and write their parts of the output
(``--format jsonl|parquet``) straight into the staging folder, which the parent
publishes whole. Every worker must see the same KB folder and the output
folder's parent at the same paths (a shared file system): README «Dask».
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .errors import UsageError

__all__ = ["connect"]


@contextlib.contextmanager
def connect(address: str) -> Iterator[Any]:
    """A ``dask.distributed`` Client of the scheduler at ``address``, closed after.

    Parameters
    ----------
    address : str
        The scheduler's address, such as ``tcp://10.0.0.5:8786``.

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
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            "--scheduler needs dask.distributed: pip install 'deficit-engine[dask]'"
        ) from None
    try:
        client = Client(address, timeout="10s")  # type: ignore[no-untyped-call]
    except OSError as exc:  # refused, timed out, unknown host
        raise UsageError(f"--scheduler {address}: cannot connect ({exc})") from None
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]
