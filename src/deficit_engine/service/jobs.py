"""Cohort jobs: an uploaded CSV, XLSX or JSONL file run as ``deficit-engine batch``.

A job runs :func:`~deficit_engine.cohort.run_batch` on the upload in a thread
of its own (one at a time: a batch already uses every core through its worker
processes), counting profiles as it goes; its output folder is the batch's,
and its report is :func:`~deficit_engine.spravka.make_spravka` on that
folder — what ``deficit-engine batch`` then ``report`` give on the same file.
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from ..engine import Engine
from ..errors import DeficitEngineError, SourceError, UsageError
from ..progressbar import Progress
from ..spravka import make_spravka

__all__ = ["UPLOAD_SUFFIXES", "Job", "Jobs"]

#: The cohort formats ``batch`` reads.
UPLOAD_SUFFIXES = (".csv", ".jsonl", ".xlsx")

JobState = Literal["queued", "running", "done", "failed"]

log = logging.getLogger("deficit_engine.service")

T = TypeVar("T")


class _Counting(Progress):
    """A Progress that draws nothing and counts the profiles a batch has worked through."""

    def __init__(self, job: Job) -> None:
        super().__init__(False)
        self.job = job

    def track(
        self, items: Iterable[T], label: str, total: int | None = None, unit: str = "profile"
    ) -> Iterator[T]:
        """Yield ``items``, counting them on the job under ``label``.

        Parameters
        ----------
        items, label, total, unit
            As for :meth:`Progress.track`.

        Yields
        ------
        object
            Each item, unchanged.
        """
        self.job.stage, self.job.total = label, total
        self.job.done = 0
        for item in items:
            yield item
            self.job.done += 1


@dataclass
class Job:
    """One cohort upload and what became of it.

    Attributes
    ----------
    id : str
        The job's id (a counter: it names no person and no file).
    state : str
        ``queued``, ``running``, ``done`` or ``failed``.
    stage : str
        The batch's current stage (``diagnose``, ``routes``...).
    done, total : int
        Profiles worked through in that stage, and how many are expected.
    error : str
        Why it failed, one line.
    counts : dict
        profiles, evaluated, set_aside once done.
    """

    id: str
    suffix: str
    state: JobState = "queued"
    stage: str = ""
    done: int = 0
    total: int | None = None
    error: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    outdir: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """The job as the API shows it.

        Returns
        -------
        dict
        """
        return {
            "id": self.id,
            "state": self.state,
            "stage": self.stage,
            "done": self.done,
            "total": self.total,
            "error": self.error,
            **self.counts,
        }


class Jobs:
    """The cohort jobs of one service, run one at a time in a background thread.

    Parameters
    ----------
    engine : Engine
        The engine the batches use.
    root : Path, optional
        Where uploads and outputs live (default: a temporary folder, removed by
        :meth:`close`).
    """

    def __init__(self, engine: Engine, root: Path | None = None) -> None:
        self.engine = engine
        self._own = root is None
        self.root = Path(tempfile.mkdtemp(prefix="deficit-engine-jobs-")) if root is None else root
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cohort-job")

    def submit(self, filename: str, content: bytes) -> Job:
        """Queue a batch of an uploaded file.

        Parameters
        ----------
        filename : str
            The upload's name: only its suffix is used (the format).
        content : bytes
            The file.

        Returns
        -------
        Job
            The queued job.

        Raises
        ------
        UsageError
            If the suffix is not one ``batch`` reads.
        """
        suffix = Path(filename).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise UsageError(f"file: {filename!r} is not one of {', '.join(UPLOAD_SUFFIXES)}")
        with self._lock:
            job = Job(str(next(self._ids)), suffix)
            self._jobs[job.id] = job
        folder = self.root / job.id
        folder.mkdir(parents=True)
        (folder / f"input{suffix}").write_bytes(content)
        self._runner.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job ``job_id``, or None.

        Parameters
        ----------
        job_id : str

        Returns
        -------
        Job or None
        """
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        """Every job, newest first.

        Returns
        -------
        list of Job
        """
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: -int(j.id))

    def report(self, job: Job, fmt: str) -> str | bytes:
        """The справка of a finished job, as ``deficit-engine report --format fmt``.

        Parameters
        ----------
        job : Job
            A job in state ``done``.
        fmt : str
            ``json``, ``html`` or ``table``.

        Returns
        -------
        str or bytes

        Raises
        ------
        UsageError
            If the job has not finished.
        """
        if job.state != "done" or job.outdir is None:
            raise UsageError(f"cohort job {job.id} is {job.state}, not done")
        summary = json.loads((job.outdir / "summary.json").read_text(encoding="utf-8"))
        schools_file = job.outdir / "schools.json"
        schools = (
            json.loads(schools_file.read_text(encoding="utf-8")) if schools_file.exists() else None
        )
        return make_spravka(summary, self.engine.kb, schools).render(fmt, 15)

    def _run(self, job: Job) -> None:
        from ..cohort import run_batch  # the batch machinery, loaded with the first job

        job.state = "running"
        folder = self.root / job.id
        try:
            summary = run_batch(
                self.engine, folder / f"input{job.suffix}", folder / "out", progress=_Counting(job)
            )
        except (DeficitEngineError, OSError) as exc:
            job.state, job.error = "failed", _one_line(exc)
            return
        except Exception as exc:  # a bug: the job fails, the service goes on
            log.error("cohort job %s failed: %s", job.id, type(exc).__name__)
            job.state, job.error = "failed", "internal error; the failure was logged"
            return
        job.counts = {
            "profiles": summary.profiles,
            "evaluated": summary.evaluated,
            "set_aside": summary.set_aside,
        }
        job.outdir, job.state = folder / "out", "done"

    def close(self) -> None:
        """Stop taking jobs, wait for the running one, remove a temporary root."""
        self._runner.shutdown(wait=True, cancel_futures=True)
        if self._own:
            shutil.rmtree(self.root, ignore_errors=True)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SourceError):
        return exc.lines()[0] if exc.issues else str(exc)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
