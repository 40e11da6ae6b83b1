"""Time the ИОМ document (Markdown and HTML) per person, as a batch's ``--documents`` makes it.

    python benchmarks/documents.py [--count 200] [--seed 7]

Evaluates ``--count`` seeded synthetic profiles on the shipped KB once, then renders
each one's document in each format and prints the mean milliseconds per document
(the first render of a format, which compiles its template, is timed apart).
Run it on two checkouts to compare them; it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import time

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.export import render


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    engine = Engine.from_path(backend="python")
    people = []
    for data in synthetic_profiles(engine.kb, args.count, args.seed):
        profile = engine.parse(data)
        people.append((profile, engine.evaluate(profile)))
    for fmt in ("md", "html"):
        start = time.perf_counter()
        render(fmt, engine.kb, *people[0])
        first = time.perf_counter() - start
        start = time.perf_counter()
        size = sum(len(render(fmt, engine.kb, p, r)) for p, r in people)
        each = (time.perf_counter() - start) / len(people)
        print(
            f"{fmt}: first {first * 1000:.1f} ms, then {each * 1000:.2f} ms per document "
            f"({size // len(people)} characters on average, {len(people)} documents)"
        )


if __name__ == "__main__":
    main()
