"""The HTTP service (issue 15): stateless endpoints, problems, roles and scopes, marks,
cohort jobs equal to batch + report, and the pages."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deficit_engine import Engine, export
from deficit_engine.cli import main
from deficit_engine.errors import SourceError
from deficit_engine.service import create_app, load_tokens
from deficit_engine.service.api import negotiate
from deficit_engine.service.problems import ApiProblem
from service_helpers import OTHER, OWN, bearer, example, person, write_tokens


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="fast")


@pytest.fixture
def tokens(tmp_path: Path) -> dict[str, str]:
    return write_tokens(tmp_path)


@pytest.fixture
def client(engine: Engine, tmp_path: Path, tokens: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(
        engine, access=load_tokens(tmp_path / "tokens.yaml"), jobs_root=tmp_path / "jobs"
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_route_json_html_and_markdown_are_what_the_cli_renders(
    client: TestClient, engine: Engine, tokens: dict[str, str]
) -> None:
    profile = example()
    parsed = engine.parse(profile)
    result = engine.evaluate(parsed)
    auth = bearer(tokens["integrator"])
    as_json = client.post("/v1/route", json=profile, headers=auth)
    assert as_json.status_code == 200
    assert as_json.json() == json.loads(result.to_json(trace=True))
    for accept, fmt in (("text/html", "html"), ("text/markdown", "md")):
        response = client.post("/v1/route", json=profile, headers={**auth, "Accept": accept})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(accept)
        assert response.text == export.render(fmt, engine.kb, parsed, result)


def test_diagnose_gives_the_deficits_with_the_trace(
    client: TestClient, tokens: dict[str, str]
) -> None:
    response = client.post("/v1/diagnose", json=example(), headers=bearer(tokens["integrator"]))
    body = response.json()
    assert response.status_code == 200
    assert body["deficits"] and body["trace"]


def test_a_bad_profile_is_422_naming_every_field_path(
    client: TestClient, tokens: dict[str, str]
) -> None:
    profile = example()
    profile["person"]["role"] = "astronaut"
    profile["results"][0]["score"] = "много"
    profile["results"][1]["competency"] = "methodical.lesson_desing"
    response = client.post("/v1/route", json=profile, headers=bearer(tokens["integrator"]))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    paths = {e["path"] for e in problem["errors"]}
    assert {"person.role", "results[0].score", "results[1].competency"} <= paths
    assert problem["detail"] == problem["errors"][0]["line"]
    assert all(e["line"].startswith(f"body:{e['path']}: ") for e in problem["errors"])
    assert any("did you mean 'methodical.lesson_design'" in e["line"] for e in problem["errors"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "json-syntax"),
        (b"\xff\xfe", "not-utf8"),
        (b"[" * 5000 + b"]" * 5000, "too-deep"),
    ],
)
def test_malformed_bodies_are_placed_problems(
    client: TestClient, tokens: dict[str, str], body: bytes, code: str
) -> None:
    response = client.post(
        "/v1/route",
        content=body,
        headers={**bearer(tokens["integrator"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == code


def test_bodies_over_the_bound_are_413_before_they_are_read(
    engine: Engine, tokens: dict[str, str], tmp_path: Path
) -> None:
    app = create_app(engine, access=load_tokens(tmp_path / "tokens.yaml"), max_body=2000)
    with TestClient(app) as small:
        big = {**example(), "requests": ["digital.ai"] * 400}
        response = small.post("/v1/route", json=big, headers=bearer(tokens["integrator"]))
        chunked = small.post(
            "/v1/route",
            content=iter([b"{" + b" " * 1500, b" " * 1500 + b"}"]),
            headers={**bearer(tokens["integrator"]), "Content-Type": "application/json"},
        )
    assert response.status_code == 413 == chunked.status_code
    assert response.json()["title"] == "Request too large"


def test_accept_picks_the_best_offered_type_or_406() -> None:
    assert negotiate("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8") == "html"
    assert negotiate("text/markdown;q=0.5, application/json") == "json"
    assert negotiate("*/*") == "json"
    with pytest.raises(ApiProblem) as refused:
        negotiate("image/png")
    assert refused.value.status == 406


def test_kb_names_its_hash_and_titles(
    client: TestClient, engine: Engine, tokens: dict[str, str]
) -> None:
    body = client.get("/v1/kb", headers=bearer(tokens["integrator"])).json()
    assert body["hash"] == engine.kb.content_hash  # what every Result names as kb_hash
    titles = {c["id"]: c["title"] for c in body["competencies"]}
    assert (
        titles["methodical.lesson_design"]
        == engine.kb.ontology.competencies["methodical.lesson_design"].title
    )
    assert len(body["programmes"]) == len(engine.kb.programs)
    assert len(body["mentors"]) == len(engine.kb.mentors)


def test_without_a_token_only_401(client: TestClient) -> None:
    for response in (
        client.get("/v1/kb"),
        client.post("/v1/route", json=example()),
        client.get("/v1/persons", headers=bearer("x" * 30)),
    ):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


def test_roles_reach_only_their_endpoints(client: TestClient, tokens: dict[str, str]) -> None:
    own = person("P-1", OWN)
    assert (
        client.post("/v1/persons", json=own, headers=bearer(tokens["integrator"])).status_code
        == 403
    )
    assert (
        client.post("/v1/persons", json=own, headers=bearer(tokens["analyst"])).status_code == 403
    )
    assert client.post("/v1/persons", json=own, headers=bearer(tokens["tutor"])).status_code == 201
    assert client.get("/v1/persons/P-1", headers=bearer(tokens["analyst"])).status_code == 403
    assert client.get("/v1/cohorts", headers=bearer(tokens["tutor"])).status_code == 403
    assert client.get("/v1/cohorts", headers=bearer(tokens["integrator"])).status_code == 403
    assert client.get("/v1/cohorts", headers=bearer(tokens["analyst"])).status_code == 200


def test_a_tutor_cannot_cross_their_scope(client: TestClient, tokens: dict[str, str]) -> None:
    tutor, admin = bearer(tokens["tutor"]), bearer(tokens["admin"])
    assert client.post("/v1/persons", json=person("P-own", OWN), headers=tutor).status_code == 201
    assert (
        client.post("/v1/persons", json=person("P-other", OTHER), headers=admin).status_code == 201
    )
    # writing someone of another municipality, or moving one of theirs out of it
    assert client.post("/v1/persons", json=person("P-x", OTHER), headers=tutor).status_code == 403
    assert client.post("/v1/persons", json=person("P-other", OWN), headers=tutor).status_code == 403
    listed = client.get("/v1/persons", headers=tutor).json()
    assert [p["id"] for p in listed] == ["P-own"]
    assert {p["id"] for p in client.get("/v1/persons", headers=admin).json()} == {
        "P-own",
        "P-other",
    }
    step = _first_step(client, "P-other", admin)
    client.cookies.set("deficit_engine_token", tokens["tutor"])  # the pages' login
    for response in (
        client.get("/v1/persons/P-other", headers=tutor),
        client.get("/v1/persons/P-other/route", headers=tutor),
        client.patch(f"/v1/persons/P-other/steps/{step}", json={"status": "done"}, headers=tutor),
        client.get("/persons/P-other"),
        client.get("/persons/P-other/print"),
    ):
        assert response.status_code == 403
    assert client.get("/v1/persons/P-other", headers=admin).json()["marks"] == []


def _first_step(client: TestClient, pid: str, auth: dict[str, str]) -> str:
    route = client.get(f"/v1/persons/{pid}/route", headers=auth).json()["route"]
    return str(route["steps"][0]["id"])


def test_a_mark_reaches_the_person_and_the_printable_route(
    client: TestClient, tokens: dict[str, str]
) -> None:
    tutor = bearer(tokens["tutor"])
    client.post("/v1/persons", json=person("P-2", OWN), headers=tutor)
    step = _first_step(client, "P-2", tutor)
    mark = {"status": "done", "date": "2026-11-20", "evidence": "удостоверение № 2741"}
    response = client.patch(f"/v1/persons/P-2/steps/{step}", json=mark, headers=tutor)
    assert response.status_code == 200
    assert response.json() == {"step": step, **mark}
    detail = client.get("/v1/persons/P-2", headers=tutor).json()
    assert detail["person"]["done"] == 1 and detail["marks"] == [{"step": step, **mark}]
    printed = client.get("/v1/persons/P-2/route", headers={**tutor, "Accept": "text/html"}).text
    assert "удостоверение № 2741" in printed


def test_bad_marks_are_422_and_unknown_people_404(
    client: TestClient, tokens: dict[str, str]
) -> None:
    tutor = bearer(tokens["tutor"])
    client.post("/v1/persons", json=person("P-3", OWN), headers=tutor)
    step = _first_step(client, "P-3", tutor)
    bad_status = client.patch(
        f"/v1/persons/P-3/steps/{step}", json={"status": "half"}, headers=tutor
    )
    assert bad_status.status_code == 422 and bad_status.json()["errors"][0]["path"] == "status"
    bad_date = client.patch(
        f"/v1/persons/P-3/steps/{step}",
        json={"status": "done", "date": "20.11.2026"},
        headers=tutor,
    )
    assert bad_date.status_code == 422 and "date" in bad_date.json()["detail"]
    assert (
        client.patch(
            "/v1/persons/P-3/steps/nope", json={"status": "done"}, headers=tutor
        ).status_code
        == 422
    )
    assert client.get("/v1/persons/nobody", headers=tutor).status_code == 404


def test_names_never_reach_the_logs(
    client: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    named = person("P-4", OWN)
    named["person"]["name"] = "Синтетическая Фамилия Пример"
    broken = {**named, "results": [{"competency": "nope", "score": 1, "max": 2}]}
    with caplog.at_level(logging.DEBUG):
        client.post("/v1/persons", json=named, headers=bearer(tokens["tutor"]))
        client.post("/v1/route", json=broken, headers=bearer(tokens["tutor"]))
    assert caplog.records
    assert "Синтетическая" not in caplog.text


def test_a_cohort_job_reports_what_batch_and_report_give(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    cohort = tmp_path / "cohort.jsonl"
    rows = [person(f"C-{i}", OWN if i % 2 else OTHER) for i in range(6)] + [example("methodist")]
    cohort.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    analyst = bearer(tokens["analyst"])
    with cohort.open("rb") as upload:
        job = client.post("/v1/cohorts", files={"file": ("cohort.jsonl", upload)}, headers=analyst)
    assert job.status_code == 202
    state = _finished(client, job.json()["id"], analyst)
    assert state["state"] == "done" and state["profiles"] == 7 and state["evaluated"] == 7
    served = client.get(f"/v1/cohorts/{state['id']}/report", headers=analyst).json()
    assert main(["batch", str(cohort), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    assert (
        main(["report", str(tmp_path / "out"), "--format", "json", "-o", str(tmp_path / "r.json")])
        == 0
    )
    assert served == json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))


def _finished(client: TestClient, job_id: str, auth: dict[str, str]) -> dict[str, Any]:
    for _ in range(600):  # a bound on polling, not a timed assertion
        state: dict[str, Any] = client.get(f"/v1/cohorts/{job_id}", headers=auth).json()
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"cohort job {job_id} did not finish")


def test_an_upload_of_another_kind_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post(
        "/v1/cohorts", files={"file": ("cohort.exe", b"MZ")}, headers=bearer(tokens["analyst"])
    )
    assert response.status_code == 422 and ".csv" in response.json()["detail"]


def test_a_bad_tokens_file_names_its_place_and_not_the_token(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(
        "tokens:\n  short: {role: tutor}\n  " + "k" * 20 + ": {role: wizard}\n", encoding="utf-8"
    )
    with pytest.raises(SourceError) as bad:
        load_tokens(path)
    lines = bad.value.lines()
    assert len(lines) == 2 and all(line.startswith(f"{path}:") for line in lines)
    assert not any("k" * 20 in line for line in lines)


def test_pages_login_list_person_and_kb(client: TestClient, tokens: dict[str, str]) -> None:
    client.post("/v1/persons", json=person("P-5", OWN), headers=bearer(tokens["tutor"]))
    assert client.get("/persons", follow_redirects=False).headers["location"] == "/login"
    refused = client.post("/login", data={"token": "wrong" * 5})
    assert refused.status_code == 401 and "Неизвестный токен" in refused.text
    client.post("/login", data={"token": tokens["tutor"]})
    listing = client.get("/persons")
    assert listing.status_code == 200 and "P-5" in listing.text
    page = client.get("/persons/P-5")
    assert "Шаги маршрута" in page.text and "flowchart" in page.text
    assert client.get("/cohorts").status_code == 403
    assert "Компетенции" in client.get("/kb").text


def test_the_openapi_document_carries_the_profile_schema(client: TestClient) -> None:
    from deficit_engine.schema import json_schema

    document = client.get("/openapi.json").json()
    profile = document["components"]["schemas"]["Profile"]
    assert set(profile["properties"]) == set(json_schema("profile")["properties"])
    body = document["paths"]["/v1/route"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Profile"} and body["example"]["id"]
    assert "422" in document["paths"]["/v1/route"]["post"]["responses"]


def test_concurrent_routes_equal_sequential_ones(
    client: TestClient, engine: Engine, tokens: dict[str, str]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from deficit_engine import synthetic_profiles

    profiles = list(synthetic_profiles(engine.kb, 24, seed=15))
    expected = [json.loads(engine.evaluate(p).to_json(trace=True)) for p in profiles]
    auth = bearer(tokens["integrator"])
    with ThreadPoolExecutor(max_workers=8) as pool:
        served = list(
            pool.map(lambda p: client.post("/v1/route", json=p, headers=auth).json(), profiles)
        )
    assert served == expected


def test_a_rediagnosis_keeps_the_marks_of_steps_still_on_the_route(
    client: TestClient, tokens: dict[str, str]
) -> None:
    tutor = bearer(tokens["tutor"])
    client.post("/v1/persons", json=person("P-6", OWN), headers=tutor)
    step = _first_step(client, "P-6", tutor)
    client.patch(f"/v1/persons/P-6/steps/{step}", json={"status": "in_progress"}, headers=tutor)
    client.post("/v1/persons", json=person("P-6", OWN), headers=tutor)
    detail = client.get("/v1/persons/P-6", headers=tutor).json()
    assert detail["person"]["diagnoses"] == 2
    assert detail["marks"] == [
        {"step": step, "status": "in_progress", "date": None, "evidence": None}
    ]
