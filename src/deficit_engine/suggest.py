"""Did-you-mean: the known id nearest an unknown one, by spelling or by meaning.

A methodologist who writes ``communicative.mediation`` means the competency
whose title or ``synonyms:`` speak of медиация / mediation
(``communicative.conflict``), not the id spelt most alike
(``communicative.parents``). So a suggestion looks first at the words of the
entries' titles and synonyms, then at the spelling of the ids; a near-typo
(ratio 0.85 or more) wins over meaning.

A :class:`Suggester` indexes one vocabulary once (the character trigrams of its
ids, the words of its texts), so each suggestion compares the unknown name
with the few ids that share most with it instead of with every id: a profile
with 100,000 unknown ids is reported in seconds, not minutes
(``benchmarks/suggestions.py``). :func:`suggest` keeps one Suggester per
vocabulary it has seen.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

__all__ = ["Suggester", "same_word", "suggest", "text_matches", "words"]

#: The least difflib ratio a spelling suggestion needs (as ``get_close_matches``).
CUTOFF = 0.6
#: A spelling this close is a typo of that id, whatever the words say.
TYPO = 0.85
#: How many ids sharing the most trigrams with a name are compared with it.
SHORTLIST = 12
#: Names remembered per vocabulary (the same unknown id is often repeated).
_MEMO_LIMIT = 4096

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The lower-case words of a text or an id (split at dots, underscores, spaces...).

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    list of str
        Its words, ``ё`` read as ``е``.
    """
    return [w.replace("ё", "е") for w in _WORD.findall(text.lower())]


def same_word(a: str, b: str) -> bool:
    """Whether two lower-case words are forms of one word: a shared start of at least
    four letters that leaves at most three letters of either unmatched (an ending).

    ``медиац`` / ``медиация``, ``конфликтов`` / ``конфликт``, ``mediation`` /
    ``mediator`` are; ``оценка`` / ``оценивание`` are not (six letters left).

    Parameters
    ----------
    a, b : str
        Two words, as :func:`words` gives them.

    Returns
    -------
    bool
    """
    n = min(len(a), len(b))
    common = 0
    while common < n and a[common] == b[common]:
        common += 1
    return common >= 4 and common >= max(len(a), len(b)) - 3


def text_matches(query: str, texts: Iterable[str]) -> bool:
    """Whether a search text finds an entry: a case-insensitive substring of one of
    its texts, or every word of the query a form of one of their words.

    Parameters
    ----------
    query : str
        What the user searches for (``медиац``, ``оценивания``).
    texts : iterable of str
        The entry's id, title, synonyms...

    Returns
    -------
    bool
    """
    texts = list(texts)
    needle = query.lower().replace("ё", "е").strip()
    if any(needle in t.lower().replace("ё", "е") for t in texts):
        return True
    asked = words(query)
    have = [w for t in texts for w in words(t)]
    return bool(asked) and all(any(same_word(q, w) for w in have) for q in asked)


def _grams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


