"""Progress between two diagnoses over HTTP (issue 14's tracking.progress)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deficit_engine import Engine
from deficit_engine.service import create_app, load_tokens
from service_helpers import OWN, bearer, person, write_tokens

tracking = pytest.importorskip(
    "deficit_engine.tracking", reason="the tracking package is not installed"
)


def _later(earlier: dict[str, object]) -> dict[str, object]:
    later = copy.deepcopy(earlier)
    for result in later["results"]:  # type: ignore[union-attr]
        result["score"] = result["max"]  # every score at its best: the deficits close
    return later


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    engine = Engine.from_path(backend="fast")
    tokens = write_tokens(tmp_path)
    client = TestClient(create_app(engine, access=load_tokens(tmp_path / "tokens.yaml")))
    client.headers.update(bearer(tokens["tutor"]))
    return client


def test_progress_is_what_the_library_says(client: TestClient) -> None:
    earlier = person("G-1", OWN)
    later = _later(earlier)
    engine = Engine.from_path(backend="fast")
    expected = tracking.progress(earlier, later, engine=engine).to_dict()
    response = client.post("/v1/progress", json={"earlier": earlier, "later": later})
    assert response.status_code == 200
    assert response.json() == expected
    assert any(c.get("label") == "closed" for c in response.json()["competencies"])


def test_progress_problems_name_which_profile(client: TestClient) -> None:
    earlier = person("G-2", OWN)
    later = _later(earlier)
    later["person"]["role"] = "astronaut"  # type: ignore[index]
    response = client.post(
        "/v1/progress",
        json={"earlier": earlier, "later": later, "marks": [{"step": "s1", "status": "half"}]},
    )
    assert response.status_code == 422
    paths = {e["path"] for e in response.json()["errors"]}
    assert "later.person.role" in paths and any(p.startswith("marks[0]") for p in paths)


def test_a_kept_persons_progress_uses_their_last_two_diagnoses(client: TestClient) -> None:
    earlier = person("G-3", OWN)
    client.post("/v1/persons", json=earlier)
    assert client.get("/v1/persons/G-3/progress").status_code == 422  # one diagnosis only
    client.post("/v1/persons", json=_later(earlier))
    response = client.get("/v1/persons/G-3/progress")
    assert response.status_code == 200 and response.json()["person"] == "G-3"
