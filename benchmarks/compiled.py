"""The compiled build against the pure-Python one, measured in the same run.

Builds two wheels of this tree with its own build hook (hatch_build.py): one with
``DEFICIT_ENGINE_COMPILE=1`` (the hot modules compiled with mypyc) and one with
``DEFICIT_ENGINE_COMPILE=0`` (pure Python), unpacks each into a temporary folder and
runs this script again in a subprocess per build, with that folder first on
``PYTHONPATH`` (same interpreter, same dependencies: only the package differs). The
subprocesses alternate, pure then compiled, ``--rounds`` times; each prints one JSON
line, and the figures kept are each one's best round (the least disturbed by the
other people on a shared machine). Each subprocess measures, on one seeded synthetic
cohort:

1. the Results of the first ``--check`` profiles (``Engine.evaluate``, fast backend),
   as JSON: the compiled build's must be byte-identical to the pure one's, or the run
   stops (exit 2) before printing a ratio;
2. ``Engine.evaluate`` latency for one profile, fast backend: p50 and p90, in wall
   time (as benchmarks/cohort.py) and in CPU time (what a busy machine moves less);
3. CPU µs per profile of each stage (``benchmarks/cohort.py``'s ``measure_stages``):
   inference, building the Result, diagnose, cohort allocation, resolve, route,
   ``Result.to_dict``;
4. ``deficit-engine batch`` end to end (JSONL, 1 worker, columnar, cohort plan on):
   profiles per second of wall time and per CPU second of its process tree.

Ratios are pure / compiled (above 1: the compiled build is faster). Prints figures and,
last, one JSON line of them. No timed assertions.

    python benchmarks/compiled.py [--profiles 2000] [--batch 5000] [--rounds 2]
    python benchmarks/compiled.py --wheel dist/deficit_engine-*-cp311-*.whl  # built already
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: How many profiles the latency of ``evaluate`` is taken on (as benchmarks/cohort.py).
LATENCY_PROFILES = 2_000
#: The figures where smaller is better, as the subprocess prints them.
LATENCIES = ("p50_ms", "p90_ms", "cpu_p50_ms", "cpu_p90_ms")
STAGES = (
    "fast_inference",
    "build_result",
    "fast_diagnose",
    "allocation",
    "resolve",
    "route",
    "to_dict",
)


class BenchmarkError(Exception):
    """A check of the benchmark's own failed: its figures would mean nothing."""


# --- the subprocess: one build measured -------------------------------------------------------


def measure(profiles: int, batch: int, check: int, seed: int) -> dict[str, Any]:
    """The figures of the ``deficit_engine`` this process imports."""
    sys.path.insert(0, str(HERE))  # benchmarks/cohort.py and what it imports
    import orjson
    from cohort import measure_stages, run_cli, write_cohort

    import deficit_engine
    from deficit_engine import Engine, synthetic_profiles
    from deficit_engine.resolve import cover

    engine = Engine.from_path(backend="fast")
    sample = list(synthetic_profiles(engine.kb, profiles, seed=seed))
    results = b"".join(
        orjson.dumps(engine.evaluate(p).to_dict(), option=orjson.OPT_SORT_KEYS) + b"\n"
        for p in sample[:check]
    )
    with tempfile.TemporaryDirectory(prefix="compiled-bench-") as folder:
        work = Path(folder)
        stages = measure_stages(engine, sample, work)
        source = work / "cohort.jsonl"
        write_cohort(engine, batch, seed, source)
        run = run_cli(source, work, "jsonl", 1, batch)
    latency = sorted(stages.latency_ms)
    cpu_latency = sorted(evaluate_cpu_ms(engine, sample[:LATENCY_PROFILES]))
    return {
        "package": str(Path(deficit_engine.__file__).parent),
        "compiled": not str(cover.__file__).endswith(".py"),
        "results": results.decode(),
        "p50_ms": statistics.median(latency),
        "p90_ms": latency[int(len(latency) * 0.9)],
        "cpu_p50_ms": statistics.median(cpu_latency),
        "cpu_p90_ms": cpu_latency[int(len(cpu_latency) * 0.9)],
        **{name: getattr(stages, name).micros for name in STAGES},
        "batch_per_wall_s": run.rate,
        "batch_per_cpu_s": batch / run.cpu_seconds,
    }


def evaluate_cpu_ms(engine: Any, sample: Sequence[dict[str, Any]]) -> list[float]:
    """``Engine.evaluate``'s CPU milliseconds for each profile: on a shared machine the
    wall time of one call mostly says how busy the others kept the cores."""
    times = []
    for profile in sample:
        start = time.process_time()
        engine.evaluate(profile)
        times.append((time.process_time() - start) * 1e3)
    return times


# --- the parent: two builds, alternating ----------------------------------------------------


def build_wheel(compile_flag: str, out: Path) -> Path:
    """A wheel of this tree built with ``DEFICIT_ENGINE_COMPILE=compile_flag``.

    Raises
    ------
    BenchmarkError
        If pip fails.
    """
    env = {**os.environ, "DEFICIT_ENGINE_COMPILE": compile_flag}
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchmarkError(f"pip wheel failed ({compile_flag=}): {done.stderr.strip()[-400:]}")
    (wheel,) = out.glob("deficit_engine-*.whl")
    return wheel


