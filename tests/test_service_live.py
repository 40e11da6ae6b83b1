"""The service running for real: schemathesis against its live OpenAPI document.

No generated request may get a 5xx, and every response must match the document
(status code, content type, schema). Examples are bounded per operation.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service_helpers import OWN, LiveServer, bearer, person

pytestmark = pytest.mark.slow

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("live")).start()
    for i in range(3):  # people to read and mark, in the tutor's municipality
        httpx.post(
            f"{live.url}/v1/persons",
            json=person(f"P-{i}", OWN),
            headers=bearer(live.tokens["admin"]),
        )
    yield live
    live.stop()


@pytest.mark.parametrize("role", ["admin", "integrator"])
def test_schemathesis_finds_no_5xx_and_no_response_off_the_schema(
    server: LiveServer, role: str, tmp_path: Path
) -> None:
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            "25",
            "--seed",
            "15",
            "--request-timeout",
            "30",
            "--header",
            f"Authorization: Bearer {server.tokens[role]}",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,  # its cache of crashes goes there, not into the work tree
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
