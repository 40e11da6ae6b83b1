"""The facade users import: ``Engine.from_path(...).evaluate(profile)``."""

from __future__ import annotations

import functools
import gc
import importlib.metadata
import operator
import os
import pickle
import threading
import warnings
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, Union

import numpy as np
import numpy.typing as npt

from ._yaml import MAX_DEPTH
from .choices import BACKENDS
from .compiler import LITERAL, SubRule, compile_rules
from .errors import BackendLimitError, EvaluationError, SourceError, UsageError
from .gcpause import paused_gc
from .inference import (
    DEFAULT_FIRING_LIMIT,
    ColumnarRules,
    Completion,
    DurableMatcher,
    FastMatcher,
    PythonMatcher,
    durable_available,
    durable_import_error,
    run,
)
from .inference.columnar import ABSENT, BaseColumns, DerivedColumns, by_profile, ranks
from .loader import KnowledgeBase, load_kb
from .models import Deficit, Fact, Need, Provenance, Result, Scores, TraceEntry, fact_sort_key
from .models.diagnosis import TraceRow, TraceRows
from .models.provenance import PlainProvenance
from .planner import CohortPlan, plan_cohort
from .profile import (
    Normalised,
    NormalisedChunk,
    ScoreRows,
    normalise,
    normalise_apart,
    normalise_many,
    parse_profile,
    parse_profile_apart,
    parsed_apart_or_whole,
    whole_profile,
    without_results,
)
from .resolve import resolve
from .rollups import round_fast
from .route import planned
from .rules import BASE_TYPES, NEED_KINDS, SEVERITIES, field_kinds
from .rules.model import NUM, STR
from .schema import Profile
from .workers import (
    DASK_WINDOW,
    dask_client,
    in_order,
    max_workers,
    start_pool,
    start_worker,
    stop_pool,
)

__all__ = [
    "BACKENDS",
    "COLUMNAR_RUN",
    "Cohort",
    "Diagnosed",
    "Engine",
    "EngineRef",
    "check_cluster",
    "diagnose_task",
    "engine_for",
    "evaluate_many",
    "max_workers",
    "plan_diagnosed",
    "route_planned",
    "route_task",
    "run_chunk",
]


_warned = False


def _default_backend() -> str:
    global _warned
    if durable_available():
        return "durable"
    if not _warned:
        _warned = True
        warnings.warn(
            f"durable_rules is unavailable ({durable_import_error()}); "
            "using the pure-Python backend, which gives the same results",
            RuntimeWarning,
            stacklevel=3,
        )
    return "python"


def _durable_or_none(engine: Engine) -> DurableMatcher | None:
    """durable_rules' matcher for the engine's rules; where durable cannot build them
    (too many rules for it), None and the engine on the fast backend, with a warning."""
    try:
        return DurableMatcher(engine.strata, engine.kb.rules)
    except BackendLimitError as exc:
        warnings.warn(
            f"{exc}; using the fast backend, which gives the same results",
            RuntimeWarning,
            stacklevel=4,
        )
        engine.backend = "fast"
        return None


def _completion(kb: KnowledgeBase) -> Completion:
    """What `Engine._enricher` does to a deficit whose competency the ontology knows (its
    group) and the profile has a score of, declared for the fast matcher's generated
    firings (see `Completion`): the fields in its order, the severity kept, the group
    fixed per competency, the score the run's (``norm.competency_pct``)."""
    groups = kb.ontology.competency_group
    return Completion(
        type="deficit",
        key="competency",
        fields=_DEFICIT_FIELDS,
        kept=("severity",),
        run="score_pct",
        known={comp: {"group": group} for comp, group in groups.items() if group is not None},
    )


_T = TypeVar("_T")
_KIND_RANK = {k: i for i, k in enumerate(NEED_KINDS)}
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
#: Profiles per columnar run in ``Engine.diagnose_many`` (and so per chunk a batch sends,
#: ``cohort.COLUMNAR_CHUNK``): past a few thousand a run costs more per profile, below
#: it numpy's fixed cost per call weighs (benchmarks/columnar.py --chunk).
COLUMNAR_RUN = 4096
_NEED_OWN_FIELDS = frozenset(("type", "kind", "competency"))
_BASE_TYPES = frozenset(BASE_TYPES)  # a set: asked of every derived fact
#: The fact types `Engine._enricher` changes: the fast matcher's generated firings
#: call it only for these.
_ENRICHED = frozenset(("deficit",))
#: The fields of a deficit `Engine._enricher` completes, in its order.
_DEFICIT_FIELDS = ("type", "competency", "group", "severity", "score_pct")


@functools.lru_cache(maxsize=4096)
def _filters_order(filters: tuple[tuple[str, Any], ...]) -> str:
    return fact_sort_key(dict(filters))


def _need_order(need: Need) -> str:
    """Needs sort by competency, kind, then their filters as canonical JSON (cached:
    a rule set asks for few distinct filter combinations): as one string, which sorts
    as the tuple of the three would (a Result sorts a few dozen needs; strings compare
    at half the cost). The competency ends with ``\\0\\0`` and any ``\\0`` within it is
    written ``\\0\\1``, so a competency sorts before every longer one it begins, as a
    tuple's would; the kind's rank is one character."""
    try:
        filters = _filters_order(need.filters)
    except TypeError:  # a list among the filters: not hashable, not cached
        filters = fact_sort_key(dict(need.filters))
    competency = need.competency or ""
    if "\0" in competency:
        competency = competency.replace("\0", "\0\1")
    return f"{competency}\0\0{chr(_KIND_RANK.get(need.kind, 9))}{filters}"


#: A need with its sort key (:func:`_need_order`).
_KeyedNeed = tuple[str, Need]


def _keyed_need(rule: str, fact: Fact) -> _KeyedNeed:
    """The Need a ``need`` fact asserted by ``rule`` is, with its sort key."""
    filters = tuple([item for item in fact.items() if item[0] not in _NEED_OWN_FIELDS])
    need = Need.of(str(fact["kind"]), fact.get("competency"), filters, rule)
    return _need_order(need), need


#: The needs made so far, by the rule, the fact's field names and its values (values
#: all ``str``: no ``True`` beside ``1`` to tell apart), with their sort keys. A Need is
#: a frozen value of its rule and fact alone, whatever the KB, so one serves every Result
#: that asks for it: a cohort asks for a few thousand distinct needs, and making each
#: (its filters, the value, the sort key) cost most of building a Result. Emptied when
#: it grows past :data:`_NEEDS_KEPT`.
_NEEDS: dict[tuple[Any, ...], _KeyedNeed] = {}
_NEEDS_KEPT = 1 << 16
_STR = frozenset((str,))
_sort_key = operator.itemgetter(0)
_new = object.__new__
_set_attr = object.__setattr__
#: A competency the ontology does not know sorts after every known one (_deficit_key).
_UNPLACED = 10**6


def base_facts(norm: Normalised, kb: KnowledgeBase) -> list[Fact]:
    """The facts a profile provides, in a fixed order (docs/rules.md, "Facts").

    Parameters
    ----------
    norm : Normalised
        The profile with its scores in percent and their levels.
    kb : KnowledgeBase
        The KB the profile was validated against.

    Returns
    -------
    list of dict
        The ``person`` fact, then ``result``, ``indicator_result``,
        ``group_result`` and ``request`` facts. A ``result`` read from a
        competency's own result, and an ``indicator_result``, also carry that
        result's ``instrument``, ``source`` and ``date`` when known.
    """
    person = norm.profile.person
    facts: list[Fact] = []
    pfact: Fact = {
        "type": "person",
        "role": person.role,
        "experience_years": round_fast(person.experience_years, 4),
        "subjects": list(person.subjects),
    }
    if person.category is not None:
        pfact["category"] = person.category
    if person.organization is not None:
        pfact["organization"] = person.organization
    if person.municipality is not None:
        pfact["municipality"] = person.municipality
    facts.append(pfact)
    onto = kb.ontology
    groups = onto.competency_group
    # where a score came from rides on its fact, so a firing's trace shows it (only
    # the results that name any of it: most name none)
    origin = norm.origin
    levels = norm.competency_level
    results: list[Fact] = [
        {
            "type": "result",
            "competency": comp,
            "group": groups[comp],
            "score_pct": pct,
            "level": levels[comp],
        }
        for comp, pct in norm.competency_pct.items()
    ]
    if origin:
        for fact in results:
            fact.update(origin.get(("competency", fact["competency"]), ()))
    facts += results
    indicator_pct = norm.indicator_pct
    if indicator_pct:
        parent = onto.indicator_parent
        # their levels at once (Scale.levels_of: level_of's, without a call and a read
        # of its kept table each)
        indicator_level = kb.scale.levels_of(indicator_pct)
        indicators: list[Fact] = [
            {
                "type": "indicator_result",
                "indicator": indicator,
                "competency": (comp := parent[indicator]),
                "group": groups[comp],
                "score_pct": pct,
                "level": indicator_level[indicator],
            }
            for indicator, pct in indicator_pct.items()
        ]
        if origin:
            for fact in indicators:
                fact.update(origin.get(("indicator", fact["indicator"]), ()))
        facts += indicators
    group_level = norm.group_level
    facts += [
        {"type": "group_result", "group": group, "score_pct": pct, "level": group_level[group]}
        for group, pct in norm.group_pct.items()
    ]
    if norm.profile.requests:
        facts += [
            {"type": "request", "competency": comp, "group": groups[comp]}
            for comp in dict.fromkeys(norm.profile.requests)
        ]
    return facts


