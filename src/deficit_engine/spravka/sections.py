"""The report's data: a batch's summary.json and schools.json read with the KB's titles.

Everything here takes the JSON a batch wrote (any age of it: a key an older
batch did not write gives an empty section, never an error) and returns plain
JSON-ready values; :mod:`.tables` lays them out as the справка's tables and the
renderers (text, HTML, XLSX) only draw those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..planner.plan import COLLEAGUE_PREFIX

if TYPE_CHECKING:
    from ..kb import KnowledgeBase
    from ..schema import Mentor

__all__ = ["plan_sections"]


def _rows(summary: dict[str, Any], key: str) -> list[list[Any]]:
    """A ranking of the summary as rows (none when the key is missing or malformed)."""
    value = summary.get(key)
    if not isinstance(value, list):
        return []
    return [list(r) for r in value if isinstance(r, list)]


def _competency_title(kb: KnowledgeBase | None, ref: object) -> str:
    found = kb.ontology.competencies.get(str(ref)) if kb is not None else None
    return found.title if found is not None else ""


def _group_title(kb: KnowledgeBase | None, ref: object) -> str:
    found = kb.ontology.groups.get(str(ref)) if kb is not None else None
    return found.title if found is not None else ""


def _programme_title(kb: KnowledgeBase | None, ref: object) -> str:
    found = kb.programs.get(str(ref)) if kb is not None else None
    return found.title if found is not None else ""


def _pct(part: int, whole: int) -> float | None:
    """``part`` as a percent of ``whole`` to 1 decimal (None when ``whole`` is 0)."""
    return round(100 * part / whole, 1) if whole > 0 else None


def plan_sections(
    summary: dict[str, Any], kb: KnowledgeBase | None, schools: dict[str, Any] | None
) -> dict[str, Any]:
    """What a planned run's report shows, with the KB's titles (the json format's ``report``).

    Parameters
    ----------
    summary : dict
        summary.json of a batch.
    kb : KnowledgeBase, optional
        Titles, mentors' places and municipalities (ids alone without it).
    schools : dict, optional
        schools.json of the batch (no team support section without it).

    Returns
    -------
    dict
        ``plan`` (the figures with percents), ``mentor_places`` and ``mentor_load``
        (after allocation, with free places), ``capacity_shortfalls`` (the mentors
        and programmes whose places ran out), ``capacity_by_competency``,
        ``one_per_form``, ``team_support`` -- each only for a planned run -- and
        ``catalogue_request`` (needs the catalogue has nothing for) whenever the
        summary counts unmet needs by cause. Empty for a summary of neither.
    """
    out: dict[str, Any] = {}
    plan = summary.get("plan")
    by_cause = _by_cause(summary)
    if isinstance(plan, dict):
        teams = _team_rows(kb, schools)
        out["plan"] = _plan_figures(plan)
        out.update(_mentor_sections(summary, kb, teams))
        out["capacity_shortfalls"] = _shortfall_rows(summary, kb)
        out["capacity_by_competency"] = _by_competency(kb, by_cause, "capacity")
        out["one_per_form"] = sum(
            n for k, c, _comp, n in by_cause if (k, c) == ("mentor", "one_per_form")
        )
        if teams is not None:
            out["team_support"] = teams
    if "unmet_by_cause" in summary:
        out["catalogue_request"] = _by_competency(kb, by_cause, "catalogue")
    return out


def _by_cause(summary: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    return [
        (str(r[0]), str(r[1]), str(r[2]), r[3])
        for r in _rows(summary, "unmet_by_cause")
        if len(r) == 4 and isinstance(r[3], int)
    ]


def _plan_figures(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan's figures with the percents a reader asks for first."""

    def count(key: str) -> int:
        value = plan.get(key)
        return value if isinstance(value, int) else 0

    return {
        **plan,
        "mentees_placed_pct": _pct(count("mentees_placed"), count("mentees")),
        "bound_reached_pct": _pct(count("mentees_placed"), count("mentee_bound")),
        "units_placed_pct": _pct(count("units_placed"), count("units")),
        "schools_placed_pct": _pct(count("schools_placed"), count("schools_flagged")),
    }


def _mentor_sections(
    summary: dict[str, Any], kb: KnowledgeBase | None, teams: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """Every mentor's load after allocation: people (pairings, one per mentoring form)
    from the summary, schools from the team support; their places and what is free."""
    people: dict[str, int] = {}
    capacities: dict[str, int] = {}  # as the batch counted them: colleagues' too
    for m in summary.get("mentor_load") or []:
        if isinstance(m, dict) and isinstance(m.get("recommended"), int):
            people[str(m.get("id"))] = m["recommended"]
            if isinstance(m.get("capacity"), int):
                capacities[str(m.get("id"))] = m["capacity"]
    school_load: dict[str, int] = {}
    for team in teams or []:
        for mentor in team["mentors"]:  # a school counts once per mentor it got
            school_load[mentor] = school_load.get(mentor, 0) + 1
    catalogue = dict(kb.mentors) if kb is not None else {}
    rows = []
    for ref in sorted(
        {*people, *school_load},
        key=lambda r: (-(people.get(r, 0) + school_load.get(r, 0)), r),
    ):
        mentor = catalogue.get(ref)
        capacity = mentor.capacity if mentor is not None else capacities.get(ref)
        taken = people.get(ref, 0) + school_load.get(ref, 0)
        rows.append(
            {
                "id": ref,
                "name": mentor.name if mentor else _colleague_name(ref),
                "organization": mentor.organization if mentor else None,
                "municipality": mentor.municipality if mentor else None,
                "mentees": people.get(ref, 0),
                "schools": school_load.get(ref, 0),
                "capacity": capacity,
                "free": None if capacity is None else max(0, capacity - taken),
                "over_capacity": 0 if capacity is None else max(0, taken - capacity),
            }
        )
    return {"mentor_places": _mentor_places(catalogue, people, school_load), "mentor_load": rows}


def _colleague_name(ref: str) -> str | None:
    """A colleague of the cohort mentoring (planning.colleague_mentors) is named as
    the planner names them, without personal data; None for an id the KB lacks."""
    return "Коллега из когорты" if ref.startswith(COLLEAGUE_PREFIX) else None


def _mentor_places(
    catalogue: dict[str, Mentor], people: dict[str, int], schools: dict[str, int]
) -> dict[str, int]:
    """The KB pool's places in all: given, free, and mentors nobody was given to; and
    the colleagues of the cohort who mentor (outside the pool) with their mentees."""
    taken = {ref: people.get(ref, 0) + schools.get(ref, 0) for ref in catalogue}
    colleagues = [ref for ref in people if ref not in catalogue and _colleague_name(ref)]
    return {
        "colleagues": len(colleagues),
        "colleague_mentees": sum(people[ref] for ref in colleagues),
        "mentors": len(catalogue),
        "capacity": sum(m.capacity for m in catalogue.values()),
        "taken": sum(taken.values()),
        "free": sum(max(0, m.capacity - taken[ref]) for ref, m in catalogue.items()),
        "idle": sum(1 for ref, m in catalogue.items() if m.capacity > 0 and not taken[ref]),
    }


def _shortfall_rows(summary: dict[str, Any], kb: KnowledgeBase | None) -> list[dict[str, Any]]:
    """The summary's capacity shortfalls with each item's title and place."""
    rows = []
    for item in summary.get("capacity_shortfalls") or []:
        if not isinstance(item, dict):
            continue
        ref = str(item.get("id"))
        row = dict(item)
        if item.get("kind") == "mentor":
            mentor = kb.mentors.get(ref) if kb is not None else None
            row["title"] = mentor.name if mentor else _colleague_name(ref)
            row["municipality"] = mentor.municipality if mentor else None
        else:
            row["title"] = _programme_title(kb, ref) or None
            row["municipality"] = None
        rows.append(row)
    return rows


def _by_competency(
    kb: KnowledgeBase | None, by_cause: list[tuple[str, str, str, int]], cause: str
) -> list[dict[str, Any]]:
    """Needs unmet for ``cause`` per competency and kind, most programme needs first."""
    counts: dict[str, dict[str, int]] = {}
    for kind, c, competency, n in by_cause:
        if c == cause:
            row = counts.setdefault(competency, {"program": 0, "mentor": 0, "format": 0})
            row[kind] = row.get(kind, 0) + n
    rows = []
    for competency, kinds in counts.items():
        found = kb.ontology.competencies.get(competency) if kb is not None else None
        rows.append(
            {
                "competency": competency,
                "title": found.title if found else None,
                "group": found.group if found else None,
                **kinds,
            }
        )
    return sorted(
        rows,
        key=lambda r: (
            -r["program"],
            -sum(r[k] for k in ("program", "mentor", "format")),
            r["competency"],
        ),
    )


def _team_rows(
    kb: KnowledgeBase | None, schools: dict[str, Any] | None
) -> list[dict[str, Any]] | None:
    """schools.json's flagged schools, one row per school with its groups and team mentor."""
    if schools is None:
        return None
    rows: dict[str, dict[str, Any]] = {}
    for flag in schools.get("team_support") or []:
        if not isinstance(flag, dict):
            continue
        org = str(flag.get("organization"))
        mentor = flag.get("mentor")
        found = kb.mentors.get(str(mentor)) if kb is not None and mentor else None
        # each flag has the mentor of its own form (a team, a management mentor)
        who = {
            "mentor": mentor,
            "mentor_name": found.name if found else None,
            "mentor_organization": found.organization if found else None,
            "mentor_municipality": found.municipality if found else None,
            "mentor_reason": flag.get("mentor_reason"),
        }
        row = rows.setdefault(
            org,
            {
                "organization": org,
                "municipality": flag.get("municipality"),
                "groups": [],
                "mentors": [],
                **who,
            },
        )
        if row["mentor"] is None and mentor is not None:
            row.update(who)  # the school's first mentor, for ordering and counts
        if mentor is not None and mentor not in row["mentors"]:
            row["mentors"].append(mentor)
        row["groups"].append(
            {
                "group": flag.get("group"),
                "title": _group_title(kb, flag.get("group")) or None,
                "share_pct": flag.get("share_pct"),
                "counted": flag.get("counted"),
                "assessed": flag.get("assessed"),
                "rule": flag.get("rule"),
                **who,
            }
        )
    # the schools given a team first: a reader looks for who supports whom
    return sorted(rows.values(), key=lambda r: r["mentor"] is None)
