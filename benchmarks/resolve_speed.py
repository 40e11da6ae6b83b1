"""Resolve: CPU µs per profile, and its ratio to diagnosis, in the same run.

A seeded synthetic cohort from the shipped KB is diagnosed (fast backend, one
profile at a time), then each person's needs are resolved
(``resolve.resolve``, as ``Engine.evaluate`` calls it: with the diagnosis'
severities). Both stages are timed as CPU seconds of this one process, with the
cyclic GC paused; the best of ``--repeat`` passes is kept for each, so a pass
slowed by the other users of a shared machine counts less. Absolute times on a
shared machine are noisy: compare the ratio, which is measured in the same run.

The first resolve pass on a fresh KB also pays for the per-KB tables the
resolver builds once (``CatalogueIndex``); it is printed on its own.

``--against DIR`` also loads another tree's ``resolve`` package (``DIR`` is its
``src`` folder, or the package folder itself) beside this one, under another
module name, over this tree's lower layers (the KB and its catalogue index are
shared); its output is checked to be the same as this one's (every
recommendation's and unmet need's JSON, with the needs served) and then the
two take turns slice by slice (100 profiles; each slice's best of ``--repeat``
turns counts), so that their ratio comes from one run.

``--fresh`` (with ``--against``) times people each tree has never resolved: a
memo kept per KB across people (a need's pick, a shared recommendation) would make
a pass over the same people again cheaper than a cohort's first sight of them. Each
tree gets a KB of its own, warmed on another cohort of the same size (seed + 1); then
the two take turns slice by slice, each slice timed once for each.

    python benchmarks/resolve_speed.py [--profiles 3000] [--seed 16] [--repeat 3]
    python benchmarks/resolve_speed.py --against /work/main/src [--fresh]
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.util
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from deficit_engine import Engine, load_kb, synthetic_profiles
from deficit_engine.resolve import resolve


def cpu(step: Callable[[], Any]) -> float:
    """CPU seconds of ``step()`` in this process, the cyclic GC paused."""
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        step()
        return time.process_time() - start
    finally:
        gc.enable()


def other_package(folder: Path, name: str) -> Any:
    """Another tree's package ``name`` (``resolve``, ``route``), imported as
    ``deficit_engine._NAME_against``: its relative imports of the lower layers
    resolve to this tree's. ``folder`` is the tree's ``src`` or the package itself."""
    if (folder / "deficit_engine" / name).is_dir():
        folder = folder / "deficit_engine" / name
    module_name = f"deficit_engine._{name}_against"
    spec = importlib.util.spec_from_file_location(
        module_name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"no {name} package in {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _outcome(resolution: Any) -> list[Any]:
    """A Resolution as JSON, with each recommendation's needs (what must match)."""
    return [
        [
            {**r.to_dict(), "needs": [n.to_dict() for n in r.needs]}
            for r in resolution.recommendations
        ],
        [u.to_dict() for u in resolution.unmet],
    ]


#: Profiles per turn when two trees alternate.
SLICE = 100


def _resolve_slice(resolver: Any, kb: Any, people: Sequence[Any]) -> None:
    for profile, result in people:
        resolver(kb, profile, result.needs, severities=result.severities)


def _alternating(
    mine: Any, other: Any, kb: Any, people: Sequence[Any], repeat: int
) -> tuple[float, float]:
    """CPU seconds of the two resolvers over ``people``: they take turns slice by
    slice (:data:`SLICE` profiles), so that a neighbour's burst on a shared machine
    falls on both alike; each slice's best of ``repeat`` turns counts."""
    starts = range(0, len(people), SLICE)
    best_mine = [float("inf")] * len(starts)
    best_other = [float("inf")] * len(starts)
    for _ in range(repeat):
        for k, start in enumerate(starts):
            part = people[start : start + SLICE]
            best_mine[k] = min(best_mine[k], cpu(functools.partial(_resolve_slice, mine, kb, part)))
            best_other[k] = min(
                best_other[k], cpu(functools.partial(_resolve_slice, other, kb, part))
            )
    return sum(best_mine), sum(best_other)