class Engine:
    """A knowledge base compiled for evaluation.

    Thread-safe: ``evaluate`` may be called from several threads at once (the
    durable backend is serialised by a lock; the Python backend needs none).
    Several engines with different KBs can live in one process.

    Parameters
    ----------
    kb : KnowledgeBase
        A validated KB (:func:`~deficit_engine.loader.load_kb`).
    backend : str, optional
        One of :data:`~deficit_engine.choices.BACKENDS`. By default ``"durable"``
        when durable_rules can be imported, else ``"python"`` (with a
        ``RuntimeWarning``, once); all give the same Results.
    firing_limit : int
        The most firings that assert new facts one evaluation may make.

    Attributes
    ----------
    kb : KnowledgeBase
        The KB, as given.
    backend : str
        The backend in use.
    firing_limit : int
        As given.

    Raises
    ------
    UsageError
        If ``backend`` is unknown or ``firing_limit`` is below 1.
    EvaluationError
        If ``backend`` is ``"durable"`` and durable_rules cannot be imported.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        backend: str | None = None,
        firing_limit: int = DEFAULT_FIRING_LIMIT,
    ) -> None:
        if backend is None:
            backend = _default_backend()
        if backend not in BACKENDS:
            raise UsageError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        if firing_limit < 1:
            raise UsageError("firing_limit must be at least 1")
        self.kb = kb
        self.backend = backend
        self.firing_limit = firing_limit
        self.strata = compile_rules(kb.rules)
        self._lock = threading.Lock()
        self._durable = _durable_or_none(self) if backend == "durable" else None
        # each competency's place in the ontology's order, a Result's deficits' sort key
        onto = kb.ontology
        self._places = {c: onto.order_key(c) for c in onto.competencies}
        # more than any place: a deficit's (severity's rank, place) as one int
        self._span = len(self._places) + 1
        # the kept needs by the rule and the values alone, where a need fact's rule and
        # length tell its field names (see _need_names); not for the durable backend,
        # whose facts are made outside this process
        self._need_names = _need_names(self.strata)
        self._needs_by_values: dict[tuple[Any, ...], _KeyedNeed] | None = (
            {} if backend != "durable" else None
        )
        # compiled once; each evaluation works on a fresh copy with its own memories
        self._fast = (
            FastMatcher(self.strata, enriched=_ENRICHED, completion=_completion(kb))
            if self.backend == "fast"
            else None
        )

    @classmethod
    def from_path(
        cls,
        kb_dir: str | Path | None = None,
        *,
        backend: str | None = None,
        firing_limit: int = DEFAULT_FIRING_LIMIT,
    ) -> Engine:
        """Load, validate and compile a KB folder (default: the shipped KB).

        Parameters
        ----------
        kb_dir : str or Path, optional
            The KB folder (holding ``ontology/`` and ``rules/``); the shipped KB
            when omitted.
        backend : str, optional
            As for :class:`Engine`.
        firing_limit : int
            As for :class:`Engine`.

        Returns
        -------
        Engine
            An engine for the loaded KB.

        Raises
        ------
        KnowledgeBaseError
            If the KB is invalid (every problem with its place), or ``kb_dir`` is
            omitted and the shipped KB is not installed.
        UsageError
            If ``backend`` is unknown or ``firing_limit`` is below 1.
        EvaluationError
            If ``backend`` is ``"durable"`` and durable_rules cannot be imported.
        """
        return cls(load_kb(kb_dir), backend=backend, firing_limit=firing_limit)

    @property
    def rules(self) -> list[Any]:
        """The KB's rules, in file order then rule order (a new list each time)."""
        return list(self.kb.rules)

    def parse(self, profile: Mapping[str, Any] | Profile, source: str = "") -> Profile:
        """Validate a profile against this engine's KB, as :func:`.parse_profile` does.

        Parameters
        ----------
        profile, source
            As ``data`` and ``source`` of ``parse_profile``.

        Returns
        -------
        Profile
            The profile, its ids checked against :attr:`kb`.

        Raises
        ------
        ProfileError
            If the profile is invalid (every problem named by its field path).
        """
        return parse_profile(profile, self.kb, source)

    def evaluate(self, profile: Mapping[str, Any] | Profile) -> Result:
        """Diagnose one profile and plan its route.

        The pipeline: parse -> normalise -> facts -> infer -> resolve -> route
        -> Result.

        Parameters
        ----------
        profile : Mapping or Profile
            The profile: a mapping as read from YAML/JSON, or a validated Profile.

        Returns
        -------
        Result
            Deficits, needs, custom facts, the trace, the normalised scores, the
            resolver's recommendations and unmet needs, and the scheduled route.

        Raises
        ------
        ProfileError
            If the profile is invalid (every problem named by its field path).
        FiringLimitError
            If the rules fire more often than ``firing_limit``.
        EvaluationError
            If the durable backend refuses a fact.
        """
        # validated as the batch does: a row's results checked and normalised as they are,
        # never made into models (validation's larger half); the profile without them
        # serves resolve and route, which never read them (nor its fields set)
        kb = self.kb
        prof, results = parsed_apart_or_whole(profile, kb, fields_set_kept=False)
        norm = normalise(prof, kb) if results is None else normalise_apart(prof, results, kb)
        diagnosis = self._diagnosis(prof, norm)
        resolution = resolve(kb, prof, diagnosis.needs, severities=diagnosis.severities)
        return planned(kb, prof, diagnosis, resolution)

    def diagnose(self, profile: Mapping[str, Any] | Profile) -> tuple[Profile, Result]:
        """Diagnose one profile, without resolving its needs or planning a route.

        The first half of :meth:`evaluate`: a cohort plan diagnoses everyone
        first, then shares out the catalogue (:meth:`plan_cohort`).

        Parameters
        ----------
        profile : Mapping or Profile
            As for :meth:`evaluate`.

        Returns
        -------
        tuple of (Profile, Result)
            The validated profile, and a Result with deficits, needs, custom
            facts, the trace and the scores (no recommendations, no route).

        Raises
        ------
        ProfileError
            If the profile is invalid (every problem named by its field path).
        FiringLimitError
            If the rules fire more often than ``firing_limit``.
        EvaluationError
            If the durable backend refuses a fact.
        """
        prof = self.parse(profile)
        return prof, self._diagnosis(prof, normalise(prof, self.kb))

    def _diagnosis(self, profile: Profile, norm: Normalised) -> Result:
        """The diagnosis of a normalised profile: its base facts, the rules' firings on
        them, and the Result of what they asserted."""
        trace = self._infer(norm, base_facts(norm, self.kb))
        return self._result(profile, trace, norm)

    @functools.cached_property
    def columnar(self) -> ColumnarRules:
        """The rule set compiled for whole cohorts (built on first use, once per engine)."""
        onto = self.kb.ontology
        groups = {comp: onto.group_of(comp) for comp in onto.competencies}
        return ColumnarRules(self.strata, field_kinds(self.kb.rules), groups)

    def diagnose_many(
        self,
        profiles: Iterable[Mapping[str, Any] | Profile],
        *,
        trace: bool = False,
        start: int = 0,
        slim: bool = False,
    ) -> list[Diagnosed]:
        """Diagnose a cohort at once on the columnar path (docs/rules.md, "Columnar path").

        The rules run over the whole cohort's facts as numpy columns; a profile the
        columnar path cannot decide (an uncompilable rule could fire on it, the order
        of its firings matters, or it nears the firing limit) is diagnosed by this
        engine's own backend. Deficits, needs and custom facts equal :meth:`diagnose`'s.

        Parameters
        ----------
        profiles : iterable of Mapping or Profile
            The cohort (held in memory while it is diagnosed).
        trace : bool
            Produce each person's trace too: every profile is then diagnosed by the
            per-profile engine. Without it the Results' traces are empty.
        start : int
            The position of the first profile in its input, to label unnamed rows.
        slim : bool
            Give each validated profile back without its results (``results`` empty;
            a batch that keeps them so): its results are then never made into
            models when their shape is the common one (:func:`.parse_profile_apart`).

        Returns
        -------
        list of Diagnosed
            One (Profile or None, Result) per profile, in order, as the ``"diagnose"``
            stage of :func:`evaluate_many` gives them (``slim``: the Profiles without
            their results).
        """
        items = list(profiles)
        if trace:
            made = [_diagnose_safely(self, p, start + i) for i, p in enumerate(items)]
            return _slimmed(made) if slim else made
        # The profiles, the cohort's facts, the derived ones and the Results are
        # millions of small containers and make no cycles: collections triggered while
        # they are made would walk them all, again and again (gcpause).
        with paused_gc():
            made = self._diagnosed_columnar(items, start, slim)
            return _slimmed(made) if slim else made

    def _diagnosed_columnar(self, items: list[Any], start: int, slim: bool) -> list[Diagnosed]:
        """:meth:`diagnose_many` without a trace: the columnar path, and this engine's
        backend for what it cannot decide.

        Each profile is validated alone (``slim``: apart from its results, see
        :func:`.parse_profile_apart`); then each run of :data:`COLUMNAR_RUN` is
        normalised at once (:func:`.normalise_many`) and its base facts made as
        tables straight from the scores (:meth:`_chunk_columns`), no dict per fact.
        """
        out: list[Diagnosed | None] = [None] * len(items)
        ready: list[_Ready] = []
        parse = self._parse_apart if slim else self._parse_whole
        for i, profile in enumerate(items):
            got = _attempt(parse, profile, start + i)
            items[i] = None  # the input let go once validated (this list is the caller's copy)
            if isinstance(got, Result):
                out[i] = (None, got)
            else:
                ready.append((i, *got))
        for at in range(0, len(ready), COLUMNAR_RUN):
            # in chunks: past a few thousand profiles a run costs more per profile
            # (benchmarks/columnar.py --chunk), and profiles never affect each other
            part = ready[at : at + COLUMNAR_RUN]
            for i, item in self._chunk_diagnosed(part, start, slim):
                out[i] = item
        return [item for item in out if item is not None]

    def _parse_whole(self, profile: Any) -> tuple[Profile, None]:
        """A profile validated with its results (:meth:`parse`)."""
        return self.parse(profile), None

    def _parse_apart(self, profile: Any) -> tuple[Profile, Sequence[Any]]:
        """A profile validated apart from its results (:func:`.parse_profile_apart`)."""
        return parse_profile_apart(profile, self.kb)

    def _chunk_diagnosed(
        self, part: list[_Ready], start: int, slim: bool
    ) -> list[tuple[int, Diagnosed]]:
        """The diagnoses of one columnar run of validated profiles (their places in the
        input, and their results when validated apart), each profile the columnar path
        leaves given to this engine's backend whole."""
        profiles = [prof for _i, prof, _results in part]
        try:
            results = (
                [prof.results if own is None else own for _i, prof, own in part] if slim else None
            )
            chunk = normalise_many(profiles, self.kb, results)
            base = self._chunk_columns(profiles, chunk)
        except Exception:  # what one profile's normalising raises: each alone, as before
            return self._prepared_diagnosed(part, start)
        made = self._columnar_run(
            base, profiles, list(zip(chunk.scores, chunk.provenance, strict=True))
        )
        return [
            (i, self._left_diagnosed(prof, own, start + i) if result is None else (prof, result))
            for (i, prof, own), result in zip(part, made, strict=True)
        ]

    def _left_diagnosed(
        self, prof: Profile, results: Sequence[Any] | None, index: int
    ) -> Diagnosed:
        """A profile the columnar path leaves, diagnosed by this engine's backend whole."""
        whole = prof if results is None else whole_profile(prof, results)
        return _diagnose_safely(self, whole, index)

    def _prepared_diagnosed(self, part: list[_Ready], start: int) -> list[tuple[int, Diagnosed]]:
        """:meth:`_chunk_diagnosed` a profile at a time: normalised and its base facts
        made alone (a profile that fails there gets its error Result)."""
        out: list[tuple[int, Diagnosed]] = []
        ready: list[tuple[int, Profile, Normalised, list[Fact]]] = []
        for i, prof, own in part:
            whole = prof if own is None else whole_profile(prof, own)
            got = _attempt(self._prepare, whole, start + i)
            if isinstance(got, Result):
                out.append((i, (None, got)))
            else:
                ready.append((i, *got))
        made = self._columnar_results(ready, [facts for *_rest, facts in ready])
        for (i, prof, _norm, _facts), result in zip(ready, made, strict=True):
            out.append(
                (i, _diagnose_safely(self, prof, start + i) if result is None else (prof, result))
            )
        return sorted(out, key=_sort_key)

    def _columnar_results(
        self, ready: list[tuple[int, Profile, Normalised, list[Fact]]], cohort: list[list[Fact]]
    ) -> list[Result | None]:
        """The Results of one columnar run, None for a profile left to this engine's
        backend (every one, if the run failed)."""
        try:
            base = self.columnar.base_columns(cohort)
        except Exception:  # a batch never stops on its columnar path: the reference decides
            return [None] * len(ready)
        return self._columnar_run(
            base,
            [prof for _i, prof, _norm, _facts in ready],
            [(norm.scores, norm.provenance) for _i, _prof, norm, _facts in ready],
        )

    def _columnar_run(
        self,
        base: BaseColumns,
        profiles: list[Profile],
        read: list[tuple[Scores, tuple[Provenance, ...] | PlainProvenance]],
    ) -> list[Result | None]:
        """The Results of one columnar run over ``base``, the profiles' own tables, with
        what each profile's normalising read (None: left to this engine's backend)."""
        try:
            outcome = self.columnar.derive_columns(base, self.firing_limit)
        except Exception:  # a batch never stops on its columnar path: the reference decides
            return [None] * len(profiles)
        parts = _Parts.of(self.kb, outcome)
        decided = outcome.decided.tolist()
        return [
            self._parts_result(prof, scores, provenance, parts, k) if decided[k] else None
            for k, (prof, (scores, provenance)) in enumerate(zip(profiles, read, strict=True))
        ]

    def _result_of_parts(self, prof: Profile, norm: Normalised, parts: _Parts, k: int) -> Result:
        """The Result of the ``k``-th profile of a columnar run from its parts, made
        once for the run (:class:`_Parts`)."""
        return self._parts_result(prof, norm.scores, norm.provenance, parts, k)

    def _parts_result(
        self,
        prof: Profile,
        scores: Scores,
        provenance: tuple[Provenance, ...] | PlainProvenance,
        parts: _Parts,
        k: int,
    ) -> Result:
        """:meth:`_result_of_parts` of what the profile's normalising read."""
        return self._made(
            prof,
            scores,
            provenance,
            parts.deficits[k],
            parts.needs[k],
            [dict(fact) for fact in parts.custom[k]],  # a Result's own dicts
        )

    def _chunk_columns(self, profiles: list[Profile], chunk: NormalisedChunk) -> BaseColumns:
        """The base facts of a normalised chunk as the rules' tables: what
        ``columnar.base_columns`` makes of each profile's :func:`base_facts`, made from
        the chunk's rows without a dict per fact."""
        group_of = self.kb.ontology.group_of
        parent = self.kb.ontology.indicator_parent
        people = [prof.person for prof in profiles]
        n = len(profiles)
        person: dict[str, tuple[list[Any], bool]] = {
            "type": (["person"] * n, False),
            "role": ([p.role for p in people], False),
            "experience_years": ([float(round(p.experience_years, 4)) for p in people], False),
            "subjects": ([list(p.subjects) for p in people], False),
            "category": ([p.category for p in people], True),
            "organization": ([p.organization for p in people], True),
            "municipality": ([p.municipality for p in people], True),
        }
        comps = chunk.competencies
        results = {
            "type": (["result"] * len(comps.pid), False),
            "competency": (comps.target, False),
            "group": ([group_of(c) for c in comps.target], False),
            **_scored(comps),
        }
        inds = chunk.indicators
        indicator_parent = [parent[i] for i in inds.target]
        indicators = {
            "type": (["indicator_result"] * len(inds.pid), False),
            "indicator": (inds.target, False),
            "competency": (indicator_parent, False),
            "group": ([group_of(c) for c in indicator_parent], False),
            **_scored(inds),
        }
        groups = chunk.groups
        group_rows = {
            "type": (["group_result"] * len(groups.pid), False),
            "group": (groups.target, False),
            **_scored(groups),
        }
        asked = [
            (k, comp) for k, prof in enumerate(profiles) for comp in dict.fromkeys(prof.requests)
        ]
        requests = {
            "type": (["request"] * len(asked), False),
            "competency": ([comp for _k, comp in asked], False),
            "group": ([group_of(comp) for _k, comp in asked], False),
        }
        return self.columnar.base_columns_of(
            n,
            {
                "person": (range(n), _values(person)),
                "result": (comps.pid, _values(results)),
                "indicator_result": (inds.pid, _values(indicators)),
                "group_result": (groups.pid, _values(group_rows)),
                "request": ([k for k, _comp in asked], _values(requests)),
            },
        )

    def _prepare(
        self, profile: Mapping[str, Any] | Profile
    ) -> tuple[Profile, Normalised, list[Fact]]:
        """A profile validated and normalised, with its base facts."""
        prof = self.parse(profile)
        norm = normalise(prof, self.kb)
        return prof, norm, base_facts(norm, self.kb)

    def plan_cohort(
        self,
        profiles: Iterable[Mapping[str, Any] | Profile],
        workers: int | None = None,
        *,
        backend: str = "fast",
        chunk_size: int = 64,
    ) -> Cohort:
        """Diagnose a cohort, share out mentors and programme places across it, plan routes.

        Diagnosis stays per person (in ``workers`` processes); the resolution
        of needs into catalogue items is cohort-wide: each mentor's
        ``capacity``, each programme's seats and groups and the minimum
        in-person group count across everyone (docs/route.md, "Cohort plans").
        The same profiles give the same plan for any ``workers``.

        Parameters
        ----------
        profiles : iterable of Mapping or Profile
            The cohort (held in memory: a plan needs everyone at once).
        workers : int, optional
            Processes that diagnose (default: one per core).
        backend : str
            The workers' backend, as for :meth:`evaluate_many`.
        chunk_size : int
            As for :meth:`evaluate_many`.

        Returns
        -------
        Cohort
            ``results`` (one per profile, in input order: error Results for
            the invalid) and ``plan`` (the CohortPlan: school profiles, team
            support, loads and figures).

        Raises
        ------
        UsageError
            If ``workers`` or ``chunk_size`` is below 1 or ``backend`` is unknown.
        EvaluationError
            If the flow solver fails.
        """
        diagnosed = list(
            evaluate_many(
                self, profiles, workers, backend=backend, chunk_size=chunk_size, stage="diagnose"
            )
        )
        return plan_diagnosed(self.kb, diagnosed)

    def _infer(self, norm: Normalised, facts: list[Fact]) -> list[TraceRow]:
        """Run the rules on the profile's facts; the trace of firings, as the rows the
        run recorded (``run(..., rows=True)``: a Result makes TraceEntries of them only
        when its trace is read)."""
        enrich = self._enricher(norm)
        if self._durable is not None:
            with self._lock:
                _store, trace = run(
                    self.strata, facts, self._durable, enrich, self.firing_limit, rows=True
                )
        else:
            # the run's table of the deficits' completion: the enricher's scores
            matcher = (
                self._fast.fresh(norm.competency_pct) if self._fast else PythonMatcher(self.strata)
            )
            # base_facts makes each fact once (see FactStore.add_distinct)
            _store, trace = run(
                self.strata, facts, matcher, enrich, self.firing_limit, distinct=True, rows=True
            )
        return trace

    def evaluate_many(
        self,
        profiles: Iterable[Mapping[str, Any] | Profile],
        workers: int | None = None,
        *,
        backend: str = "fast",
        chunk_size: int = 64,
    ) -> Iterator[Result]:
        """Evaluate a cohort, yielding Results in input order.

        A profile that fails validation (or whose evaluation fails, with any
        exception: a RecursionError or MemoryError of its own included) yields a
        Result whose ``errors`` name its problems, and the run goes on.

        Parameters
        ----------
        profiles : iterable of Mapping or Profile
            Any iterable, a generator too large for memory included: at most a
            few chunks per worker are in flight at once.
        workers : int, optional
            How many processes evaluate (default: one per core; at most
            :func:`max_workers`, four per core); 1 evaluates in this process. A
            worker that dies (killed, out of memory) does not end the run: the
            chunks it took down are run again once, each alone, and a chunk that
            kills its worker again has its profiles set aside with the reason.
        backend : str
            The backend of the workers' engines, each on the same KB (default
            ``"fast"``, the compiled matcher, whose Results equal the durable
            backend's).
        chunk_size : int
            How many profiles a worker is sent at once.

        Returns
        -------
        Iterator of Result
            One Result per profile, in input order (``Result.failed`` for a
            profile that could not be evaluated).

        Raises
        ------
        UsageError
            If ``workers`` or ``chunk_size`` is below 1 or ``backend`` is
            unknown (raised when iteration starts).
        """
        return evaluate_many(self, profiles, workers, backend=backend, chunk_size=chunk_size)

    def evaluate_dask(
        self,
        profiles: Iterable[Mapping[str, Any] | Profile],
        scheduler: Any,
        *,
        backend: str = "fast",
        chunk_size: int = 64,
        columnar: bool = False,
    ) -> Cohort:
        """Diagnose, plan and route a cohort on a ``dask.distributed`` cluster.

        The pipeline of ``batch --scheduler`` and of :meth:`plan_cohort`: the
        cluster's workers diagnose the cohort chunk by chunk, the plan is made once
        here on the gathered diagnoses (the allocation needs everyone), then the
        workers build the routes from each person's share. The Results and the plan
        are those :meth:`plan_cohort` gives, byte for byte in their JSON. Each
        worker loads the KB from this engine's KB folder (the same path on every
        machine) once. A cohort file, read and written by the workers themselves,
        is ``run_batch(..., output_format=..., scheduler=...)`` (docs/parts.md).

        Parameters
        ----------
        profiles : iterable of Mapping or Profile
            The cohort; sent to the workers chunk by chunk, a bounded number at once.
        scheduler : str or distributed.Client
            The scheduler's address (``tcp://HOST:8786``), or a connected Client.
        backend : str
            The workers' backend (default ``"fast"``).
        chunk_size : int
            Profiles per task.
        columnar : bool
            Diagnose each chunk at once (:meth:`diagnose_many`): the same Results
            without traces.

        Returns
        -------
        Cohort
            The planned Results in input order (error Results for profiles that
            could not be evaluated), and the plan.

        Raises
        ------
        UsageError
            If ``chunk_size`` is below 1, ``backend`` is unknown, dask.distributed
            is not installed, the scheduler cannot be reached, or a worker cannot
            load the KB folder or runs another version (:func:`check_cluster`).
        EvaluationError
            If the flow solver fails.
        """
        _check_run(1, chunk_size, backend)
        ref = engine_ref(self, backend)
        stage = "columnar" if columnar else "diagnose"
        with dask_client(scheduler) as client:
            check_cluster(client, self, ref)

            def submit(task: Callable[..., Any], args: tuple[Any, ...]) -> Any:
                return client.submit(task, ref, *args, pure=False)

            calls = (
                (diagnose_task, (stage, n, chunk)) for n, chunk in _chunks(profiles, chunk_size)
            )
            diagnosed = [d for chunk in in_order(submit, calls, DASK_WINDOW) for d in chunk]
            plan = _plan(self.kb, diagnosed)
            items = [(p, r, res) for (p, r), res in zip(diagnosed, plan.resolutions, strict=True)]
            routes = (
                (route_task, (items[n : n + chunk_size],)) for n in range(0, len(items), chunk_size)
            )
            results = tuple(r for chunk in in_order(submit, routes, DASK_WINDOW) for r in chunk)
        return Cohort(results, plan)

    def _enricher(self, norm: Normalised) -> Any:
        """The run's enricher: it completes a ``deficit`` fact (group, score) and leaves
        any other as it is (``_ENRICHED``, which the fast matcher relies on). What it does
        to a deficit of a known competency with a score is declared to the fast matcher
        too (``_completion``, with ``norm.competency_pct`` as the run's table), which
        completes those inline: change both together (tests/test_generated_firing.py
        holds them to each other)."""
        groups = self.kb.ontology.competency_group
        scores = norm.competency_pct

        def enrich(fact: Fact) -> Fact:
            if fact["type"] != "deficit":
                return fact
            comp = fact.get("competency")
            out: Fact = {"type": "deficit", "competency": comp}
            if not isinstance(comp, str):
                out["severity"] = fact.get("severity")
                return out
            # every competency has a group (a str) and every score is a float: None is
            # a competency the ontology does not know, or one the profile has no score of
            group = groups.get(comp)
            if group is not None:
                out["group"] = group
            out["severity"] = fact.get("severity")
            score = scores.get(comp)
            if score is not None:
                out["score_pct"] = score
            return out

        return enrich

    def _result(self, profile: Profile, trace: list[TraceRow], norm: Normalised) -> Result:
        # Derived facts, in the order they were added to the store, are the trace
        # rows' new facts; each is new in exactly one row, whose rule made it. The
        # Result keeps the rows (TraceRows), made into TraceEntries when read
        rows = TraceRows(trace)
        return self._result_of_entries(profile, rows, norm, rows, self._needs_by_values)

    def _result_of(
        self,
        profile: Profile,
        derived: Iterable[tuple[str, Fact]],
        norm: Normalised,
        trace: tuple[TraceEntry, ...] = (),
    ) -> Result:
        """The Result of the derived facts, each with the rule that asserted it first."""
        rows: list[TraceRow] = [(rule, (), (fact,)) for rule, fact in derived]
        return self._result_of_entries(profile, rows, norm, trace)

    def _result_of_entries(
        self,
        profile: Profile,
        entries: Iterable[TraceRow],
        norm: Normalised,
        trace: tuple[TraceEntry, ...] | TraceRows,
        by_values: dict[tuple[Any, ...], _KeyedNeed] | None = None,
    ) -> Result:
        """The Result of the facts the trace's rows asserted, each with its row's rule
        (read row by row: a list of (rule, fact) pairs made first cost more); ``trace``,
        the Result's (TraceRows, or TraceEntries).
        ``by_values``: this engine's kept needs by the rule and the values alone
        (:meth:`_need_by_values`), for entries of its own run; None looks each need up
        by its rule, field names and values (:data:`_NEEDS`)."""
        rank = _SEVERITY_RANK.get
        unknown = len(_SEVERITY_RANK)
        kept_needs = _NEEDS.get
        kept_by_values = by_values.get if by_values is not None else None
        best: dict[str, tuple[int, Fact, str]] = {}
        needs: list[_KeyedNeed] = []
        custom: list[Fact] = []
        for rule, _matched, asserted in entries:
            for fact in asserted:
                ftype = fact["type"]
                if ftype == "need":
                    # the kept need found here (a call per need cost more)
                    if kept_by_values is not None:
                        try:
                            keyed = kept_by_values((rule, *fact.values()))
                        except TypeError:  # a list among its fields
                            keyed = None
                        needs.append(keyed or self._need_by_values(rule, fact))
                        continue
                    try:
                        keyed = kept_needs((rule, *fact, *fact.values()))
                    except TypeError:  # a list among its fields
                        keyed = None
                    needs.append(keyed or _cached_need(rule, fact))
                elif ftype == "deficit":
                    comp = str(fact["competency"])
                    r = rank(str(fact.get("severity")), unknown)
                    found = best.get(comp)
                    if found is None or r < found[0]:
                        best[comp] = (r, fact, rule)
                elif ftype not in _BASE_TYPES:
                    custom.append(fact)
        needs.sort(key=_sort_key)  # stable: equal keys keep the order they were asserted in
        if len(custom) > 1:  # a sort works out every key, a lone fact's too (its JSON)
            custom.sort(key=fact_sort_key)
        return self._made(
            profile,
            norm.scores,
            # as the Normalised holds it: the one pass's runs stay runs until read
            norm.__dict__["provenance"],
            self._sorted_deficits(best),
            [need for _key, need in needs],
            custom,
            trace,
        )

    def _need_by_values(self, rule: str, fact: Fact) -> _KeyedNeed:
        """:func:`_cached_need`, also kept by the rule and the values alone (the key one
        third shorter: cheaper to make, hash and read) when the fact's field names are
        the only ones a need fact of its rule and length can have here
        (:func:`_need_names`) and every value is a ``str`` (as :data:`_NEEDS`).

        A fact found so is one of the rule's, made by its actions in this process (the
        fast or python backend: each fact has an action's field names in order, an
        optional field left out when its bound fact lacks it), of the same length, so
        of those same names: it equals the fact kept, name for name and value for
        value, and has its Need."""
        keyed = _cached_need(rule, fact)
        table = self._needs_by_values
        if (
            table is not None
            and self._need_names.get((rule, len(fact))) == tuple(fact)
            and _STR.issuperset(map(type, fact.values()))
        ):
            if len(table) > _NEEDS_KEPT:
                table.clear()
            key = (rule, *fact.values())
            table[key] = keyed
        return keyed

    def _sorted_deficits(self, best: dict[str, tuple[int, Fact, str]]) -> list[Deficit]:
        """The Deficits of each competency's most severe fact (by competency: its
        severity's rank, the fact, its rule), as :func:`_deficit_key` sorts them: most
        severe first (an unknown severity's rank, any above the known ones, sorts as
        99 does), then in ontology order, then by id.

        Each competency the ontology knows has its own place, so (rank, place) is one
        int, ``rank * span + place``, unique among a Result's deficits: ints sort at a
        fraction of the tuples' cost. A competency it does not know (no place) has the
        rows sorted as tuples instead (:meth:`_sorted_deficits_unplaced`)."""
        place = self._places.get
        span = self._span
        rows: dict[int, tuple[str, str, Fact]] = {}
        for comp, (r, fact, rule) in best.items():
            p = place(comp)
            if p is None:
                return self._sorted_deficits_unplaced(best)
            rows[r * span + p] = (comp, rule, fact)
        made = []
        # Deficit.of inline (a call each cost more), each field set in the instance's
        # own dict in the class's order (no dict of five made and set as it: a quarter
        # less, and the instance's dict shares its keys with the class's others)
        for key in sorted(rows):
            comp, rule, fact = rows[key]
            one = _new(Deficit)
            own = one.__dict__
            own["competency"] = comp
            own["group"] = fact.get("group")
            own["severity"] = str(fact.get("severity"))
            own["score_pct"] = fact.get("score_pct")
            own["rule"] = rule
            made.append(one)
        return made

    def _sorted_deficits_unplaced(self, best: dict[str, tuple[int, Fact, str]]) -> list[Deficit]:
        """:meth:`_sorted_deficits` where a competency has no place: the rows sorted as
        (rank, place, competency) tuples (a competency is in ``best`` once, so the rows'
        order is decided before their rule or fact)."""
        place = self._places.get
        rows = sorted(
            [
                (r, place(comp, _UNPLACED), comp, rule, fact)
                for comp, (r, fact, rule) in best.items()
            ]
        )
        # _deficit's Deficit, its competency the key it is kept by
        of = Deficit.of
        return [
            of(comp, fact.get("group"), str(fact.get("severity")), fact.get("score_pct"), rule)
            for _r, _p, comp, rule, fact in rows
        ]

    def _made(
        self,
        profile: Profile,
        scores: Scores,
        provenance: tuple[Provenance, ...] | PlainProvenance,
        deficits: list[Deficit],
        needs: list[Need],
        custom: list[Fact],
        trace: tuple[TraceEntry, ...] | TraceRows = (),
    ) -> Result:
        """A diagnosis's Result of its sorted parts (every field in the class's order,
        without the frozen dataclass's ``__init__``: thirteen ``object.__setattr__``)."""
        kb = self.kb
        made = _new(Result)
        _set_attr(
            made,
            "__dict__",
            {
                "profile": profile.id,
                "deficits": tuple(deficits),
                "needs": tuple(needs),
                "facts": tuple(custom),
                "trace": trace,
                "recommendations": (),
                "unmet": (),
                "route": None,
                "errors": (),
                "scores": scores,
                # where each score came from, and which KB read it: for audit
                # (docs/provenance.md)
                "provenance": provenance,
                "kb_hash": kb.content_hash,
                "kb_version": kb.version,
            },
        )
        return made


