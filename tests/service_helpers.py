"""Shared by the service's tests: a tokens file, an app, profiles of two municipalities."""

from __future__ import annotations

import copy
import secrets
from pathlib import Path
from typing import Any

import yaml

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: The tutor's own municipality, and another one.
OWN, OTHER = "Анучинский МО", "Артёмовский ГО"


def example(name: str = "young_teacher") -> dict[str, Any]:
    """An example profile (synthetic, no real person) as a dict."""
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))
    return data


def person(pid: str, municipality: str, organization: str = "МБОУ СОШ № 1") -> dict[str, Any]:
    """The young teacher's profile under another id, municipality and organisation."""
    data = copy.deepcopy(example())
    data["id"] = pid
    data["person"]["municipality"] = municipality
    data["person"]["organization"] = organization
    return data


def write_tokens(folder: Path) -> dict[str, str]:
    """A tokens file with one fresh token per role (the tutor's scope: OWN); role -> token."""
    tokens = {
        role: secrets.token_urlsafe(24) for role in ("integrator", "tutor", "analyst", "admin")
    }
    grants = {
        tokens["integrator"]: {"role": "integrator"},
        tokens["tutor"]: {"role": "tutor", "municipalities": [OWN]},
        tokens["analyst"]: {"role": "analyst"},
        tokens["admin"]: {"role": "admin"},
    }
    (folder / "tokens.yaml").write_text(
        yaml.safe_dump({"tokens": grants}, allow_unicode=True), encoding="utf-8"
    )
    return tokens


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of ``token``."""
    return {"Authorization": f"Bearer {token}"}


class LiveServer:
    """``deficit-engine serve`` in a subprocess on 127.0.0.1 and a free port."""

    def __init__(self, folder: Path) -> None:
        import socket

        self.tokens = write_tokens(folder)
        with socket.socket() as probe:  # a port free now; the server binds it at once
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (folder / "server.log").open("wb")
        self.folder = folder

    def start(self) -> LiveServer:
        """Start the server and wait (bounded) until it answers."""
        import subprocess
        import sys
        import time

        import httpx

        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deficit_engine",
                "serve",
                "--port",
                str(self.port),
                "--tokens",
                str(self.folder / "tokens.yaml"),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(300):
            if self.process.poll() is not None:
                break
            try:
                httpx.get(f"{self.url}/v1/kb", headers=bearer(self.tokens["admin"]), timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the service did not start: {(self.folder / 'server.log').read_text()}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then kill after a bound)."""
        import subprocess

        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
