"""The ``applies_if`` / ``ask_if`` language of scenario packages, parsed, never eval'd.

``always``, or comparisons ``slot op value`` joined by ``and`` / ``or``
(``and`` binds tighter; no parentheses). ``op`` is ``== != > >= < <=``;
``value`` is ``true``, ``false``, a number or a choice value such as ``company``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SLOT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TOKEN = re.compile(r"\s*(>=|<=|==|!=|>|<|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?)")
EQUALITY_OPS = frozenset({"==", "!="})
ORDER_OPS = frozenset({">", ">=", "<", "<="})


@dataclass(frozen=True)
class Comparison:
    """``slot op value``; an unanswered slot makes it false."""

    slot: str
    op: str
    value: bool | float | str

    def holds(self, answers: dict[str, Any]) -> bool:
        answer = answers.get(self.slot)
        if answer is None:
            return False
        if self.op == "==":
            return answer == self.value
        if self.op == "!=":
            return answer != self.value
        if isinstance(answer, bool) or not isinstance(answer, int | float):
            return False
        return {
            ">": answer > self.value,
            ">=": answer >= self.value,
            "<": answer < self.value,
            "<=": answer <= self.value,
        }[self.op]


@dataclass(frozen=True)
class Condition:
    """An ``or`` of ``and`` groups of comparisons; no groups means ``always``."""

    any_of: tuple[tuple[Comparison, ...], ...] = ()
    text: str = "always"

    def holds(self, answers: dict[str, Any]) -> bool:
        if not self.any_of:
            return True
        return any(all(c.holds(answers) for c in group) for group in self.any_of)

    @property
    def slots(self) -> frozenset[str]:
        return frozenset(c.slot for group in self.any_of for c in group)


def parse_condition(text: str) -> Condition:
    """Parse ``always`` or ``a == true and b > 100 or c == company``.

    ``and`` binds tighter than ``or``; there are no parentheses.

    Raises:
        ValueError: the text is not in the language.
    """
    tokens = _tokenize(text)
    if tokens == ["always"]:
        return Condition()
    groups: list[tuple[Comparison, ...]] = []
    for group_tokens in _split(tokens, "or"):
        parts = [_comparison(p) for p in _split(group_tokens, "and")]
        groups.append(tuple(parts))
    return Condition(any_of=tuple(groups), text=text.strip())


def _tokenize(text: str) -> list[str]:
    tokens, pos, text = [], 0, text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"unexpected text at {text[pos:]!r}")
        tokens.append(match.group(1))
        pos = match.end()
    if not tokens:
        raise ValueError("empty condition")
    return tokens


def _split(tokens: list[str], word: str) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for token in tokens:
        if token == word:
            parts.append([])
        else:
            parts[-1].append(token)
    if any(not part for part in parts):
        raise ValueError(f"'{word}' needs a comparison on each side")
    return parts


def _comparison(tokens: list[str]) -> Comparison:
    ops = EQUALITY_OPS | ORDER_OPS
    if len(tokens) != 3 or not SLOT_NAME.match(tokens[0]) or tokens[1] not in ops:
        raise ValueError(f"expected 'slot op value', got {' '.join(tokens)!r}")
    slot, op, raw = tokens
    value: bool | float | str
    if raw in {"true", "false"}:
        value = raw == "true"
    elif raw[0].isdigit():
        value = float(raw)
    else:
        value = raw
    if op in ORDER_OPS and not isinstance(value, float):
        raise ValueError(f"'{op}' needs a number, got {raw!r}")
    return Comparison(slot=slot, op=op, value=value)
