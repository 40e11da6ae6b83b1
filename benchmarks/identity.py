"""Write the engine's observable output for a fixed input set, to compare two versions.

A refactor that claims "byte-identical output" is checked by running this script on
both versions (two checkouts, one machine) and comparing the files with ``cmp``:

    python benchmarks/identity.py OUT_DIR [--count 500] [--seed 7]

It writes ``OUT_DIR/synthetic.jsonl`` (the ``Result.to_json`` of ``--count`` seeded
synthetic profiles on the shipped KB, every backend's, one line each) and, for each
committed example profile, ``OUT_DIR/<name>.<fmt>`` as ``deficit-engine route``
renders it in every export format. It prints one SHA-256 per file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from deficit_engine import EXPORT_FORMATS, Engine, synthetic_profiles
from deficit_engine.cli import main as cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def write_synthetic(out: Path, count: int, seed: int) -> None:
    lines: list[str] = []
    for backend in ("durable", "python", "fast"):
        try:
            engine = Engine.from_path(backend=backend)
        except Exception as exc:  # durable missing on 3.13+: the others still count
            print(f"# {backend}: skipped ({exc})", file=sys.stderr)
            continue
        for profile in synthetic_profiles(engine.kb, count, seed):
            lines.append(engine.evaluate(profile).to_json(indent=None))
    (out / "synthetic.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_examples(out: Path) -> None:
    # Through the command, as a user gets them: the CLI's own reading and writing count.
    for source in sorted(EXAMPLES.glob("*.yaml")):
        for fmt in EXPORT_FORMATS:
            target = out / f"{source.stem}.{fmt}"
            code = cli(["route", str(source), "--format", fmt, "-o", str(target)])
            if code != 0:
                raise SystemExit(f"route {source.name} --format {fmt} exited {code}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    write_synthetic(args.out, args.count, args.seed)
    write_examples(args.out)
    digests = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(args.out.iterdir())
    }
    print(json.dumps(digests, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
