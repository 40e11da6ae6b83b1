"""Did-you-mean at scale: a profile naming 100,000 unknown competency ids.

Issue 17 measured 111 s (1.1 ms per suggestion, difflib over every id) and
100,000 printed lines. This script builds such a profile (half near-misses of
real ids, half unrelated ids, all distinct), then prints:

- the time to validate it, suggestions included (one ProfileError);
- the time per suggestion of the indexed :mod:`deficit_engine.suggest` and of
  ``difflib.get_close_matches`` over every id (on a sample), and their ratio;
- how many lines the command prints for it (capped, with a count of the rest).

    python benchmarks/suggestions.py [--count 100000] [--sample 5000]

Speed depends on the machine and its load: compare the two figures of one run.
"""

from __future__ import annotations

import argparse
import difflib
import time

from deficit_engine import ProfileError, load_kb
from deficit_engine.profile import parse_profile
from deficit_engine.suggest import suggest


def unknown_ids(known: list[str], count: int) -> list[str]:
    """Distinct unknown ids: near-misses of known ids and unrelated ones, alternately."""
    out = []
    for i in range(count):
        if i % 2:
            base = known[i % len(known)]
            out.append(f"{base[:-2]}{i}")
        else:
            out.append(f"unknown.competency_{i}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=5000)
    args = parser.parse_args()
    kb = load_kb()
    known = list(kb.ontology.competencies)
    names = unknown_ids(known, args.count)
    profile = {
        "id": "BENCH-1",
        "person": {"role": "teacher", "experience_years": 3},
        "requests": names,
    }
    start = time.perf_counter()
    try:
        parse_profile(profile, kb)
    except ProfileError as exc:
        issues = len(exc.issues)
        printed = len(exc.lines())
    took = time.perf_counter() - start
    print(f"validate {args.count} unknown ids: {took:.2f} s, {issues} issues, {printed} lines")

    # ids not seen above, so that no suggestion comes from the memo
    sample = unknown_ids(known, args.count + args.sample)[args.count :]
    start = time.perf_counter()
    for name in sample:
        suggest(name, kb.ontology.competencies)
    indexed = (time.perf_counter() - start) / len(sample)
    start = time.perf_counter()
    for name in sample:
        difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    plain = (time.perf_counter() - start) / len(sample)
    print(
        f"per suggestion: indexed {indexed * 1e3:.3f} ms, difflib over every id "
        f"{plain * 1e3:.3f} ms ({plain / indexed:.1f}x)"
    )


if __name__ == "__main__":
    main()