def unpack(wheel: Path, folder: Path) -> Path:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder)
    return folder


def run_child(package: Path, args: argparse.Namespace) -> dict[str, Any]:
    """This script in a subprocess, importing ``deficit_engine`` from ``package``.

    Raises
    ------
    BenchmarkError
        If the subprocess fails.
    """
    env = {**os.environ, "PYTHONPATH": str(package)}
    command = [sys.executable, __file__, "--child", *child_options(args)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchmarkError(f"the measuring subprocess failed: {done.stderr.strip()[-800:]}")
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    if Path(figures["package"]).resolve() != (package / "deficit_engine").resolve():
        raise BenchmarkError(f"the subprocess imported {figures['package']}, not {package}")
    return figures


def child_options(args: argparse.Namespace) -> list[str]:
    return [
        f"--profiles={args.profiles}",
        f"--batch={args.batch}",
        f"--check={args.check}",
        f"--seed={args.seed}",
    ]


def best(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's best over the rounds: the least for times, the most for rates."""
    out = dict(rounds[0])
    for key in LATENCIES + STAGES:
        out[key] = min(r[key] for r in rounds)
    for key in ("batch_per_wall_s", "batch_per_cpu_s"):
        out[key] = max(r[key] for r in rounds)
    return out


def check_builds(pure: dict[str, Any], compiled: dict[str, Any]) -> None:
    """Raises BenchmarkError unless the builds are what they claim and agree."""
    if pure["compiled"] or not compiled["compiled"]:
        raise BenchmarkError("the compiled wheel is not compiled (no C compiler?), or vice versa")
    if pure["results"] != compiled["results"]:
        raise BenchmarkError("the compiled build's Results differ from the pure build's")


def report(pure: dict[str, Any], compiled: dict[str, Any], args: argparse.Namespace) -> None:
    lines = [
        ("evaluate p50, ms (wall)", "p50_ms", False),
        ("evaluate p90, ms (wall)", "p90_ms", False),
        ("evaluate p50, ms CPU", "cpu_p50_ms", False),
        ("evaluate p90, ms CPU", "cpu_p90_ms", False),
        *((f"{name}, µs CPU/profile", name, False) for name in STAGES),
        ("batch, profiles/s wall (1 worker)", "batch_per_wall_s", True),
        ("batch, profiles per CPU second", "batch_per_cpu_s", True),
    ]
    print(
        f"compiled (mypyc) against pure Python: {args.profiles:,} profiles per stage, "
        f"batch of {args.batch:,}, best of {args.rounds} rounds; "
        f"Results of {args.check:,} profiles byte-identical"
    )
    print(f"  {'figure':<36} {'pure':>10} {'compiled':>10} {'pure/compiled':>14}")
    ratios = {}
    for label, key, higher_is_better in lines:
        ratio = compiled[key] / pure[key] if higher_is_better else pure[key] / compiled[key]
        ratios[key] = ratio
        print(f"  {label:<36} {pure[key]:>10.2f} {compiled[key]:>10.2f} {ratio:>13.2f}x")
    keep = (*LATENCIES, *STAGES, "batch_per_wall_s", "batch_per_cpu_s")
    print(
        json.dumps(
            {
                "pure": {k: pure[k] for k in keep},
                "compiled": {k: compiled[k] for k in keep},
                "ratio": ratios,
            }
        )
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=2_000, help="profiles per stage figure")
    parser.add_argument("--batch", type=int, default=5_000, help="profiles in the batch run")
    parser.add_argument("--check", type=int, default=500, help="Results compared byte for byte")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each build")
    parser.add_argument("--wheel", help="a compiled wheel built already (glob)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.profiles, args.batch, args.check, args.rounds) < 1:
        parser.error("--profiles, --batch, --check and --rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.profiles, args.batch, args.check, args.seed)))
        return 0
    with tempfile.TemporaryDirectory(prefix="compiled-wheels-") as folder:
        work = Path(folder)
        try:
            print("... building the wheels", file=sys.stderr, flush=True)
            wheel = Path(glob.glob(args.wheel)[0]) if args.wheel else build_wheel("1", work / "c")
            packages = {
                "pure": unpack(build_wheel("0", work / "p"), work / "pure"),
                "compiled": unpack(wheel, work / "compiled"),
            }
            rounds: dict[str, list[dict[str, Any]]] = {"pure": [], "compiled": []}
            for index in range(args.rounds):
                for name, package in packages.items():
                    print(f"... round {index + 1}: {name}", file=sys.stderr, flush=True)
                    rounds[name].append(run_child(package, args))
            pure, compiled = best(rounds["pure"]), best(rounds["compiled"])
            check_builds(pure, compiled)
        except BenchmarkError as error:
            print(f"compiled.py: {error}", file=sys.stderr)
            return 2
    report(pure, compiled, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
