"""Store benchmark: what recording a batch in the database costs, and the effectiveness query.

A seeded synthetic cohort (``synthetic_profiles``) goes through ``run_batch``
three times in one process: without a store, recorded in a fresh store (one
transaction per person), and again with the same run id (everyone skipped).
Then a second run is recorded and ``Store.effectiveness`` over the two is
timed. SQLite by default (a file in a temporary folder); ``--db URL`` for
another database (an empty one: the schema is created there).

Prints figures and, last, one JSON line of them. No timed assertions.

    python benchmarks/store.py                 # 400 people, SQLite
    python benchmarks/store.py --people 2000 --db postgresql://postgres@/bench?host=/tmp/pg
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.cohort import run_batch
from deficit_engine.store import BatchRecorder, Store


def _cohort(engine: Engine, path: Path, people: int, seed: int) -> None:
    rows = synthetic_profiles(engine.kb, people, seed=seed)
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in rows), "utf-8")


def _timed_batch(engine: Engine, source: Path, out: Path, recorder: BatchRecorder | None) -> float:
    start = time.perf_counter()
    summary = run_batch(engine, source, out, workers=2, record=recorder)
    if recorder is not None:
        recorder.finish(summary)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--db", help="a database URL (default: an SQLite file in a temp folder)")
    args = parser.parse_args()
    engine = Engine.from_path()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        autumn = folder / "autumn.jsonl"
        _cohort(engine, autumn, args.people, seed=11)
        store = Store.open(args.db or str(folder / "store.db"))
        store.upgrade()
        plain = _timed_batch(engine, autumn, folder / "o0", None)
        recorded = _timed_batch(
            engine, autumn, folder / "o1", BatchRecorder(store, "autumn", engine.kb)
        )
        again = _timed_batch(
            engine, autumn, folder / "o2", BatchRecorder(store, "autumn", engine.kb)
        )
        # the re-diagnosis: the same ids (synthetic ids are SYN-<seed>-<n>), new scores
        spring = folder / "spring.jsonl"
        rows = synthetic_profiles(engine.kb, args.people, seed=12)
        spring.write_text(
            "".join(
                json.dumps({**p, "id": p["id"].replace("SYN-12-", "SYN-11-")}, ensure_ascii=False)
                + "\n"
                for p in rows
            ),
            "utf-8",
        )
        _timed_batch(engine, spring, folder / "o3", BatchRecorder(store, "spring", engine.kb))
        start = time.perf_counter()
        figures = store.effectiveness("autumn", "spring")
        query = time.perf_counter() - start
    per_person_ms = 1000 * (recorded - plain) / args.people
    print(f"engine: {store.engine.dialect.name}; people: {args.people}")
    print(f"batch without a store:        {plain:7.2f} s")
    print(
        f"batch recorded in the store:  {recorded:7.2f} s  ({recorded / plain:.2f}x; "
        f"{per_person_ms:.1f} ms more per person)"
    )
    print(f"batch again, same run id:     {again:7.2f} s  ({again / plain:.2f}x; nobody written)")
    print(
        f"effectiveness of two runs:    {query:7.2f} s  ({figures.persons} people in both, "
        f"{len(figures.steps)} catalogue items)"
    )
    print(
        json.dumps(
            {
                "engine": store.engine.dialect.name,
                "people": args.people,
                "plain_s": round(plain, 3),
                "recorded_s": round(recorded, 3),
                "rerun_s": round(again, 3),
                "effectiveness_s": round(query, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
