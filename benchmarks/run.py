"""Benchmarks: load+compile, evaluate latency per backend, cohort throughput, memory.

Prints a table and a JSON document (``--json FILE`` also writes it). Ratios are
measured in the same run against a hand-written plain-Python baseline that
applies the same threshold rules, so they hold on a noisy shared machine where
absolute times do not.

    python benchmarks/run.py                      # the full run (minutes)
    python benchmarks/run.py --quick              # a smoke run (seconds)
    python benchmarks/run.py --latency-only       # one profile's evaluate and diagnose, p50
"""

from __future__ import annotations

import argparse
import copy
import functools
import gc
import json
import os
import pickle
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.engine import base_facts
from deficit_engine.inference import FastMatcher, PythonMatcher, durable_available, run
from deficit_engine.profile import normalise


def rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --- the plain-Python baseline ------------------------------------------------------

BANDS = ((30.0, "critical"), (50.0, "high"), (75.0, "moderate"))
# the shipped rules the baseline writes by hand (rules/10_deficits, 40_education, 60_followup)
THRESHOLD_RULES = (
    "DEF-LEVEL-CRITICAL",
    "DEF-LEVEL-LOW",
    "DEF-LEVEL-PARTIAL",
    "EDU-SEVERE-PROGRAM",
    "EDU-SEVERE-INTERNSHIP",
    "EDU-MODERATE-MASTER-CLASS",
    "EDU-MODERATE-HORIZONTAL",
    "FU-REDIAGNOSIS-DEFICIT",
)


def baseline_diagnose(
    competency_pct: dict[str, float],
) -> tuple[list[tuple[str, str]], list[tuple[str, ...]]]:
    """The threshold rules written by hand: level bands to severities (DEF-LEVEL-*),
    severe deficits to a programme, critical ones to an internship (EDU-SEVERE-*),
    moderate ones to a master class and horizontal learning (EDU-MODERATE-*), and a
    re-diagnosis after each (FU-REDIAGNOSIS-DEFICIT). ``check_baseline`` holds it
    to the engine running exactly these rules."""
    deficits: list[tuple[str, str]] = []
    needs: list[tuple[str, ...]] = []
    for comp, pct in competency_pct.items():
        for bound, severity in BANDS:
            if pct < bound:
                deficits.append((comp, severity))
                if severity == "moderate":
                    needs.append(("format", comp, "master_class"))
                    needs.append(("format", comp, "horizontal_learning"))
                else:
                    needs.append(("program", comp))
                    if severity == "critical":
                        needs.append(("format", comp, "internship"))
                needs.append(("format", comp, "rediagnosis"))
                break
    return deficits, needs


def threshold_kb(shipped: Path, dest: Path) -> Path:
    """The shipped ontology with only the THRESHOLD_RULES: the rule set the baseline
    hand-codes, for a ratio of like to like."""
    shutil.copytree(shipped / "ontology", dest / "ontology")
    picked = []
    for path in sorted((shipped / "rules").glob("*.yaml")):
        picked += [r for r in yaml.safe_load(path.read_text("utf-8"))["rules"]]
    picked = [r for r in picked if r["id"] in THRESHOLD_RULES]
    assert len(picked) == len(THRESHOLD_RULES), "a threshold rule is missing from the shipped KB"
    (dest / "rules").mkdir()
    text = yaml.safe_dump({"ruleset": "threshold", "rules": picked}, allow_unicode=True)
    (dest / "rules" / "threshold.yaml").write_text(text, encoding="utf-8")
    return dest


def check_baseline(engine: Engine, profiles: list[dict[str, Any]]) -> None:
    """The baseline must find exactly what the engine finds on the threshold rules."""
    for p in profiles:
        result = engine.evaluate(p)
        deficits, needs = baseline_diagnose(normalise(engine.parse(p), engine.kb).competency_pct)
        found = {(d.competency, d.severity) for d in result.deficits}
        asked = {
            (n.kind, str(n.competency))
            if n.kind == "program"
            else (n.kind, str(n.competency), str(n.get("format")))
            for n in result.needs
        }
        assert found == set(deficits) and asked == set(needs), p["id"]


# --- measurements --------------------------------------------------------------------


def _fresh(matcher: Any) -> Any:
    """A fast matcher for one run, as the engine makes it (``copy.copy`` in code from
    before ``FastMatcher.fresh``, so that this script measures older code too)."""
    fresh = getattr(matcher, "fresh", None)
    return fresh() if fresh is not None else copy.copy(matcher)


def measure_load(backends: list[str], repeats: int) -> dict[str, float]:
    out = {}
    for backend in backends:
        load = functools.partial(Engine.from_path, backend=backend)
        times = [timed(load) for _ in range(repeats)]
        out[backend] = statistics.median(times) * 1000
    return out