#: The fields a ``result`` or ``indicator_result`` fact carries from its provenance.
_ORIGIN_FIELDS = ("instrument", "source", "date")


def _scored(rows: ScoreRows) -> dict[str, tuple[list[Any], bool]]:
    """The score fields of a chunk's rows as columns (see :meth:`Engine._chunk_columns`),
    with where each score came from when any row knows it."""
    columns: dict[str, tuple[list[Any], bool]] = {
        "score_pct": (rows.pct, False),
        "level": (rows.level, False),
    }
    if rows.origin is not None:
        for name in _ORIGIN_FIELDS:
            columns[name] = ([origin.get(name) for origin in rows.origin], True)
    return columns


def _values(columns: dict[str, tuple[list[Any], bool]]) -> Callable[[str, str], list[Any] | None]:
    """A type's columns as :meth:`ColumnarRules.base_columns_of` reads them: per field
    its values, each as a fact dict's ``get`` would give it to a column of that kind (a
    column marked optional holds None where the fact has no such field)."""

    def values(name: str, kind: str) -> list[Any] | None:
        found = columns.get(name)
        if found is None:
            return None
        raw, optional = found
        if not optional or kind == STR:
            return raw
        absent = np.nan if kind == NUM else ABSENT
        return [absent if value is None else value for value in raw]

    return values


