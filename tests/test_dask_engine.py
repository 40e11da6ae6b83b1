"""Engine.evaluate_dask: the cohort diagnosed, planned once and routed on a Dask
cluster (a LocalCluster on 127.0.0.1) gives the Results and the plan of
Engine.plan_cohort, byte for byte in their JSON. The cohort is synthetic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import Engine
from deficit_engine.cohort import run_batch
from deficit_engine.errors import UsageError
from deficit_engine.synthetic import synthetic_profiles

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="fast")


def local_cluster() -> Any:
    """A Dask cluster in this process on 127.0.0.1 (its scheduler on TCP, as a real one)."""
    return distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with local_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def cohort(engine: Engine) -> list[dict[str, Any]]:
    people = list(synthetic_profiles(engine.kb, 300, seed=16))
    people.insert(7, {"id": "BROKEN", "person": {"role": "teacher"}})
    people.insert(50, {"person": {}})  # no id: labelled by its index
    return people


def _json(results: Any, trace: bool = True) -> list[str]:
    return [json.dumps(r.to_dict(trace=trace), ensure_ascii=False) for r in results]


def _plan(cohort: Any) -> dict[str, Any]:
    figures: dict[str, Any] = cohort.plan.stats.to_dict()
    figures.pop("seconds", None)
    return figures


def test_a_dask_cluster_gives_the_local_plan_and_results(
    engine: Engine, cluster: Any, cohort: list[dict[str, Any]]
) -> None:
    local = engine.plan_cohort(cohort, workers=1)
    assert any(r.route is not None for r in local.results)  # routes were planned
    assert sum(not r.ok for r in local.results) == 2
    with distributed.Client(cluster) as client:
        on_dask = engine.evaluate_dask(cohort, client, chunk_size=17)
    assert _json(on_dask.results) == _json(local.results)
    assert _plan(on_dask) == _plan(local)
    assert [s.to_dict() for s in on_dask.plan.schools] == [s.to_dict() for s in local.plan.schools]


def test_by_address_and_columnar_the_same_results_without_traces(
    engine: Engine, cluster: Any, cohort: list[dict[str, Any]]
) -> None:
    local = engine.plan_cohort(cohort, workers=1)
    columnar = engine.evaluate_dask(cohort, cluster.scheduler_address, columnar=True)
    assert _json(columnar.results, trace=False) == _json(local.results, trace=False)


def test_bad_options_are_refused(engine: Engine) -> None:
    with pytest.raises(UsageError, match="chunk_size"):
        engine.evaluate_dask([], "tcp://127.0.0.1:1", chunk_size=0)
    with pytest.raises(UsageError, match="backend"):
        engine.evaluate_dask([], "tcp://127.0.0.1:1", backend="nope")
    with pytest.raises(UsageError, match="cannot connect"):
        engine.evaluate_dask([], "tcp://127.0.0.1:1")


def test_a_worker_with_another_version_or_kb_is_refused_before_any_work(
    engine: Engine, cluster: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from deficit_engine import engine as engine_module

    monkeypatch.setattr(engine_module, "_identity", lambda ref: ("0.0.0", "sha256:other"))
    with pytest.raises(UsageError, match=r"runs deficit-engine 0\.0\.0 .* same version"):
        engine.evaluate_dask([{"id": "x"}], cluster.scheduler_address)
    source = tmp_path / "cohort.jsonl"
    source.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(UsageError, match="same version"):
        run_batch(
            engine,
            source,
            tmp_path / "out",
            output_format="jsonl",
            scheduler=cluster.scheduler_address,
        )
    assert list(tmp_path.iterdir()) == [source]  # nothing written


def test_a_worker_that_cannot_load_the_kb_is_refused(engine: Engine, cluster: Any) -> None:
    from deficit_engine import engine as engine_module

    with pytest.raises(UsageError, match="cannot load the KB at /nowhere"):
        engine_module.check_cluster(
            distributed.Client(cluster), engine, ("/nowhere", "fast", 10_000)
        )
