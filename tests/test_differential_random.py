"""Random rule sets: durable_rules and the reference backend must agree exactly.

The shipped rules exercise a fixed set of shapes; these seeded random rule sets
exercise the rest (joins with every operator, references in lists, `between`,
`exists`, `contains`, `any:`, `not:`, chaining through custom facts), which is
where durable_rules' quirks live.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from conftest import write_kb
from deficit_engine import Engine, KnowledgeBase, inference, load_kb
from deficit_engine.engine import base_facts
from deficit_engine.profile import normalise

pytestmark = pytest.mark.skipif(
    not inference.durable_available(), reason="durable_rules not importable"
)

COMPS = [
    "normative.fgos",
    "methodical.lesson_design",
    "methodical.assessment",
    "digital.distance",
    "digital.ai",
]
GROUPS = ["normative", "methodical", "digital"]
SEVERITIES = ["critical", "high", "moderate", "low"]


def literal_cond(rnd: random.Random, ftype: str) -> tuple[str, object]:
    if ftype in ("result", "deficit") and rnd.random() < 0.5:
        op = rnd.choice(["lt", "le", "gt", "ge", "between", "ne", "eq", "exists"])
        if op == "between":
            lo = rnd.choice([0, 20, 30, 50])
            return "score_pct", {"between": [lo, lo + rnd.choice([0, 10, 30, 60])]}
        if op == "exists":
            return "score_pct", {"exists": rnd.choice([True, False])}
        return "score_pct", {op: rnd.choice([10, 30, 48, 50, 75, 80])}
    if ftype == "deficit" and rnd.random() < 0.5:
        return "severity", rnd.choice(
            [
                rnd.choice(SEVERITIES),
                {"in": rnd.sample(SEVERITIES, 2)},
                {"not_in": rnd.sample(SEVERITIES, 1)},
                {"ne": "low"},
            ]
        )
    if ftype == "person":
        return rnd.choice(
            [
                ("experience_years", {"lt": rnd.choice([3, 10])}),
                ("subjects", {"contains": rnd.choice(["mathematics", "physics"])}),
                ("role", {"in": ["teacher", "manager"]}),
                ("municipality", {"exists": True}),
            ]
        )
    if ftype == "link":
        return "x", {"ne": rnd.choice(COMPS)}
    return "group", rnd.choice(
        [rnd.choice(GROUPS), {"ne": rnd.choice(GROUPS)}, {"in": rnd.sample(GROUPS, 2)}]
    )


def join_cond(
    rnd: random.Random, alias: str, other_type: str, this_type: str
) -> tuple[str, object]:
    field = "x" if this_type == "link" else "competency"
    ref = f"${alias}.{'x' if other_type == 'link' else 'competency'}"
    op = rnd.choice(["ne", "gt", "lt", "eq", "in", "not_in", "ge"])
    if op in ("in", "not_in"):
        return field, {op: [ref, rnd.choice(COMPS)]}
    return field, {op: ref}


def random_rules(rnd: random.Random) -> str:
    rules = []
    rules.append(
        {
            "id": "BASE",
            "priority": 50,
            "when": [{"result": {"score_pct": {"lt": 75}}}],
            "then": [
                {
                    "deficit": {
                        "competency": "$result.competency",
                        "severity": rnd.choice(SEVERITIES),
                    }
                }
            ],
        }
    )
    rules.append(
        {
            "id": "BASE2",
            "priority": 40,
            "when": [{"result": {"score_pct": {"lt": 30}}}],
            "then": [{"deficit": {"competency": "$result.competency", "severity": "critical"}}],
        }
    )
    for n in range(rnd.randint(2, 6)):
        when: list[object] = []
        aliases: list[tuple[str, str]] = []
        for k in range(rnd.randint(1, 3)):
            ftype = rnd.choice(["result", "deficit", "deficit", "person", "request", "link"])
            alias = f"a{k}"
            conds: dict[str, object] = {}
            for _ in range(rnd.randint(0, 2)):
                field, cond = literal_cond(rnd, ftype)
                conds[field] = cond
            if aliases and ftype not in ("person",) and rnd.random() < 0.7:
                other_alias, other_type = rnd.choice(aliases)
                if other_type not in ("person",):
                    field, cond = join_cond(rnd, other_alias, other_type, ftype)
                    conds.setdefault(field, cond)
            when.append({"as": alias, ftype: conds})
            aliases.append((alias, ftype))
        if rnd.random() < 0.3:
            when.append({"any": [{"request": {}}, {"deficit": {"severity": "critical"}}]})
        negated = rnd.random() < 0.3 and aliases[0][1] in ("result", "deficit", "request", "link")
        if negated:
            field = "x" if aliases[0][1] == "link" else "competency"
            when.append(
                {"not": {"need": {"kind": "program", "competency": f"${aliases[0][0]}.{field}"}}}
            )
        first_alias, first_type = aliases[0]
        if negated:  # nothing matches flags: no negation cycle
            then = [{"fact": {"type": "flag", "rule": f"R{n}", "n": rnd.choice([1, 2])}}]
        elif first_type in ("result", "deficit", "request"):
            then = [
                rnd.choice(
                    [
                        {"need": {"kind": "program", "competency": f"${first_alias}.competency"}},
                        {
                            "fact": {
                                "type": "link",
                                "x": f"${first_alias}.competency",
                                "y": rnd.choice(COMPS),
                            }
                        },
                        {
                            "deficit": {
                                "competency": f"${first_alias}.competency",
                                "severity": "low",
                            }
                        },
                    ]
                )
            ]
        else:
            then = [
                {"need": {"kind": "format", "format": rnd.choice(["internship", "self_education"])}}
            ]
        rules.append(
            {"id": f"R{n}", "priority": rnd.choice([0, 0, 5, -5]), "when": when, "then": then}
        )
    # keep the custom type defined even if no random rule asserts it
    rules.append(
        {
            "id": "LINK-SEED",
            "when": [{"request": {}}],
            "then": [{"fact": {"type": "link", "x": "$request.competency", "y": "digital.ai"}}],
        }
    )
    return yaml.safe_dump(
        {"ruleset": "random", "rules": rules}, allow_unicode=True, sort_keys=False
    )


def random_rules_kb(root: Path, rnd: random.Random) -> KnowledgeBase:
    """A KB at ``root``: the tests' ontology and catalogues, and one rule set drawn by
    :func:`random_rules` (the differential tests of every backend and path use it)."""
    write_kb(root)
    (root / "rules").mkdir()
    (root / "rules" / "r.yaml").write_text(random_rules(rnd), encoding="utf-8")
    return load_kb(root)


def random_profile(rnd: random.Random, n: int) -> dict[str, object]:
    results = [
        {"competency": c, "score": rnd.choice([0, 10, 29.99, 30, 48, 50, 74.5, 75, 90])}
        for c in rnd.sample(COMPS, rnd.randint(0, len(COMPS)))
    ]
    person: dict[str, object] = {
        "role": rnd.choice(["teacher", "manager", "methodist"]),
        "experience_years": rnd.choice([0, 2, 3, 12]),
        "subjects": rnd.sample(["mathematics", "physics"], rnd.randint(0, 2)),
    }
    if rnd.random() < 0.5:
        person["municipality"] = "Анучинский МО"
    return {
        "id": f"R-{n}",
        "person": person,
        "results": results,
        "requests": rnd.sample(COMPS, rnd.randint(0, 2)),
    }


@pytest.mark.parametrize("seed", range(40))
def test_random_rule_sets_agree(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    kb = random_rules_kb(tmp_path / "kb", rnd)
    durable, python = Engine(kb, backend="durable"), Engine(kb, backend="python")
    fast = Engine(kb, backend="fast")
    for n in range(25):
        profile = random_profile(rnd, n)
        expected = python.evaluate(profile).to_json()
        assert durable.evaluate(profile).to_json() == expected, (seed, profile)
        assert fast.evaluate(profile).to_json() == expected, (seed, profile)
        assert_generated_alpha_agrees(python, profile)


def assert_generated_alpha_agrees(engine: Engine, profile: dict[str, object]) -> None:
    """The fast matcher's generated alpha functions pick exactly the patterns that the
    closures pick, for every fact of the evaluation (derived ones included)."""
    norm = normalise(engine.parse(profile), engine.kb)
    store, _ = inference.run(
        engine.strata,
        base_facts(norm, engine.kb),
        inference.PythonMatcher(engine.strata),
        engine._enricher(norm),
    )
    compiled = inference.Compiled(engine.strata)
    for k, hitters in enumerate(compiled.hitters):
        for fact in store.facts:
            if fact["type"] in hitters:
                expected = compiled.hits(compiled.index[k], fact)
                assert hitters[fact["type"]](fact) == expected, fact