class Suggester:
    """One vocabulary, indexed once for did-you-mean.

    Parameters
    ----------
    entries : sequence of (str, sequence of str)
        Each known id with its texts (title, synonyms); texts may be empty.
    """

    def __init__(self, entries: Sequence[tuple[str, Sequence[str]]]) -> None:
        self.ids = [ident for ident, _texts in entries]
        self._grams: dict[str, list[int]] = {}
        for k, ident in enumerate(self.ids):
            for gram in _grams(ident):
                self._grams.setdefault(gram, []).append(k)
        # first four letters of a word -> (id index, word): a word matches only
        # words that start like it (same_word), so only that bucket is read
        self._words: dict[str, list[tuple[int, str]]] = {}
        for k, (_ident, texts) in enumerate(entries):
            for word in {w for t in texts for w in words(t) if len(w) >= 4}:
                self._words.setdefault(word[:4], []).append((k, word))
        self._memo: dict[str, str | None] = {}

    def suggest(self, name: str) -> str | None:
        """The known id ``name`` most likely means, or None.

        Parameters
        ----------
        name : str
            An unknown id as written.

        Returns
        -------
        str or None
            A near-typo's id; else the id whose title or synonyms share the most
            words with ``name`` (ties by spelling); else the closest spelling
            (difflib ratio at least 0.6); else None.
        """
        if name in self._memo:
            return self._memo[name]
        ratio, spelt = self._by_spelling(name)
        found = spelt if ratio >= TYPO else (self._by_meaning(name) or spelt)
        if len(self._memo) < _MEMO_LIMIT:
            self._memo[name] = found
        return found

    def _by_spelling(self, name: str) -> tuple[float, str | None]:
        """The best difflib ratio among the ids sharing most trigrams with ``name``."""
        grams = _grams(name)
        shared: dict[int, int] = {}
        get = shared.get
        for gram in grams:
            for k in self._grams.get(gram, ()):
                shared[k] = get(k, 0) + 1
        # An id within the cutoff shares long runs of letters with the name, so
        # many of its trigrams; one sharing under a quarter of them is not compared
        # (checked against difflib over every id in tests/test_suggest.py).
        floor = len(grams) // 4
        ranked = sorted([(-n, k) for k, n in shared.items() if n >= floor])
        if len(ranked) > SHORTLIST:  # ids tied with the last one listed come too
            last = ranked[SHORTLIST - 1][0]
            ranked = [(n, k) for n, k in ranked if n <= last]
        matcher = difflib.SequenceMatcher(None, "", name, autojunk=False)
        best: tuple[float, str] | None = None
        for _count, k in ranked:
            ident = self.ids[k]
            matcher.set_seq1(ident)
            # each bound is at least the ratio: skip the costly ratio when a bound
            # already says the id cannot beat the cutoff or the best so far
            if not _may_beat(matcher.real_quick_ratio(), ident, best):
                continue
            if not _may_beat(matcher.quick_ratio(), ident, best):
                continue
            score = matcher.ratio()
            # as difflib.get_close_matches: the highest ratio, then the greater id
            if score >= CUTOFF and (best is None or (score, ident) > best):
                best = (score, ident)
        return (best[0], best[1]) if best else (0.0, None)

    def _by_meaning(self, name: str) -> str | None:
        """The id whose texts have forms of the most words of ``name`` (at least one)."""
        hits: Counter[int] = Counter()
        for word in {w for w in words(name) if len(w) >= 4}:
            found = {k for k, known in self._words.get(word[:4], ()) if same_word(word, known)}
            hits.update(found)
        if not hits:
            return None
        top = max(hits.values())
        tied = sorted(self.ids[k] for k, n in hits.items() if n == top)
        if len(tied) == 1:
            return tied[0]
        close = difflib.get_close_matches(name, tied, n=1, cutoff=0.0)
        return close[0] if close else tied[0]


def _may_beat(bound: float, ident: str, best: tuple[float, str] | None) -> bool:
    """Whether an id whose ratio is at most ``bound`` could still be the answer."""
    return bound >= CUTOFF and (best is None or (bound, ident) > best)


@lru_cache(maxsize=64)
def _suggester(entries: tuple[tuple[str, tuple[str, ...]], ...]) -> Suggester:
    return Suggester(entries)


#: id(mapping) -> (the mapping, its size, its Suggester): a KB's tables are read
#: for every unknown id, and building their key (titles, synonyms) each time
#: would cost more than the suggestion. The mapping is held, so its id is not
#: reused while cached; a size change (a table still being filled) rebuilds.
_BY_TABLE: dict[int, tuple[Mapping[str, object], int, Suggester]] = {}
_TABLES_KEPT = 64


def _table_suggester(table: Mapping[str, object]) -> Suggester:
    cached = _BY_TABLE.get(id(table))
    if cached is not None and cached[0] is table and cached[1] == len(table):
        return cached[2]
    found = _suggester(tuple((str(k), _texts(v)) for k, v in table.items()))
    if len(_BY_TABLE) >= _TABLES_KEPT:
        _BY_TABLE.clear()
    _BY_TABLE[id(table)] = (table, len(table), found)
    return found


def _texts(value: object) -> tuple[str, ...]:
    """The title and synonyms of a KB entry (a competency...), when it has them."""
    title = getattr(value, "title", None)
    synonyms = getattr(value, "synonyms", None) or ()
    return tuple(t for t in (title, *synonyms) if isinstance(t, str))


def suggest(name: str, candidates: Iterable[str] | Mapping[str, object]) -> str | None:
    """The nearest existing id to ``name``, if one is close enough.

    Parameters
    ----------
    name : str
        An unknown id, as written.
    candidates : iterable of str, or mapping of str to an entry
        The ids that exist; a mapping's values (competencies, programmes...)
        lend their ``title`` and ``synonyms`` to the search by meaning.

    Returns
    -------
    str or None
        See :meth:`Suggester.suggest`. The vocabulary is indexed once and
        reused while it is unchanged.
    """
    if isinstance(candidates, Mapping):
        return _table_suggester(candidates).suggest(name)
    return _suggester(tuple((str(k), ()) for k in candidates)).suggest(name)