def measure_latency(
    engines: dict[str, Engine], profiles: list[dict[str, Any]], call: str = "evaluate"
) -> dict[str, dict[str, float]]:
    """Per backend, ms of one ``engine.<call>(profile)`` (``evaluate`` or ``diagnose``):
    p50, p99 and mean of the wall time, and p50 and mean of the CPU time of this
    process (``time.process_time``: steadier on a shared machine)."""
    out = {}
    for name, engine in engines.items():
        run_one = getattr(engine, call)
        for p in profiles[:50]:  # warm up
            run_one(p)
        samples, cpu = [], []
        for p in profiles:
            start, start_cpu = time.perf_counter(), time.process_time()
            run_one(p)
            cpu.append((time.process_time() - start_cpu) * 1000)
            samples.append((time.perf_counter() - start) * 1000)
        out[name] = {
            "p50_ms": percentile(samples, 50),
            "p99_ms": percentile(samples, 99),
            "mean_ms": statistics.fmean(samples),
            "cpu_p50_ms": percentile(cpu, 50),
            "cpu_mean_ms": statistics.fmean(cpu),
        }
    return out


def measure_diagnose(
    engines: dict[str, Engine], profiles: list[dict[str, Any]], repeats: int = 5
) -> dict[str, float]:
    """Ms per profile of the diagnose stage (normalised scores -> deficits and needs):
    the fastest of ``repeats`` passes over the profiles, each after a collection,
    so that a stray GC pause or a neighbour's burst does not decide a ratio."""
    engine = next(iter(engines.values()))
    kb = engine.kb
    prepared = []
    for p in profiles:
        norm = normalise(engine.parse(p), kb)
        prepared.append((norm, base_facts(norm, kb), engine._enricher(norm)))
    strata = engine.strata
    fast = FastMatcher(strata)

    # each path's output is dropped as soon as it is made, as in a cohort run: a list
    # of 2,000 rule-engine outputs kept alive would bill the engine for the cyclic
    # GC walking them, which the baseline's tuples hardly cost
    def baseline() -> None:
        for norm, _f, _e in prepared:
            baseline_diagnose(norm.competency_pct)

    def each(make: Callable[[], Any]) -> Callable[[], None]:
        def path() -> None:
            for _n, f, e in prepared:
                run(strata, f, make(), e)

        return path

    paths: dict[str, Callable[[], Any]] = {
        "baseline": baseline,
        "fast": each(lambda: _fresh(fast)),
        "python": each(lambda: PythonMatcher(strata)),
    }
    if "durable" in engines:
        matcher = engines["durable"]._durable
        assert matcher is not None
        paths["durable"] = each(lambda: matcher)
    out: dict[str, float] = {}
    for name, path in paths.items():
        times = []
        for _ in range(repeats):
            gc.collect()
            times.append(timed(path))
        out[name] = min(times) / len(prepared) * 1000
    return out


def measure_stages(engine: Engine, profiles: list[dict[str, Any]]) -> dict[str, float]:
    """CPU ms per profile in each stage of ``evaluate`` (the fastest of 3 passes), the
    cost of sending the Result to another process (pickling it, then unpickling), and
    of writing its JSON (``Result.to_json``, with the trace)."""
    from deficit_engine.route import plan

    kb = engine.kb
    stages = (
        "validate+normalise",
        "diagnose",
        "result",
        "resolve+route",
        "pickle",
        "unpickle",
        "to_json",
    )
    best = dict.fromkeys(stages, float("inf"))
    for _ in range(3):
        spent = dict.fromkeys(stages, 0.0)
        for p in profiles:
            t0 = time.process_time()
            prof = engine.parse(p)
            norm = normalise(prof, kb)
            facts = base_facts(norm, kb)
            t1 = time.process_time()
            trace = engine._infer(norm, facts)  # the engine's backend, as evaluate runs it
            t2 = time.process_time()
            partial = engine._result(prof, trace, norm)
            t3 = time.process_time()
            result = plan(kb, prof, partial)
            t4 = time.process_time()
            blob = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            t5 = time.process_time()
            pickle.loads(blob)
            t6 = time.process_time()
            result.to_json()
            t7 = time.process_time()
            spans = ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6), (t6, t7))
            for stage, (a, b) in zip(stages, spans, strict=True):
                spent[stage] += b - a
        best = {k: min(best[k], spent[k] / len(profiles) * 1000) for k in stages}
    return best


def measure_throughput(
    engine: Engine, count: int, seed: int, workers_list: list[int], max_results: int
) -> dict[str, float]:
    out = {}
    for workers in workers_list:
        # a generator: never all in memory
        profiles = synthetic_profiles(engine.kb, count, seed=seed, max_results=max_results)
        start = time.perf_counter()
        done = sum(1 for _ in engine.evaluate_many(profiles, workers=workers))
        elapsed = time.perf_counter() - start
        out[f"workers_{workers}"] = done / elapsed
    return out