def _deficit(rule: str, fact: Fact) -> Deficit:
    """The Deficit a ``deficit`` fact asserted first by ``rule`` is."""
    comp, severity = str(fact["competency"]), str(fact.get("severity"))
    return Deficit.of(comp, fact.get("group"), severity, fact.get("score_pct"), rule)


def _deficit_key(kb: KnowledgeBase) -> Callable[[str, str], tuple[int, int, str]]:
    """A Result's deficits' sort key, of a deficit's competency and severity: most
    severe first, then in ontology order (a competency it does not know last), then id."""
    onto = kb.ontology
    order, competencies = onto.order_key, onto.competencies

    def key(competency: str, severity: str) -> tuple[int, int, str]:
        place = order(competency) if competency in competencies else 10**6
        return (_SEVERITY_RANK.get(severity, 99), place, competency)

    return key


def _need_names(strata: Sequence[Sequence[SubRule]]) -> dict[tuple[str, int], tuple[str, ...]]:
    """The field names of the need facts each rule's actions can make, by the rule and
    the fact's length, for the (rule, length) pairs that allow one list of names alone.

    An action makes ``type`` then its fields in order; a field whose value is read
    (not a literal) and that is not required is left out when the bound fact lacks it
    (``compiler.templates``, the driver's ``_build`` and the generated builders alike),
    so an action can make a fact of each subset of those fields. An action with more
    than eight such fields is not worked out: its rule is left out (looked up by its
    names as well)."""
    allowed: dict[tuple[str, int], set[tuple[str, ...]]] = {}
    unsure: set[str] = set()
    for subs in strata:
        for sub in subs:
            rule = sub.rule.id
            for ftype, fields in sub.actions:
                if ftype != "need":
                    continue
                optional = [n for n, mode, _p, req in fields if mode != LITERAL and not req]
                if len(optional) > 8:
                    unsure.add(rule)
                    continue
                names = [n for n, *_rest in fields]
                for mask in range(1 << len(optional)):
                    left_out = {n for i, n in enumerate(optional) if mask >> i & 1}
                    kept = ("type", *[n for n in names if n not in left_out])
                    allowed.setdefault((rule, len(kept)), set()).add(kept)
    return {
        key: next(iter(names))
        for key, names in allowed.items()
        if len(names) == 1 and key[0] not in unsure
    }


