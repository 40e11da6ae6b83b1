"""Load on ``POST /v1/route``: p50/p99 latency and throughput with concurrent clients.

Starts ``deficit-engine serve`` on 127.0.0.1 (a free port, a throwaway tokens
file), then sends seeded synthetic profiles from ``--clients`` concurrent
httpx async clients until ``--requests`` responses or ``--seconds`` have
passed, whichever comes first, and prints the figures:

    python benchmarks/service.py [--clients 8] [--requests 2000] [--seconds 60] [--accept json|html]

Only 127.0.0.1 is ever contacted. Every response must be 200; any other is
counted and printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from deficit_engine import load_kb, synthetic_profiles

ACCEPT = {"json": "application/json", "html": "text/html"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(folder: Path, token: str, port: int) -> subprocess.Popen[bytes]:
    tokens = folder / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({"tokens": {token: {"role": "integrator"}}}), encoding="utf-8")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deficit_engine",
            "serve",
            "--port",
            str(port),
            "--tokens",
            str(tokens),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            httpx.get(
                f"http://127.0.0.1:{port}/v1/kb", headers={"Authorization": f"Bearer {token}"}
            )
            return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the service did not start")


async def client(
    http: httpx.AsyncClient, bodies: list[bytes], headers: dict[str, str], state: dict[str, Any]
) -> None:
    while state["sent"] < state["limit"] and time.perf_counter() < state["deadline"]:
        body = bodies[state["sent"] % len(bodies)]
        state["sent"] += 1
        began = time.perf_counter()
        response = await http.post("/v1/route", content=body, headers=headers)
        state["latencies"].append(time.perf_counter() - began)
        if response.status_code != 200:
            state["errors"] += 1


async def load(
    port: int, token: str, bodies: list[bytes], args: argparse.Namespace
) -> dict[str, Any]:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": ACCEPT[args.accept],
    }
    state: dict[str, Any] = {
        "sent": 0,
        "limit": args.requests,
        "deadline": time.perf_counter() + args.seconds,
        "latencies": [],
        "errors": 0,
    }
    limits = httpx.Limits(max_connections=args.clients)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=120
    ) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(http, bodies, headers, state) for _ in range(args.clients)))
        state["elapsed"] = time.perf_counter() - began
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--accept", choices=sorted(ACCEPT), default="json")
    args = parser.parse_args()
    kb = load_kb()
    bodies = [json.dumps(p, ensure_ascii=False).encode() for p in synthetic_profiles(kb, 200, 15)]
    token, port = secrets.token_urlsafe(24), free_port()
    with tempfile.TemporaryDirectory() as folder:
        server = start(Path(folder), token, port)
        try:
            asyncio.run(
                load(port, token, bodies[:10], argparse.Namespace(**{**vars(args), "requests": 20}))
            )  # warm-up
            state = asyncio.run(load(port, token, bodies, args))
        finally:
            server.terminate()
            server.wait(timeout=30)
    latencies = sorted(state["latencies"])
    count = len(latencies)
    p99 = latencies[min(count - 1, int(0.99 * count))]
    print(
        f"POST /v1/route ({args.accept}), {args.clients} concurrent clients, "
        f"{count} requests in {state['elapsed']:.1f} s"
    )
    print(
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"throughput {count / state['elapsed']:.1f} requests/s, non-200: {state['errors']}"
    )


if __name__ == "__main__":
    main()