def measure_rss(backend: str, count: int, seed: int) -> dict[str, float]:
    engine = Engine.from_path(backend=backend)
    profiles = synthetic_profiles(engine.kb, count, seed=seed)
    warm = 2_000 if count > 10_000 else count // 10
    before = None
    for i, profile in enumerate(profiles):
        engine.evaluate(profile)
        if i + 1 == warm:
            gc.collect()
            before = rss_mb()
    gc.collect()
    after = rss_mb()
    assert before is not None
    return {
        "evaluations": count,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "growth_mb": after - before,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--latency-profiles", type=int, default=2_000)
    parser.add_argument("--cohort", type=int, default=20_000, help="profiles per throughput run")
    parser.add_argument("--rss-evaluations", type=int, default=200_000)
    parser.add_argument(
        "--max-results",
        type=int,
        default=30,
        help="competency results per profile, at most (default 30)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--backends",
        help="comma-separated backends to measure (default: every one available)",
    )
    parser.add_argument(
        "--latency-only",
        action="store_true",
        help="only one profile's evaluate and diagnose latency, and the stages (seconds)",
    )
    parser.add_argument("--json", help="also write the JSON figures to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.latency_profiles, args.cohort, args.rss_evaluations = 200, 1_000, 2_000

    backends = ["durable", "python", "fast"] if durable_available() else ["python", "fast"]
    if args.backends:
        backends = [b for b in backends if b in args.backends.split(",")]
        if "fast" not in backends:
            parser.error("--backends must include fast (the throughput and baselines use it)")
    figures: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "seed": args.seed,
        "max_results": args.max_results,
    }

    def say(text: str) -> None:
        print(text, flush=True)

    say(
        f"deficit_engine benchmarks: Python {figures['machine']['python']}, "
        f"{figures['machine']['cpus']} CPUs, seed {args.seed}"
    )
    figures["load_compile_ms"] = measure_load(backends, 1 if args.latency_only else 5)
    say(
        f"{'KB load + compile (median of 5)':<44}"
        + "  ".join(f"{b} {ms:.0f} ms" for b, ms in figures["load_compile_ms"].items())
    )
    engines = {b: Engine.from_path(backend=b) for b in backends}
    profiles = list(
        synthetic_profiles(
            engines["fast"].kb, args.latency_profiles, seed=args.seed, max_results=args.max_results
        )
    )
    for call, label in (("evaluate", "diagnose+resolve+route"), ("diagnose", "parse..Result")):
        lats = figures[f"{call}_latency"] = measure_latency(engines, profiles, call)
        for b, lat in lats.items():
            say(
                f"{f'{call} ({label}) ' + b:<44}p50 {lat['p50_ms']:.3f} ms  "
                f"p99 {lat['p99_ms']:.2f} ms  cpu p50 {lat['cpu_p50_ms']:.3f} ms  "
                f"({len(profiles)} profiles)"
            )
    figures["stages_ms"] = {}
    for b in ("durable", "fast"):
        if b in engines:
            st = figures["stages_ms"][b] = measure_stages(engines[b], profiles[:500])
            say(
                f"{'stages (ms/profile) ' + b:<44}"
                + "  ".join(f"{k} {v:.3f}" for k, v in st.items())
            )
    if args.latency_only:
        return _finish(figures, args.json)

    def diagnose_figures(ms: dict[str, float], key: str, ratio_key: str, label: str) -> None:
        figures[key] = ms
        figures[ratio_key] = {k: v / ms["baseline"] for k, v in ms.items()}
        for k, v in ms.items():
            say(f"{label + k:<44}{v:.3f} ms/profile  x{figures[ratio_key][k]:.1f} baseline")

    diagnose_figures(
        measure_diagnose(engines, profiles),
        "diagnose_ms",
        "diagnose_ratio_to_baseline",
        "diagnose stage ",
    )
    with tempfile.TemporaryDirectory() as tmp:
        subset = threshold_kb(engines["fast"].kb.root, Path(tmp) / "kb")
        like = {b: Engine.from_path(subset, backend=b) for b in backends}
        check_baseline(like["fast"], profiles[:500])
        same = measure_diagnose(like, profiles)
    diagnose_figures(
        same,
        "diagnose_same_rules_ms",
        "diagnose_same_rules_ratio",
        "diagnose, threshold rules only ",
    )
    figures["evaluate_many_per_s"] = measure_throughput(
        engines["fast"], args.cohort, args.seed + 1, [1, 2], args.max_results
    )
    for k, v in figures["evaluate_many_per_s"].items():
        say(
            f"{'evaluate_many (fast) ' + k.replace('_', ' '):<44}{v:,.0f} profiles/s "
            f"({args.cohort} profiles)"
        )
    figures["rss"] = {}
    for b in ("durable", "fast"):
        if b not in backends:
            continue
        r = figures["rss"][b] = measure_rss(b, args.rss_evaluations, args.seed + 2)
        say(
            f"{'RSS growth ' + b:<44}{r['growth_mb']:+.1f} MB over "
            f"{r['evaluations']:,} evaluations "
            f"({r['rss_before_mb']:.0f} -> {r['rss_after_mb']:.0f} MB)"
        )
    return _finish(figures, args.json)


def _finish(figures: dict[str, Any], path: str | None) -> int:
    """Print the figures as JSON, and write them to ``path`` when given."""
    text = json.dumps(figures, ensure_ascii=False, indent=2)
    print(text)
    if path:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