def _cached_need(rule: str, fact: Fact) -> _KeyedNeed:
    """:func:`_keyed_need`, kept in :data:`_NEEDS` when every value is a ``str``.

    The key is the rule, the field names and the values, in one flat tuple (its
    length tells where the names end): cheaper to make and hash than the items as
    pairs or the names as a tuple of their own, and one object to read when found.
    Only a fact that is not found has its values' types checked: a fact found has
    values equal to a kept fact's, which are all ``str``, and among the values a fact
    holds (str, numbers, bools, None, lists) only a ``str`` equals a ``str``."""
    key = (rule, *fact, *fact.values())
    try:
        keyed = _NEEDS.get(key)
    except TypeError:  # a list among its fields: made afresh
        return _keyed_need(rule, fact)
    if keyed is None:
        if not _STR.issuperset(map(type, fact.values())):
            return _keyed_need(rule, fact)  # a number among its fields: made afresh
        if len(_NEEDS) > _NEEDS_KEPT:
            _NEEDS.clear()
        keyed = _NEEDS[key] = _keyed_need(rule, fact)
    return keyed


@dataclass(frozen=True)
class _Parts:
    """A columnar run's Results in parts, per profile: its deficits, needs and custom
    facts, each sorted as :meth:`Engine._result_of` sorts them.

    Whatever does not depend on the person (a need's Need and sort key, a deficit's
    competency, group, severity and rule, a custom fact's sort key) is made once per
    distinct fact of the run (:meth:`DerivedColumns.gather`); per profile only rows
    are gathered and sorted by integer keys (:func:`by_profile`).
    """

    deficits: list[list[Deficit]]
    needs: list[list[Need]]
    custom: list[list[Fact]]

    @classmethod
    def of(cls, kb: KnowledgeBase, outcome: DerivedColumns) -> _Parts:
        """The parts of every profile of a run (decided or not)."""
        custom_types = {b.type for b in outcome.blocks} - {"deficit", "need"} - _BASE_TYPES
        return cls(
            _deficits_by_profile(kb, outcome),
            _needs_by_profile(outcome),
            _custom_by_profile(outcome, custom_types),
        )


