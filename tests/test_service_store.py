"""The service over the database store (issue 14's ``Store``): the same scopes and
marks as in memory, kept in an SQLite file across two app instances."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deficit_engine import Engine
from deficit_engine.service import create_app, load_tokens
from service_helpers import OTHER, OWN, bearer, person, write_tokens

store_module = pytest.importorskip(
    "deficit_engine.store", reason="the database store is not installed"
)


def _app(engine: Engine, folder: Path) -> TestClient:
    from deficit_engine.service.stored import StoreRecords

    store = store_module.Store.open(f"sqlite:///{folder / 'service.db'}")
    store.upgrade()
    records = StoreRecords(store, engine)
    return TestClient(
        create_app(engine, access=load_tokens(folder / "tokens.yaml"), records=records)
    )


def test_people_and_marks_are_kept_in_the_database_and_scoped(tmp_path: Path) -> None:
    engine = Engine.from_path(backend="fast")
    tokens = write_tokens(tmp_path)
    tutor, admin = bearer(tokens["tutor"]), bearer(tokens["admin"])
    with _app(engine, tmp_path) as client:
        named = person("S-own", OWN)
        named["person"]["name"] = "Синтетическое Имя"
        assert client.post("/v1/persons", json=named, headers=tutor).status_code == 201
        assert (
            client.post("/v1/persons", json=person("S-other", OTHER), headers=admin).status_code
            == 201
        )
        route = client.get("/v1/persons/S-own/route", headers=tutor).json()["route"]
        step = route["steps"][0]["id"]
        mark = {"status": "done", "date": "2026-11-20", "evidence": "удостоверение № 77"}
        assert (
            client.patch(f"/v1/persons/S-own/steps/{step}", json=mark, headers=tutor).status_code
            == 200
        )
        assert client.get("/v1/persons/S-other", headers=tutor).status_code == 403
    with _app(engine, tmp_path) as again:  # a new process would see the same
        assert [p["id"] for p in again.get("/v1/persons", headers=tutor).json()] == ["S-own"]
        detail = again.get("/v1/persons/S-own", headers=tutor).json()
        assert detail["marks"] == [{"step": step, **mark}]
        printed = again.get(
            "/v1/persons/S-own/route", headers={**tutor, "Accept": "text/html"}
        ).text
        assert "удостоверение № 77" in printed and "Синтетическое" not in printed
        assert (
            again.patch(
                "/v1/persons/S-own/steps/nope", json={"status": "done"}, headers=tutor
            ).status_code
            == 422
        )
