"""The batch's hook into the store: :class:`BatchRecorder`.

``batch --db`` passes one to :func:`deficit_engine.cohort.run_batch`, which calls
it with each evaluated person as it writes them. Each person is one transaction
(:meth:`Store.record`), so a batch killed at any moment leaves whole persons
only, and the persons a run already holds are skipped, so a rerun with the same
run id completes the run without adding anyone twice.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from ..cohort import BatchSummary, Digest
from ..kb import KnowledgeBase
from .database import Store

__all__ = ["BatchRecorder", "new_run_id"]


def new_run_id() -> str:
    """A run id for a batch given none: the UTC time to the second, ``run-20261202T221500``.

    Returns
    -------
    str
    """
    return datetime.datetime.now(datetime.timezone.utc).strftime("run-%Y%m%dT%H%M%S")


class BatchRecorder:
    """Records each person of a batch in the store, under one run id.

    Parameters
    ----------
    store : Store
        The store (its schema up to date).
    run_id : str
        The run; an existing one is continued.
    kb : KnowledgeBase
        The KB the batch runs with (its content hash is kept with each Result).
    source : str, optional
        The cohort file's name.
    """

    def __init__(
        self, store: Store, run_id: str, kb: KnowledgeBase, source: str | None = None
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.kb_hash = kb.content_hash  # each Result carries it too; the run keeps it
        self.resumed = not store.begin_run(run_id, source=source, kb_hash=self.kb_hash)
        self.already = store.recorded(run_id) if self.resumed else set()
        self.added = 0

    def __call__(self, item: Digest, profile: Any) -> None:
        """Record one evaluated person (nothing when the run has them already).

        Parameters
        ----------
        item : Digest
            The batch's digest of their Result (its JSON line).
        profile : dict or Profile
            Their profile.
        """
        if not item.ok or item.profile in self.already:
            return
        body = json.loads(item.line)
        if self.store.record(profile, body, run_id=self.run_id, kb_hash=self.kb_hash):
            self.added += 1

    def finish(self, summary: BatchSummary) -> None:
        """Mark the run finished with the batch's counts.

        Parameters
        ----------
        summary : BatchSummary
            What the batch counted.
        """
        self.store.finish_run(
            self.run_id,
            profiles=summary.profiles,
            evaluated=summary.evaluated,
            set_aside=summary.set_aside,
        )
