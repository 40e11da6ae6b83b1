"""How ``deficit-engine check`` scales with the number of rules.

A KB of N rules is the shipped ontology with the shipped rules copied until there
are N of them (each copy's ids suffixed, so every rule is distinct and valid).
The script prints, for each size, the seconds ``check`` takes (load, validation
and the analysis) in one run; compare the ratios, not the absolute times.

    python benchmarks/check_scale.py                 # 1 000, 5 000 and 10 000 rules
    python benchmarks/check_scale.py --sizes 500 2000
    python benchmarks/check_scale.py --profile 5000  # cProfile's top 25 for one size
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from deficit_engine.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
_RULE_ID = re.compile(r"^(  - id: )(\S+)$", re.MULTILINE)


def shipped_rule_files() -> list[str]:
    """The shipped rule files' texts, each ``ruleset:`` line removed."""
    return [
        re.sub(r"^ruleset: .*$", "", p.read_text("utf-8"), flags=re.MULTILINE)
        for p in sorted((ROOT / "rules").glob("*.yaml"))
    ]


def write_kb(dest: Path, n_rules: int) -> Path:
    """A KB at ``dest`` with the shipped ontology and ``n_rules`` rules (copies of the
    shipped ones, ids suffixed ``-Cn``), one rule file per copy."""
    shutil.copytree(ROOT / "ontology", dest / "ontology")
    (dest / "rules").mkdir()
    texts = shipped_rule_files()
    per_copy = sum(len(_RULE_ID.findall(t)) for t in texts)
    written, copy = 0, 0
    while written < n_rules:
        body = "\n".join(texts)
        body = _RULE_ID.sub(rf"\g<1>\g<2>-C{copy}", body)
        keep = min(per_copy, n_rules - written)
        if keep < per_copy:  # cut the last copy after its keep-th rule
            starts = [m.start() for m in _RULE_ID.finditer(body)]
            body = body[: starts[keep]]
            # the cut may leave a file's comment header: harmless
        text = f"ruleset: copy{copy}\nrules:\n" + re.sub(r"^rules:\n", "", body, flags=re.M)
        (dest / "rules" / f"{copy:05d}.yaml").write_text(text, encoding="utf-8")
        written += keep
        copy += 1
    return dest


def time_check(root: Path) -> float:
    """Seconds ``deficit-engine check`` takes on the KB at ``root`` (its output dropped)."""
    sink = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        cli(["check", "--kb", str(root)])
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 5_000, 10_000])
    parser.add_argument("--profile", type=int, metavar="N", help="profile check on N rules")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.profile:
            root = write_kb(Path(tmp) / "kb", args.profile)
            prof = cProfile.Profile()
            prof.runcall(time_check, root)
            pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
            return 0
        print(f"{'rules':>7} {'seconds':>8} {'s per 1k':>9}")
        for n in args.sizes:
            seconds = time_check(write_kb(Path(tmp) / f"kb{n}", n))
            print(f"{n:>7} {seconds:>8.2f} {seconds / n * 1000:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