def _needs_by_profile(outcome: DerivedColumns) -> list[list[Need]]:
    """Per profile its needs, by their sort key, equal keys in assertion order."""
    rows = outcome.gather(("need",))
    keyed = [_cached_need(rule, fact) for rule, fact in rows.facts]
    key = ranks([k for k, _need in keyed])
    needs = _object_array([need for _k, need in keyed])
    return by_profile(outcome.n, rows.pid, key[rows.which], needs[rows.which])


def _custom_by_profile(outcome: DerivedColumns, types: set[str]) -> list[list[Fact]]:
    """Per profile its custom facts, by ``fact_sort_key`` (shared dicts: copy them)."""
    rows = outcome.gather(types)
    key = ranks([fact_sort_key(fact) for _rule, fact in rows.facts])
    facts = _object_array([fact for _rule, fact in rows.facts])
    return by_profile(outcome.n, rows.pid, key[rows.which], facts[rows.which])


def _deficits_by_profile(kb: KnowledgeBase, outcome: DerivedColumns) -> list[list[Deficit]]:
    """Per profile its deficits: of each competency's the first most severe (as
    :meth:`Engine._result_of` keeps them), most severe first, then in ontology order.

    Read from the deficit blocks' columns (:func:`_deficit_columns`) when their fields
    are of the kinds the rules give them (every row a competency): only the deficits
    kept are made. Otherwise from the gathered facts (:func:`_deficits_gathered`).
    """
    rows = _deficit_columns(outcome)
    if rows is None:
        return _deficits_gathered(kb, outcome)
    pid, comp, severity, group, score, block = rows
    names = outcome.strings
    absent = len(names)
    # a row's (competency, severity): what groups and sorts it, a few hundred pairs
    pairs, pair = np.unique(comp * (absent + 1) + severity, return_inverse=True)
    severity_names = [*names, "None"]  # str(fact.get("severity")) of a fact without one
    pair_names = [
        (names[p // (absent + 1)], severity_names[p % (absent + 1)]) for p in pairs.tolist()
    ]
    key = _deficit_key(kb)
    place = ranks([key(c, s) for c, s in pair_names])[pair]
    unknown = len(_SEVERITY_RANK)
    rank = np.array([_SEVERITY_RANK.get(s, unknown) for _c, s in pair_names], np.int64)
    # the first of the most severe of each (profile, competency): lexsort is stable
    order = np.lexsort((rank[pair], comp, pid))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (np.diff(pid[order]) != 0) | (np.diff(comp[order]) != 0)
    kept = order[first]
    # then each profile's by its key (one competency each: no two keys equal)
    kept = kept[np.lexsort((place[kept], pid[kept]))]
    group_names = [*names, None]
    rules = [b.rule for b in outcome.blocks]
    of = Deficit.of
    made = [
        of(names[c], group_names[g], severity_names[s], v, rules[b])
        for c, g, s, v, b in zip(
            comp[kept].tolist(),
            group[kept].tolist(),
            severity[kept].tolist(),
            [score[k] for k in kept.tolist()],
            block[kept].tolist(),
            strict=True,
        )
    ]
    ends = np.cumsum(np.bincount(pid[kept], minlength=outcome.n)).tolist()
    return [made[start:end] for start, end in zip([0, *ends], ends, strict=False)]


#: The kinds of the fields a Deficit is made of (any other field a rule gives a
#: deficit is not read).
_DEFICIT_KINDS = {"competency": STR, "group": STR, "severity": STR, "score_pct": NUM}


_Ints = npt.NDArray[np.int64]
#: The deficit rows' columns (see :func:`_deficit_columns`).
_DeficitRows = tuple[_Ints, _Ints, _Ints, _Ints, list[Any], _Ints]


def _deficit_columns(outcome: DerivedColumns) -> _DeficitRows | None:
    """The deficit blocks' rows, block by block and row by row (the order the facts
    are listed in): each row's profile, competency, severity and group (string codes,
    ``len(outcome.strings)`` where the fact has none), score (a list: the values as
    a fact holds them, None where absent) and block. None when a field the Deficit
    reads is of another kind, or a row has no competency (the gathered facts decide
    what that gives)."""
    kinds = outcome.kinds.get("deficit", {})
    if any(kinds.get(name, kind) != kind for name, kind in _DEFICIT_KINDS.items()):
        return None
    absent = len(outcome.strings)
    pids, comps, severities, groups, blocks = [], [], [], [], []
    scores: list[Any] = []
    for at, block in enumerate(outcome.blocks):
        count = len(block.pid)
        if block.type != "deficit" or not count:
            continue
        columns = block.columns
        if "competency" not in columns or not columns["competency"].present.all():
            return None
        codes = [
            np.where(columns[name].present, columns[name].values, absent)
            if name in columns
            else np.full(count, absent, dtype=np.int64)
            for name in ("competency", "severity", "group")
        ]
        comps.append(codes[0])
        severities.append(codes[1])
        groups.append(codes[2])
        pids.append(block.pid)
        blocks.append(np.full(count, at, dtype=np.int64))
        if "score_pct" in columns:
            col = columns["score_pct"]
            values = col.values.tolist()
            if not col.present.all():
                given = zip(values, col.present.tolist(), strict=True)
                values = [v if p else None for v, p in given]
            scores += values
        else:
            scores += [None] * count
    if not pids:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty, scores, empty
    pid, comp, severity, group = (
        np.concatenate(part).astype(np.int64) for part in (pids, comps, severities, groups)
    )
    return pid, comp, severity, group, scores, np.concatenate(blocks)


def _deficits_gathered(kb: KnowledgeBase, outcome: DerivedColumns) -> list[list[Deficit]]:
    """:func:`_deficits_by_profile` from the gathered facts, a Deficit made per
    distinct fact: one serves every profile with the same deficit at the same score
    (as :data:`_NEEDS` serves needs).
    """
    rows = outcome.gather(("deficit",))
    deficits = [_deficit(rule, f) for rule, f in rows.facts]
    # what groups and sorts them is their competency and severity: a few hundred pairs
    pair, pairs = _codes([(d.competency, d.severity) for d in deficits])
    key = _deficit_key(kb)
    place = ranks([key(c, s) for c, s in pairs])[pair]
    unknown = len(_SEVERITY_RANK)
    severity = np.array([_SEVERITY_RANK.get(s, unknown) for _c, s in pairs], np.int64)
    comp = _codes([c for c, _s in pairs])[0][pair][rows.which]
    pid = rows.pid
    # the first of the most severe of each (profile, competency): lexsort is stable
    order = np.lexsort((severity[pair][rows.which], comp, pid))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (np.diff(pid[order]) != 0) | (np.diff(comp[order]) != 0)
    which = rows.which[order[first]]
    return by_profile(outcome.n, pid[order[first]], place[which], _object_array(deficits)[which])


def _codes(items: list[_T]) -> tuple[npt.NDArray[np.int64], list[_T]]:
    """Each item's code (equal items, equal codes) and the distinct items, in order of
    first sight (the code of each)."""
    seen: dict[_T, int] = {}
    codes = np.array([seen.setdefault(item, len(seen)) for item in items], dtype=np.int64)
    return codes, list(seen)


def _object_array(items: list[Any]) -> npt.NDArray[Any]:
    """Items as a one-dimensional object array (``np.array`` would look into tuples)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


# --- cohorts -------------------------------------------------------------------------

ProfileInput = Mapping[str, Any] | Profile


def _profile_label(profile: Any, index: int) -> str:
    ident = getattr(profile, "profile_id", "") if isinstance(profile, Exception) else ""
    if ident:
        return str(ident)  # a row the reader set aside, with its id
    if isinstance(profile, Profile):
        return profile.id
    if isinstance(profile, Mapping) and isinstance(profile.get("id"), str) and profile["id"]:
        return str(profile["id"])
    return f"#{index}"


def _failure(exc: BaseException) -> str:
    """An unexpected exception of one profile as its row's reason: the class and the
    message, one line (a deeply nested input's RecursionError, a huge integer's
    ValueError, a rule set exploding in memory)."""
    text = " ".join(str(exc).split()) or "no message"
    return f"evaluation failed: {type(exc).__name__}: {text[:500]}"


_R = TypeVar("_R")


def _attempt(step: Callable[[Any], _R], profile: Any, index: int) -> _R | Result:
    """``step(profile)``, or the error Result naming why it failed: a batch never stops
    on one profile.

    Any exception of the profile's own (not only SourceError and EvaluationError:
    a RecursionError, a MemoryError, a ValueError) becomes its error Result;
    only KeyboardInterrupt and SystemExit stop the run.
    """
    if isinstance(profile, Exception):  # an input row the reader could not make a profile of
        return Result.failed(_profile_label(profile, index), [str(profile)])
    try:
        return step(profile)
    except SourceError as exc:
        return Result.failed(_profile_label(profile, index), exc.lines())
    except EvaluationError as exc:
        return Result.failed(_profile_label(profile, index), [f"evaluation: {exc}"])
    except Exception as exc:  # one row's failure, whatever it is, sets it aside
        return Result.failed(_profile_label(profile, index), [_failure(exc)])


def _evaluate_safely(engine: Engine, profile: Any, index: int) -> Result:
    """A Result, or an error Result naming the reasons (see _attempt)."""
    return _attempt(engine.evaluate, profile, index)


#: What the "diagnose" stage yields per profile: the validated profile (None
#: when it could not be diagnosed) and its diagnosis or error Result.
Diagnosed = tuple[Profile | None, Result]


def _diagnose_safely(engine: Engine, profile: Any, index: int) -> Diagnosed:
    """(Profile, diagnosis), or (None, an error Result), as _evaluate_safely."""
    got = _attempt(engine.diagnose, profile, index)
    return (None, got) if isinstance(got, Result) else got


#: A validated profile of a columnar run: its place in the input, the profile, and
#: its results when it was validated apart from them (:func:`.parse_profile_apart`).
_Ready = tuple[int, Profile, Sequence[Any] | None]


def _slimmed(made: list[Diagnosed]) -> list[Diagnosed]:
    """The diagnoses with each profile without its results (:func:`.without_results`)."""
    return [(None if prof is None else without_results(prof), result) for prof, result in made]


def _set_aside(stage: str, label: str, reason: str) -> Any:
    """What a stage yields for a profile it could not finish (its worker died, or
    the transform of its Result failed)."""
    failed = Result.failed(label, [reason])
    return failed if stage == "evaluate" else (None, failed)


_STAGES: dict[str, Callable[[Engine, Any, int], Any]] = {
    "evaluate": _evaluate_safely,
    "diagnose": _diagnose_safely,
    "columnar": _diagnose_safely,  # what it gives per profile; chunks go to diagnose_many
}


@dataclass(frozen=True)
class Cohort:
    """What :meth:`Engine.plan_cohort` returns.

    Attributes
    ----------
    results : tuple of Result
        One per profile, in input order, each with its planned route (error
        Results for profiles that could not be evaluated).
    plan : CohortPlan
        School profiles, team support, mentor and programme loads, figures.
    """

    results: tuple[Result, ...]
    plan: CohortPlan


def plan_diagnosed(kb: KnowledgeBase, diagnosed: Sequence[Diagnosed]) -> Cohort:
    """Plan a diagnosed cohort and build every route (the second half of plan_cohort).

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base the cohort was diagnosed with.
    diagnosed : sequence of (Profile or None, Result)
        As the ``"diagnose"`` stage of :func:`evaluate_many` yields them.

    Returns
    -------
    Cohort
        The Results with their routes, and the plan.
    """
    plan = _plan(kb, diagnosed)
    items = zip(diagnosed, plan.resolutions, strict=True)
    return Cohort(tuple(route_planned(kb, p, r, res) for (p, r), res in items), plan)


def _plan(kb: KnowledgeBase, diagnosed: Sequence[Diagnosed]) -> CohortPlan:
    """The cohort plan of the people diagnosed (those who could not be are None to it)."""
    return plan_cohort(kb, [(p, r) if p is not None and r.ok else None for p, r in diagnosed])


def route_planned(
    kb: KnowledgeBase, profile: Profile | None, result: Result, resolution: Any
) -> Result:
    """A diagnosis with its share of the cohort plan and the route built from it.

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base the cohort was diagnosed with.
    profile : Profile or None
        The validated profile (None: it could not be diagnosed).
    result : Result
        Its diagnosis (or error Result).
    resolution : Resolution or None
        Its share of the plan (``CohortPlan.resolutions``; None for nobody's).

    Returns
    -------
    Result
        The planned Result with its route; ``result`` itself when there is no
        profile or no share.
    """
    if profile is None or resolution is None:
        return result
    return planned(kb, profile, result, resolution)


#: An engine as a worker finds it: (KB folder, backend, firing limit), or the
#: engine itself when the task runs in the process that has it.
EngineRef = Union["Engine", tuple[str, str, int]]

#: The engines a process has, by reference: a forked worker finds its parent's here
#: (:func:`keep_engine`; loading and compiling the KB again took seconds a worker),
#: a Dask worker loads its own once.
_ENGINES: dict[tuple[str, str, int], Engine] = {}


def engine_ref(engine: Engine, backend: str | None = None) -> tuple[str, str, int]:
    """How a worker names ``engine`` (on ``backend``, default its own): its KB folder,
    backend and firing limit.

    Parameters
    ----------
    engine : Engine
        The engine.
    backend : str, optional
        The workers' backend.

    Returns
    -------
    tuple of (str, str, int)
        The reference :func:`engine_for` loads.
    """
    # absolute: a Dask worker's working folder is not this process's
    root = str(Path(engine.kb.root).resolve())
    return (root, backend or engine.backend, engine.firing_limit)


def keep_engine(ref: tuple[str, str, int], engine: Engine | None) -> None:
    """Have :func:`engine_for` give ``engine`` for ``ref`` in this process and the
    processes forked from it (None: forget it).

    Parameters
    ----------
    ref : tuple of (str, str, int)
        The reference (:func:`engine_ref`).
    engine : Engine or None
        The engine, or None.
    """
    if engine is None:
        _ENGINES.pop(ref, None)
    else:
        _ENGINES[ref] = engine


def engine_for(ref: EngineRef) -> Engine:
    """The engine a worker task runs on: loaded once per process.

    Parameters
    ----------
    ref : Engine or tuple of (str, str, int)
        An engine (used as is), or its reference (:func:`engine_ref`).

    Returns
    -------
    Engine
        The engine.

    Raises
    ------
    KnowledgeBaseError
        If the KB folder cannot be loaded in this process.
    """
    if isinstance(ref, Engine):
        return ref
    engine = _ENGINES.get(ref)
    if engine is None:
        root, backend, firing_limit = ref
        engine = Engine.from_path(root, backend=backend, firing_limit=firing_limit)
        _ENGINES[ref] = engine
    return engine


def _package_version() -> str:
    try:
        return importlib.metadata.version("deficit-engine")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "unknown"


def _identity(ref: EngineRef) -> tuple[str, str]:
    """What a Dask worker runs: its package's version and its KB's content hash."""
    return _package_version(), engine_for(ref).kb.content_hash


def check_cluster(client: Any, engine: Engine, ref: tuple[str, str, int]) -> None:
    """Check that every worker of a Dask cluster runs this package's version and loads
    the same KB from ``ref``'s folder: else their Results would differ from this
    process's, or the run would fail midway.

    Parameters
    ----------
    client : distributed.Client
        The connected client.
    engine : Engine
        The engine of this process.
    ref : tuple of (str, str, int)
        How the workers load it (:func:`engine_ref`).

    Raises
    ------
    UsageError
        If a worker cannot load the KB folder, or runs another version of the
        package or a KB with other content.
    """
    want = (_package_version(), engine.kb.content_hash)
    try:
        found = client.run(_identity, ref)
    except Exception as exc:  # a worker's error, whatever it is, travels back as is
        raise UsageError(f"a Dask worker cannot load the KB at {ref[0]}: {_failure(exc)}") from None
    for worker, got in sorted(found.items()):
        if tuple(got) != want:
            raise UsageError(
                f"the Dask worker {worker} runs deficit-engine {got[0]} with the KB "
                f"{got[1][:19]}, this process {want[0]} with {want[1][:19]}: install the "
                "same version on every worker and give them the same KB folder"
            )


def diagnose_task(ref: EngineRef, stage: str, start: int, chunk: list[Any]) -> list[Diagnosed]:
    """A worker task of :meth:`Engine.evaluate_dask`: a chunk diagnosed (:func:`run_chunk`).

    Parameters
    ----------
    ref : Engine or tuple of (str, str, int)
        The engine (:func:`engine_for`).
    stage : str
        ``"diagnose"`` or ``"columnar"``.
    start : int
        The input position of the chunk's first profile.
    chunk : list
        The profiles.

    Returns
    -------
    list of Diagnosed
        One (Profile or None, Result) per profile.
    """
    return run_chunk(engine_for(ref), stage, start, chunk)


def route_task(ref: EngineRef, items: list[tuple[Profile | None, Result, Any]]) -> list[Result]:
    """A worker task of :meth:`Engine.evaluate_dask`: a chunk's routes built from the plan.

    Parameters
    ----------
    ref : Engine or tuple of (str, str, int)
        The engine (:func:`engine_for`).
    items : list of (Profile or None, Result, Resolution or None)
        Each person's profile, diagnosis and share of the plan.

    Returns
    -------
    list of Result
        The planned Results (:func:`route_planned`).
    """
    kb = engine_for(ref).kb
    return [route_planned(kb, profile, result, share) for profile, result, share in items]


_worker_engine: Engine | None = None


def _worker_start(root: str, backend: str, firing_limit: int, parent: int) -> None:
    global _worker_engine
    start_worker(parent)
    _worker_engine = Engine.from_path(root, backend=backend, firing_limit=firing_limit)
    gc.freeze()  # the KB lives as long as the worker: keep it out of every collection


def _label(stage: str, item: Any) -> str:
    """The profile label of what a stage yielded (a Result, or a Diagnosed pair)."""
    result = item if stage == "evaluate" else item[1]
    return str(result.profile)


def _transformed(transform: Callable[[Any], Any], stage: str, item: Any) -> Any:
    """``transform(item)``; when it fails (say, a row's text cannot be serialised), the
    transform of the row set aside with the reason, so the rest of the chunk survives."""
    try:
        return transform(item)
    except Exception as exc:  # one row's failure, as in _evaluate_safely
        return transform(_set_aside(stage, _label(stage, item), _failure(exc)))


def _worker_chunk(
    start: int, chunk: list[Any], transform: Callable[[Any], Any] | None, stage: str = "evaluate"
) -> bytes:
    assert _worker_engine is not None, "worker not initialised"
    # A chunk's Results are thousands of live containers: with the cyclic GC on, every
    # collection triggered while they are made walks them again. Evaluations leave no
    # cycles behind (tests/test_engine.py checks), so the GC waits until the chunk is sent.
    with paused_gc():
        results: list[Any] = run_chunk(_worker_engine, stage, start, chunk)
        if transform is not None:
            results = [_transformed(transform, stage, r) for r in results]
        return pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)


def run_chunk(
    engine: Engine, stage: str, start: int, chunk: Iterable[Any], *, slim: bool = False
) -> list[Any]:
    """A stage of :func:`evaluate_many` run on a chunk in this process: what its workers run.

    The columnar stage diagnoses the chunk at once, the others one profile at a time.

    Parameters
    ----------
    engine : Engine
        The engine.
    stage : str
        ``"evaluate"``, ``"diagnose"`` or ``"columnar"``.
    start : int
        The input position of the chunk's first profile (it labels a profile without an id).
    chunk : iterable
        Profiles (dicts, Profiles, or an exception for a row the reader set aside);
        the columnar stage holds each dict only until it is validated.
    slim : bool
        The columnar stage's Profiles without their results
        (:meth:`Engine.diagnose_many`'s ``slim``).

    Returns
    -------
    list
        One item per profile: a Result (``evaluate``) or a :data:`Diagnosed` pair.

    Raises
    ------
    UsageError
        If ``stage`` is unknown.
    """
    if stage not in _STAGES:
        raise UsageError(f"unknown stage {stage!r}: expected one of {', '.join(_STAGES)}")
    if stage == "columnar":
        return list(engine.diagnose_many(chunk, start=start, slim=slim))
    run_one = _STAGES[stage]
    return [run_one(engine, p, start + i) for i, p in enumerate(chunk)]


def _unpickle(blob: bytes) -> list[Any]:
    """Unpickle a chunk with the cyclic GC paused: a Result is thousands of small
    containers, and collections triggered while they are rebuilt cost 5x the work."""
    with paused_gc():
        results: list[Any] = pickle.loads(blob)
    return results


def _succeeded(future: Future[bytes]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


@dataclass
class _Chunk:
    """Profiles sent to the workers together, from input position ``start``."""

    start: int
    profiles: list[Any]
    future: Future[bytes]


class _Unsendable(Exception):
    """A profile that cannot be pickled to a worker, in its place: the stage sets it aside."""

    def __init__(self, message: str, profile_id: str) -> None:
        super().__init__(message)
        self.profile_id = profile_id

    def __reduce__(self) -> tuple[type[_Unsendable], tuple[str, str]]:
        return type(self), (str(self), self.profile_id)  # it travels to the worker


#: How deep a profile sent to a worker may nest: as deep as a file may
#: (:data:`~deficit_engine._yaml.MAX_DEPTH`; a valid profile nests about six levels).
#: Pickling recurses per level, and a chunk holding a profile nested near the
#: interpreter's recursion limit cannot be sent.
SEND_DEPTH = MAX_DEPTH


def _too_deep(value: Any, limit: int = SEND_DEPTH) -> bool:
    """Whether ``value``'s lists and dicts nest deeper than ``limit`` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in item)
    return False


def _sendable(chunk: _Chunk) -> _Chunk:
    """The chunk with each profile that cannot be pickled (nested too deeply, say)
    replaced by the reason, so the others are still evaluated."""
    profiles: list[Any] = []
    for i, profile in enumerate(chunk.profiles):
        label = _profile_label(profile, chunk.start + i)
        if _too_deep(profile):
            why = f"nested more than {SEND_DEPTH} levels deep"
            profiles.append(_Unsendable(f"evaluation: the profile is {why}", label))
            continue
        try:
            pickle.dumps(profile, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # whatever stops it travelling: that profile's reason
            profiles.append(_Unsendable(f"cannot be sent to a worker: {_failure(exc)}", label))
        else:
            profiles.append(profile)
    return _Chunk(chunk.start, profiles, chunk.future)


#: Why a chunk's profiles were set aside when their worker died on the retry too.
_DIED = (
    "evaluation: the worker process running this profile and the {others} other(s) "
    "sent with it died twice (killed, or out of memory); they were set aside"
)


class _Pool:
    """The worker processes of :func:`evaluate_many`, replaced when one of them dies.

    A worker killed (by the OOM killer, a signal, a crash in native code) breaks the
    whole pool: every chunk not yet returned fails with BrokenProcessPool. Each is
    run again once, alone in a fresh single-process pool, so one deadly chunk cannot
    take the others down with it a second time; a chunk whose worker dies again has
    its profiles set aside with the reason. Then a fresh pool takes the rest.
    """

    def __init__(
        self,
        engine: Engine,
        backend: str,
        workers: int,
        transform: Callable[[Any], Any] | None,
        stage: str,
    ) -> None:
        self.initargs = (str(engine.kb.root), backend, engine.firing_limit, os.getpid())
        self.workers = workers
        self.transform = transform
        self.stage = stage
        self.executor = self._start(workers)

    def _start(self, workers: int) -> ProcessPoolExecutor:
        return start_pool(workers, _worker_start, self.initargs)

    def submit(self, start: int, profiles: list[Any]) -> _Chunk:
        """Send a chunk to the workers."""
        future = self.executor.submit(_worker_chunk, start, profiles, self.transform, self.stage)
        return _Chunk(start, profiles, future)

    def results(self, head: _Chunk, waiting: Iterable[_Chunk]) -> list[Any]:
        """``head``'s results; if its pool broke, every chunk the break took down is
        run again first (``waiting`` are the chunks sent after it)."""
        try:
            return _unpickle(head.future.result())
        except BrokenProcessPool:
            pass
        except Exception:  # the chunk could not be sent (a profile too deep to pickle)
            head.future = self._retry(_sendable(head))
            return _unpickle(head.future.result())
        stop_pool(self.executor)
        for chunk in (head, *waiting):
            if not _succeeded(chunk.future):
                chunk.future = self._retry(chunk)
        self.executor = self._start(self.workers)
        return _unpickle(head.future.result())

    def _retry(self, chunk: _Chunk) -> Future[bytes]:
        """A chunk run again alone: its results, or its profiles set aside."""
        alone = self._start(1)
        try:
            future = alone.submit(
                _worker_chunk, chunk.start, chunk.profiles, self.transform, self.stage
            )
            blob = future.result()
        except BrokenProcessPool:
            blob = self._set_aside(chunk, _DIED.format(others=len(chunk.profiles) - 1))
        except Exception as exc:  # the chunk's results could not come back, even alone
            blob = self._set_aside(chunk, _failure(exc))
        finally:
            stop_pool(alone)
        done: Future[bytes] = Future()
        done.set_result(blob)
        return done

    def _set_aside(self, chunk: _Chunk, why: str) -> bytes:
        """The chunk's profiles set aside, each with ``why``, as a worker would send them."""
        out = []
        for i, profile in enumerate(chunk.profiles):
            item = _set_aside(self.stage, _profile_label(profile, chunk.start + i), why)
            out.append(item if self.transform is None else self.transform(item))
        return pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)

    def close(self) -> None:
        """Wait for the workers to exit (every chunk is done)."""
        self.executor.shutdown(wait=True)

    def stop(self) -> None:
        """Stop now: an interrupted, terminated or failed run."""
        stop_pool(self.executor)


def _chunks(items: Iterable[Any], size: int) -> Iterator[tuple[int, list[Any]]]:
    chunk: list[Any] = []
    start = 0
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield start, chunk
            start += size
            chunk = []
    if chunk:
        yield start, chunk


def _check_run(workers: int, chunk_size: int, backend: str) -> None:
    """The UsageErrors of a cohort run's options."""
    if workers < 1:
        raise UsageError("workers must be at least 1")
    if chunk_size < 1:
        raise UsageError("chunk_size must be at least 1")
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")


def evaluate_many(
    engine: Engine,
    profiles: Iterable[ProfileInput],
    workers: int | None = None,
    *,
    backend: str = "fast",
    chunk_size: int = 64,
    window: int | None = None,
    transform: Callable[[Any], Any] | None = None,
    stage: str = "evaluate",
) -> Generator[Any, None, None]:
    """Evaluate a cohort; see :meth:`Engine.evaluate_many`.

    ``transform``, a module-level function (it travels to the workers by
    name), is applied to each Result where it was made, and its value is
    yielded instead: a batch that only needs, say, a JSON line per person
    saves the parent rebuilding every Result. ``stage="diagnose"`` runs only
    :meth:`Engine.diagnose` and yields (Profile or None, Result) pairs
    (:data:`Diagnosed`), which ``transform`` then receives; ``stage="columnar"``
    yields the same, each chunk diagnosed at once by :meth:`Engine.diagnose_many`
    (no traces; pass a large ``chunk_size``).
    """
    if workers is None:
        workers = os.cpu_count() or 1
    _check_run(workers, chunk_size, backend)
    workers = min(workers, max_workers())
    if stage not in _STAGES:
        raise UsageError(f"unknown stage {stage!r}: expected one of {', '.join(_STAGES)}")
    if window is not None and window < 1:
        raise UsageError("window must be at least 1")
    if workers == 1:
        local = (
            engine
            if engine.backend == backend
            else Engine(engine.kb, backend=backend, firing_limit=engine.firing_limit)
        )
        for start, chunk in _chunks(profiles, chunk_size if stage == "columnar" else 1):
            for result in run_chunk(local, stage, start, chunk):
                yield result if transform is None else _transformed(transform, stage, result)
        return
    in_flight = window if window is not None else 4 * workers
    pool = _Pool(engine, backend, workers, transform, stage)
    try:
        pending: deque[_Chunk] = deque()
        for start, chunk in _chunks(profiles, chunk_size):
            pending.append(pool.submit(start, chunk))
            if len(pending) >= in_flight:
                yield from pool.results(pending.popleft(), pending)
        while pending:
            yield from pool.results(pending.popleft(), pending)
    except BaseException:  # interrupted, terminated, or closed early: no worker outlives it
        pool.stop()
        raise
    pool.close()
