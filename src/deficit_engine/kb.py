"""The knowledge base: an immutable value, built once by the loader.

A :class:`KnowledgeBase` holds the ontology, the scale, the three catalogues,
the parsed rules and where each of its ids is defined. It is frozen: the
loader builds it whole (rules included) and nothing changes it afterwards, so
whatever is derived from it (an engine's compiled rules, the resolver's index)
stays valid as long as the KB lives. ``eq=False`` makes it hash and compare
by identity: two loads of one folder are two KBs.

To derive a variant (say, a catalogue without one programme) use
:func:`dataclasses.replace`, which builds a new KB.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .catalogue import CatalogueIndex
from .errors import Issue
from .ontology import Ontology, Scale
from .rules.model import Rule, Where
from .schema import Format, Instrument, Mentor, PlanningFile, Program, Subject

__all__ = ["POSITION_KINDS", "KnowledgeBase"]

POSITION_KINDS = (
    "group",
    "competency",
    "indicator",
    "level",
    "format",
    "programme",
    "mentor",
    "subject",
    "school_rule",
    "instrument",
)
"""The kinds of item :attr:`KnowledgeBase.positions` places."""


@dataclass(frozen=True, eq=False)
class KnowledgeBase:
    """A validated knowledge base. Build it with :func:`~deficit_engine.loader.load_kb`.

    Attributes
    ----------
    root : Path
        The KB folder (holding ``ontology/`` and ``rules/``).
    ontology : Ontology
        Groups, competencies, indicators and the prerequisite graph.
    scale : Scale
        The percent bands of the levels.
    formats, programs, mentors : Mapping
        The catalogues, by id (read-only by contract: the KB is shared).
    rules : tuple of Rule
        The rule set, in file order then rule order, each with its stratum.
    subjects : Mapping
        The school subjects (``ontology/subjects.yaml``), by id; empty when the
        KB has no such file (then subject ids are not checked).
    planning : PlanningFile
        How cohort plans are made and the school rules (``ontology/planning.yaml``;
        the defaults when the KB has no such file).
    instruments : Mapping
        The diagnostic instruments (``ontology/instruments.yaml``), by id; empty
        when the KB has no such file (then every instrument counts alike).
    version : str or None
        The ``version:`` of ``competencies.yaml``, when the KB names one.
    content_hash : str
        ``sha256:...`` of the KB's files as read (``loader.content_hash``); empty
        for a KB built by hand.
    warnings : tuple of Issue
        Problems of the rule files that do not make the KB invalid.
    positions : Mapping
        ``(kind, id)`` -> ``(file, line, col)`` where that item is defined, for
        each kind of :data:`POSITION_KINDS` (the file as an issue names it).
    files : Mapping
        Each ontology file's stem (``"competencies"``, ``"scale"``, ``"formats"``,
        ``"programs"``, ``"mentors"``, and ``"subjects"``, ``"planning"``, ``"instruments"``
        when the KB has them) -> the path an issue names it by.
    templates : Path or None
        The KB's ``templates/`` folder, whose document templates replace the
        packaged ones of the same name (``iom.md.j2``, ``iom.html.j2``); None
        when the KB has none.
    """

    root: Path
    ontology: Ontology
    scale: Scale
    formats: Mapping[str, Format]
    programs: Mapping[str, Program]
    mentors: Mapping[str, Mentor]
    rules: tuple[Rule, ...] = ()
    subjects: Mapping[str, Subject] = field(default_factory=dict)
    planning: PlanningFile = field(default_factory=PlanningFile)
    instruments: Mapping[str, Instrument] = field(default_factory=dict)
    version: str | None = None
    content_hash: str = ""
    warnings: tuple[Issue, ...] = ()
    positions: Mapping[tuple[str, str], Where] = field(default_factory=dict, repr=False)
    files: Mapping[str, str] = field(default_factory=dict, repr=False)
    templates: Path | None = None

    @functools.cached_property
    def index(self) -> CatalogueIndex:
        """The KB's catalogues as the resolver's and the route builder's lookup tables.

        Built on first use and kept with the KB: it is a function of the KB's
        ontology and catalogues, which never change (a frozen dataclass without
        slots still has an instance ``__dict__``, where ``cached_property`` keeps
        it). Two threads asking at once may both build it; either result is the same.

        Returns
        -------
        CatalogueIndex
            See :class:`deficit_engine.catalogue.CatalogueIndex`.
        """
        return CatalogueIndex(self.ontology, self.programs, self.mentors, self.formats)

    def summary(self) -> str:
        """One line counting what the KB holds (``deficit-engine check`` prints it).

        Returns
        -------
        str
            The counts of groups, competencies, indicators, prerequisites,
            levels, formats, programmes, mentors, subjects, school rules and rules.
        """
        onto = self.ontology
        return (
            f"{len(onto.groups)} groups, {len(onto.competencies)} competencies, "
            f"{len(onto.indicators)} indicators, {onto.graph.number_of_edges()} prerequisites, "
            f"{len(self.scale.levels)} levels, {len(self.formats)} formats, "
            f"{len(self.programs)} programmes, {len(self.mentors)} mentors, "
            f"{len(self.subjects)} subjects, {len(self.planning.school_rules)} school rules, "
            f"{len(self.rules)} rules"
        )
