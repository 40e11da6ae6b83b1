"""How often do profiles share what route planning depends on?

Caching resolution and route work by "deficit signature" only pays if many
profiles of a cohort share one. This prints, for seeded synthetic cohorts from
the shipped ontology, how many distinct signatures (role, municipality, the
deficits with their severities, the needs with their filters) a cohort has.

    python benchmarks/signatures.py [--profiles 5000] [--seed 3]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from deficit_engine import Engine, synthetic_profiles


def signature(engine: Engine, profile: dict[str, Any]) -> tuple[Any, ...]:
    person = engine.parse(profile).person
    result = engine.evaluate(profile)
    return (
        person.role,
        person.municipality,
        tuple(sorted((d.competency, d.severity) for d in result.deficits)),
        tuple((n.kind, n.competency, n.filters) for n in result.needs),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    engine = Engine.from_path(backend="fast")
    for max_results in (30, 12, 5):
        cohort = synthetic_profiles(
            engine.kb, args.profiles, seed=args.seed, max_results=max_results
        )
        distinct = len({signature(engine, p) for p in cohort})
        print(
            f"at most {max_results:>2} results per profile: {distinct:,} distinct signatures "
            f"in {args.profiles:,} profiles ({1 - distinct / args.profiles:.1%} could reuse one)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
