"""The recorded output of ``Engine.diagnose`` on seeded synthetic profiles, and its regenerator.

Speed work on validation, normalisation, base facts, inference and the Result
(issue 16) must not change a byte of what a diagnosis gives. Before that work the
output was recorded here: the sha256 of each profile's canonical JSON (the
validated profile, the Result with its trace, and the scores) for
:data:`COUNT` profiles of :data:`SEED`, on the fast backend.
``tests/test_diagnose_reference.py`` holds the engine to it.

Regenerate (only when the shipped KB or the Result's contract changes on purpose)::

    .venv/bin/python tests/diagnose_reference.py
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.models import Result
from deficit_engine.schema import Profile

#: Where the recorded digests live.
REFERENCE = Path(__file__).parent / "data" / "diagnose_reference.json"
SEED = 1616
COUNT = 3_000
#: Profiles with up to this many results each (heavier than the default 30 so that
#: joins between many facts are exercised).
MAX_RESULTS = 40


def canonical(profile: Profile, result: Result) -> str:
    """A diagnosis as text with one spelling: the stdlib's JSON of the validated profile,
    the Result's ``to_dict`` (trace included) and its scores, keys in writing order.

    Written by ``json.dumps`` directly, not by ``Result.to_json``, so that the
    recording does not depend on the writer under test."""
    scores = None if result.scores is None else dataclasses.asdict(result.scores)
    doc = {
        "profile": profile.model_dump(mode="json"),
        "result": result.to_dict(trace=True),
        "scores": scores,
    }
    return json.dumps(doc, ensure_ascii=False, indent=1)


def digest(profile: Profile, result: Result) -> str:
    """The sha256 of :func:`canonical`, in hex."""
    return hashlib.sha256(canonical(profile, result).encode("utf-8")).hexdigest()


def profiles(engine: Engine, count: int = COUNT) -> list[dict[str, Any]]:
    """The recorded profiles: :data:`SEED`'s first ``count``."""
    return list(synthetic_profiles(engine.kb, count, seed=SEED, max_results=MAX_RESULTS))


def digests(engine: Engine, count: int = COUNT) -> list[str]:
    """Each recorded profile's digest as ``engine`` diagnoses it now."""
    out = []
    for p in profiles(engine, count):
        prof, result = engine.diagnose(p)
        out.append(digest(prof, result))
    return out


def record() -> dict[str, Any]:
    """The reference document: the KB's hash, the draw and every digest."""
    engine = Engine.from_path(backend="fast")
    return {
        "kb_hash": engine.kb.content_hash,
        "seed": SEED,
        "count": COUNT,
        "max_results": MAX_RESULTS,
        "digests": digests(engine),
    }


def main() -> int:
    """Write :data:`REFERENCE` anew."""
    doc = record()
    REFERENCE.write_text(json.dumps(doc, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {len(doc['digests'])} digests for {doc['kb_hash']} to {REFERENCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