def fresh(n: int, seed: int, against: Path) -> int:
    """``--fresh``: each tree its own KB, warmed on another cohort; then every slice
    of this cohort timed once per tree, the trees taking turns."""
    other = other_package(against, "resolve").resolve
    kbs = (load_kb(), load_kb())
    engine = Engine(kbs[0], backend="fast")
    warm = [engine.diagnose(p) for p in synthetic_profiles(kbs[0], n, seed + 1)]
    people = [engine.diagnose(p) for p in synthetic_profiles(kbs[0], n, seed)]
    for resolver, kb in ((resolve, kbs[0]), (other, kbs[1])):
        _resolve_slice(resolver, kb, warm)
    spent = [0.0, 0.0]
    for start in range(0, n, SLICE):
        part = people[start : start + SLICE]
        for k, resolver in enumerate((resolve, other)):
            spent[k] += cpu(functools.partial(_resolve_slice, resolver, kbs[k], part))
    for profile, result in people:  # again, now from the memos: the same output
        mine = resolve(kbs[0], profile, result.needs, severities=result.severities)
        theirs = other(kbs[1], profile, result.needs, severities=result.severities)
        if _outcome(mine) != _outcome(theirs):
            raise SystemExit(f"{against}: another resolution for {result.profile}")
    print(f"python {platform.python_version()} on {platform.machine()}, {n} profiles")
    print(f"(seed {seed}, warmed on seed {seed + 1}), each met once by each tree")
    print(f"resolve:                 {spent[0] / n * 1e6:8.1f} µs/profile")
    print(f"resolve of --against:    {spent[1] / n * 1e6:8.1f} µs/profile (same output)")
    print(f"against / this tree:     {spent[1] / spent[0]:8.2f} (slices alternating)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--against", type=Path, help="another tree's src (or its resolve package), timed beside"
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="with --against: time people each tree meets for the first time",
    )
    args = parser.parse_args(argv)
    if args.fresh:
        if args.against is None:
            parser.error("--fresh needs --against")
        return fresh(args.profiles, args.seed, args.against)
    kb = load_kb()
    engine = Engine(kb, backend="fast")
    raw = list(synthetic_profiles(kb, args.profiles, args.seed))
    engine.diagnose(raw[0])  # compile the rules outside the timed passes
    people: list[Any] = []

    def diagnose() -> None:
        people[:] = [engine.diagnose(p) for p in raw]

    def resolve_all() -> None:
        for profile, result in people:
            resolve(kb, profile, result.needs, severities=result.severities)

    diagnose_s = min(cpu(diagnose) for _ in range(args.repeat))
    first = cpu(resolve_all)  # the first pass on this KB: builds the per-KB tables
    other_s = None
    if args.against is None:
        resolve_s = min(cpu(resolve_all) for _ in range(args.repeat))
    else:
        other = other_package(args.against, "resolve").resolve
        for profile, result in people:
            mine = resolve(kb, profile, result.needs, severities=result.severities)
            theirs = other(kb, profile, result.needs, severities=result.severities)
            if _outcome(mine) != _outcome(theirs):
                raise SystemExit(f"{args.against}: another resolution for {result.profile}")

        cpu(lambda: _resolve_slice(other, kb, people))  # its first pass, as this tree's above
        resolve_s, other_s = _alternating(resolve, other, kb, people, args.repeat)
    n = len(people)
    needs = sum(len(r.needs) for _p, r in people) / n
    print(f"python {platform.python_version()} on {platform.machine()}, {n} profiles")
    print(f"(seed {args.seed}), {needs:.1f} needs a profile; best of {args.repeat} passes")
    print(f"diagnose (fast backend): {diagnose_s / n * 1e6:8.1f} µs/profile")
    print(f"resolve, first pass:     {first / n * 1e6:8.1f} µs/profile")
    print(f"resolve:                 {resolve_s / n * 1e6:8.1f} µs/profile")
    print(f"resolve / diagnose:      {resolve_s / diagnose_s:8.3f}")
    if other_s is not None:
        print(f"resolve of --against:    {other_s / n * 1e6:8.1f} µs/profile (same output)")
        print(f"against / this tree:     {other_s / resolve_s:8.2f} (passes alternating)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
