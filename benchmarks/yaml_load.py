"""The YAML reader on a large document: libyaml's parser against the pure-Python one.

The document is issue 17's: about 2 MB holding 990 000 values (a flow list of
small integers under one key). Each loader runs in a fresh process, so the peak
memory printed is its own; compare the two lines of one run.

    python benchmarks/yaml_load.py                 # both loaders
    python benchmarks/yaml_load.py --values 100000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from deficit_engine import _yaml


def document(values: int) -> str:
    """``items: [1,1,...]`` with ``values`` integers (about 2 bytes each)."""
    return "items: [" + "1," * (values - 1) + "1]\n"


def measure(values: int, loader: str) -> dict[str, float]:
    """Load the document with ``loader`` ("c" or "python") in this process."""
    if loader == "python":
        _yaml._C_LOADER = None  # the fallback where PyYAML has no libyaml
    text = document(values)
    start = time.perf_counter()
    loaded = _yaml.load_yaml_text(text, "big.yaml")
    seconds = time.perf_counter() - start
    assert not loaded.issues and len(loaded.data["items"]) == values
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb, "mb": len(text) / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--values", type=int, default=990_000)
    parser.add_argument("--child", choices=["c", "python"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.values, args.child)))
        return 0
    loaders = ["c", "python"] if _yaml._C_LOADER is not None else ["python"]
    print(f"{args.values} values; libyaml available: {_yaml._C_LOADER is not None}")
    print(f"{'loader':>8} {'MB':>6} {'seconds':>8} {'peak RSS MB':>12}")
    for loader in loaders:
        out = subprocess.run(
            [sys.executable, __file__, "--values", str(args.values), "--child", loader],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        got = json.loads(out)
        print(f"{loader:>8} {got['mb']:>6.2f} {got['seconds']:>8.2f} {got['peak_mb']:>12.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
