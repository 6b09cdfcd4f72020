"""Citizens' words for official terms, applied to a query before both legs.

``knowledge_base/data/synonyms.yml`` maps everyday names, old names,
abbreviations and common typos (良民证, 暂住证, 房本, 失叶金) to the term the
guides use. An operator extends it; ``build`` copies it into the index, so
the running service picks up a new entry with the next index it reloads.

At query time each alias found in the query (longest first, never two
overlapping) is rewritten to its term for the dense leg, and the term is
added to the keyword leg's tokens while the alias stays there too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge_base.errors import InvalidDataError
from knowledge_base.input_files import read_yaml

SYNONYMS_FILE = "synonyms.yml"
MIN_ALIAS_CHARS = 2


@dataclass(frozen=True)
class Rewrite:
    """One alias found in a query and the term it stands for."""

    alias: str
    term: str


@dataclass(frozen=True)
class Expansion:
    """A query after the synonym table.

    Attributes:
        text: the query with every alias replaced by its term (dense leg).
        added_terms: the terms to add to the keyword leg.
        rewrites: what was replaced, in query order (for ``query --explain``).
    """

    text: str
    added_terms: tuple[str, ...]
    rewrites: tuple[Rewrite, ...]


class SynonymTable:
    """Alias → term lookups over a query.

    Args:
        pairs: ``(alias, term)`` pairs; checked by :func:`check_pairs`.
    """

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()):
        self.terms: dict[str, str] = dict(pairs)
        # Longest alias first, so 港澳通行证签注 wins over 港澳通行证.
        self._aliases = sorted(self.terms, key=lambda alias: (-len(alias), alias))

    def __len__(self) -> int:
        return len(self.terms)

    def unspoken_in(self, titles: Iterable[str]) -> SynonymTable:
        """The table without aliases that any of ``titles`` uses itself.

        When the knowledge base's own questions say 房本 or 公积金贷款, a
        query saying it already matches them, and rewriting it to the formal
        term only pulls the query towards other entries (measured on the
        Beijing FAQ set: docs/knowledge-base.md).
        """
        joined = "\n".join(titles)
        return SynonymTable(
            (alias, term) for alias, term in self.terms.items() if alias not in joined
        )

    def expand(self, query: str) -> Expansion:
        """Rewrite the aliases in ``query`` (see the module docstring)."""
        taken = [False] * len(query)
        found: list[tuple[int, str]] = []
        for alias in self._aliases:
            start = query.find(alias)
            while start != -1:
                end = start + len(alias)
                if not any(taken[start:end]):
                    taken[start:end] = [True] * len(alias)
                    found.append((start, alias))
                start = query.find(alias, end)
        if not found:
            return Expansion(query, (), ())
        found.sort()
        parts, cursor = [], 0
        for start, alias in found:
            parts += [query[cursor:start], self.terms[alias]]
            cursor = start + len(alias)
        parts.append(query[cursor:])
        rewrites = tuple(Rewrite(alias, self.terms[alias]) for _, alias in found)
        added = tuple(dict.fromkeys(rewrite.term for rewrite in rewrites))
        return Expansion("".join(parts), added, rewrites)


def parse_synonyms(raw: Any, origin: str) -> list[tuple[str, str]]:
    """``(alias, term)`` pairs from the YAML mapping of ``synonyms.yml``.

    Raises:
        InvalidDataError: the shape is wrong, an alias is too short, equals
            or contains its term, or is listed under two terms.
    """
    if not isinstance(raw, Mapping) or not isinstance(raw.get("entries"), list):
        raise InvalidDataError(f"{origin}: expected a mapping with an `entries` list")
    pairs: list[tuple[str, str]] = []
    owner: dict[str, str] = {}
    for number, entry in enumerate(raw["entries"], 1):
        where = f"{origin}: entry {number}"
        if not isinstance(entry, Mapping):
            raise InvalidDataError(f"{where}: expected a mapping with term and aliases")
        term, aliases = entry.get("term"), entry.get("aliases")
        if not isinstance(term, str) or not term.strip():
            raise InvalidDataError(f"{where}: term must be non-empty text")
        if not isinstance(aliases, list) or not aliases:
            raise InvalidDataError(
                f"{where} ({term}): aliases must be a non-empty list"
            )
        term = term.strip()
        for alias in aliases:
            if not isinstance(alias, str):
                raise InvalidDataError(f"{where} ({term}): aliases must be text")
            alias = alias.strip()
            if len(alias) < MIN_ALIAS_CHARS:
                raise InvalidDataError(
                    f"{where} ({term}): alias {alias!r} is too short"
                )
            if term in alias:
                raise InvalidDataError(
                    f"{where} ({term}): alias {alias!r} contains the term itself"
                )
            if alias in owner and owner[alias] != term:
                raise InvalidDataError(
                    f"{where}: alias {alias!r} is listed under both "
                    f"{owner[alias]!r} and {term!r}"
                )
            owner[alias] = term
            pairs.append((alias, term))
    return pairs


def load_synonyms(path: Path) -> SynonymTable:
    """The table in ``path``; an absent file is an empty table.

    Raises:
        InvalidDataError: the file is not valid YAML or not a valid table.
    """
    if not path.is_file():
        return SynonymTable()
    raw = read_yaml(path)
    return SynonymTable(parse_synonyms(raw, str(path)))
