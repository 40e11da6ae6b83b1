"""Issue 17: the C YAML loader (libyaml's parser, composed here without recursion)
gives what the pure-Python loader gives, with every safety check kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from deficit_engine import _yaml
from deficit_engine._yaml import MAX_DEPTH, Loaded, load_yaml_text

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(
    path for part in ("ontology", "rules", "examples") for path in (ROOT / part).glob("*.yaml")
)
needs_libyaml = pytest.mark.skipif(_yaml._C_LOADER is None, reason="PyYAML without libyaml")


def load_both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Loaded, Loaded]:
    """The document through libyaml's parser, then through the pure-Python loader."""
    fast = load_yaml_text(text, "doc.yaml")
    with monkeypatch.context() as m:
        m.setattr(_yaml, "_C_LOADER", None)
        slow = load_yaml_text(text, "doc.yaml")
    return fast, slow


def placed(doc: Loaded) -> list[tuple[str, int, int]]:
    return [(i.code, i.line, i.col) for i in doc.issues]


def test_the_c_loader_is_used_where_pyyaml_has_libyaml() -> None:
    assert (_yaml._C_LOADER is not None) == bool(getattr(yaml, "__with_libyaml__", False))


@needs_libyaml
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_files_load_the_same_with_positions(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = load_both(path.read_text("utf-8"), monkeypatch)
    assert fast.issues == slow.issues == []
    assert fast.data == slow.data
    assert fast.positions == slow.positions  # Cyrillic text: columns count characters


HOSTILE = {
    "duplicate-key": "a: 1\nb:\n  c: 2\n  c: 3\n",
    "unsafe-tag": "a: !!python/object/apply:os.system ['true']\n",
    "alias-cycle": "a: &a [1, [2, *a]]\n",
    "merge": "base: &b {x: 1}\nmore: {<<: *b, y: 2}\n",
    "too-large-int": "n: " + "9" * 200 + "\n",
    "date": "d: 2020-13-45\nok: 2021-01-02\n",
    "numbers": "a: [0x1F, 1_000, .inf, -.5, 1e3, ~, yes, 'x', \"y\", 012]\n",
    "between-limits": "a: " + "[" * (MAX_DEPTH + 50) + "]" * (MAX_DEPTH + 50) + "\n",
    "block-deep": "".join(f"{'  ' * i}- \n" for i in range(MAX_DEPTH + 5)),
    "alias-deep": "\n".join(
        ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, MAX_DEPTH + 5)]
    ),
    "syntax": "a: [1, 2\nb: 3\n",
    "tab": "a:\n\tb: 1\n",
    "scalar-root": "just text\n",
    "empty": "",
    "comment-only": "# nothing\n",
}


@needs_libyaml
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_documents_give_the_same_issues_at_the_same_places(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = load_both(HOSTILE[name], monkeypatch)
    if name in ("syntax", "tab"):  # libyaml words its syntax errors its own way
        assert [i.code for i in fast.issues] == [i.code for i in slow.issues] == ["yaml-syntax"]
        assert fast.issues[0].line == slow.issues[0].line
        return
    assert placed(fast) == placed(slow)
    assert fast.data == slow.data


@needs_libyaml
@pytest.mark.parametrize(
    "text",
    ["*nowhere\n", "a: &x 1\nb: &x 2\n", "a: 1\n---\nb: 2\n"],
    ids=["undefined-alias", "duplicate-anchor", "two-documents"],
)
def test_composer_errors_are_placed_yaml_syntax_issues(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = load_both(text, monkeypatch)
    assert placed(fast) == placed(slow) and fast.issues[0].code == "yaml-syntax"


def deep_texts() -> Iterator[str]:
    yield "[" * 100_000  # far past libyaml's own limit, unclosed
    yield "a: " + "{a: " * 5_000 + "}" * 5_000
    yield "".join(f"{' ' * i}k:\n" for i in range(3_000))


@needs_libyaml
@pytest.mark.parametrize("text", list(deep_texts()), ids=["flow-100k", "map-5k", "block-3k"])
def test_no_depth_reaches_the_c_stack(text: str) -> None:
    """libyaml's own composer recurses in C; ours stops at MAX_DEPTH, one place named."""
    doc = load_yaml_text(text, "deep.yaml")
    assert [i.code for i in doc.issues] == ["too-deep"] and doc.data is None
    assert doc.issues[0].line >= 1
