"""Reading operator-supplied YAML and JSON Lines without tracebacks.

Whatever the bytes, the readers give Python values or an
:class:`~knowledge_base.errors.InvalidDataError` naming the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.reader import ReaderError

from knowledge_base.errors import InvalidDataError

# No guide, FAQ or scenario file nests deeper than about six levels; PyYAML's
# composer recurses once per level and would hit RecursionError near 1000.
MAX_YAML_DEPTH = 64

_TEXT_KEY_TAGS = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"})


class CheckedYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` whose every surprise is a ``YAMLError`` with a line.

    Plain SafeLoader lets three things through as other exceptions: an
    impossible date (``2026-02-30``, ValueError), documents nested thousands
    deep (RecursionError), and keys that are not text (``{1: a, b: c}``), which
    break the schema's sorting of unknown field names with a TypeError.
    """

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_YAML_DEPTH} levels deep",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        for key_node, _ in node.value:
            if key_node.tag not in _TEXT_KEY_TAGS:
                raise ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"a key must be text, not {key_node.tag.rsplit(':', 1)[-1]}",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise ConstructorError(
                None, None, f"not a calendar date: {node.value!r}", node.start_mark
            ) from exc


CheckedYamlLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", CheckedYamlLoader.construct_yaml_timestamp
)


def read_yaml(path: Path) -> Any:
    """The YAML document in ``path``, built only from plain YAML types.

    Raises:
        InvalidDataError: the file cannot be read, is not UTF-8, or is not
            YAML our schema could hold; the message names the file and line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDataError(f"{path.name}: not UTF-8 text") from exc
    except OSError as exc:
        raise InvalidDataError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        # The reader already refuses control characters, so it is inside the try.
        loader = CheckedYamlLoader(text)
        loader.name = path.name  # marks then say "g.yml", not "<unicode string>"
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except ReaderError as exc:
        # Its message gives a character offset only.
        line = text.count("\n", 0, exc.position) + 1
        raise InvalidDataError(
            f"{path.name}:{line}: not valid YAML: character U+{exc.character:04X}"
            " is not allowed"
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidDataError(f"{path.name}: not valid YAML: {exc}") from exc


def read_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for each non-blank line of ``path``.

    Raises:
        InvalidDataError: the file cannot be read, or a line is not UTF-8 or
            not JSON (nested too deep counts as not JSON); names the line.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidDataError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path.name}:{number}"
            line = _decoded(raw, where)
            if line.strip():
                yield number, _parsed(line, where)


def _decoded(raw: bytes, where: str) -> str:
    # Line by line, so that bad bytes are reported with their line.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDataError(f"{where}: not UTF-8 text") from exc


def _parsed(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidDataError(f"{where}: not a JSON object: {exc}") from exc
    except RecursionError as exc:
        raise InvalidDataError(f"{where}: JSON nested too deep") from exc
