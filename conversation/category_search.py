"""Finding the category a resident typed ("卫生间漏水了" → 漏水), for ``intake``.

Each leaf's names and keywords are casefolded once per configuration; a typed text
matches a term that occurs in it, or (two characters or more) occurs in a term; Latin
terms match whole words only.

Pure: no store, no network, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from config.model import CategoryGroup


def search(query: str, groups: tuple[CategoryGroup, ...]) -> list[str]:
    """Leaf codes whose zh/en name or keywords match the typed (casefolded) text; an
    exact name wins."""
    index = _leaves(groups)
    leaves = index.leaves
    exact = [code for code, names, _ in leaves if query in names]
    if exact:
        return exact
    # Only a leaf with a term inside the text, or the text inside one of its terms, can
    # match (``_matches`` then asks about whole words): found with one pass of plain
    # substring tests instead of a call per term of every leaf.
    near = {i for term, i in index.terms if term in query}
    if len(query) >= 2:
        near.update(i for i, joined in enumerate(index.joined) if query in joined)
    return [
        code
        for i, (code, _, terms) in enumerate(leaves)
        if i in near and any(_matches(query, term) for term in terms)
    ]


_Leaves = tuple[tuple[str, tuple[str, str], tuple[str, ...]], ...]


@dataclass(frozen=True)
class _Index:
    groups: tuple[CategoryGroup, ...]
    leaves: _Leaves
    terms: tuple[tuple[str, int], ...]  # every term with its leaf's position
    joined: tuple[str, ...]  # each leaf's terms in one text, "\n" between them


_LEAVES: dict[int, _Index] = {}


def _leaves(groups: tuple[CategoryGroup, ...]) -> _Index:
    """Each leaf's code, its names and its search terms (names and keywords), casefolded
    once per configuration rather than at every typed message (a tenth of a step). Kept
    by the identity of the configuration's tree: hashing the tree would cost as much."""
    known = _LEAVES.get(id(groups))
    if known is not None and known.groups is groups:
        return known
    leaves = tuple(
        (
            c.code,
            (c.zh.casefold(), c.en.casefold()),
            tuple(term.casefold() for term in (c.zh, c.en, *c.keywords) if term),
        )
        for group in groups
        for c in group.children
    )
    index = _Index(
        groups,
        leaves,
        tuple((term, i) for i, (_, _, terms) in enumerate(leaves) for term in terms),
        tuple("\n".join(terms) for _, _, terms in leaves),
    )
    if len(_LEAVES) >= 16:  # configurations of a test run, a reload now and then
        _LEAVES.clear()
    _LEAVES[id(groups)] = index
    return index


def _matches(query: str, term: str) -> bool:
    """The term occurs in what was typed ("水管漏水了" ∋ "漏水"), or a typed fragment of two
    or more characters occurs in the term ("宽" does not, "宽带" does). Latin terms match
    whole words only, so "ac" does not match "black"."""
    return _contains(query, term) or (len(query) >= 2 and _contains(term, query))


def overlap(query: str, name: str) -> bool:
    """The name occurs in what was typed, or what was typed in the name."""
    return _contains(query, name) or _contains(name, query)


def _contains(hay: str, needle: str) -> bool:
    if needle not in hay:  # no substring, no word either: most terms stop here
        return False
    if needle.isascii():
        return _word(needle).search(hay) is not None
    return True


@lru_cache(maxsize=1024)
def _word(needle: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(needle)}(?!\w)")
