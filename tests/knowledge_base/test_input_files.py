from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from knowledge_base.errors import InvalidDataError
from knowledge_base.input_files import MAX_YAML_DEPTH, read_json_lines, read_yaml


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a: 1\nb: 2026-02-30\n", r'g\.yml: .*calendar date.*"g\.yml", line 2'),
        (b"a: 1\nguides:\n- {1: a, b: c}\n", r"g\.yml: .*key must be text.*line 3"),
        (b"null: a\n", r"key must be text, not null.*line 1"),
        (b"[x]: a\n", r"key must be text, not seq.*line 1"),
        (b"a: " + b"[" * 3000 + b"\n", rf"nested more than {MAX_YAML_DEPTH}.*line 1"),
        (b"a:\n" + b"".join(b"  " * n + b"- b:\n" for n in range(200)), "nested"),
        (b"topic: [unclosed", r"not valid YAML.*line 1"),
        (b"topic: \xff\n", r"g\.yml: not UTF-8 text"),
        (b"a: 1\ntopic: \x1f\n", r"g\.yml:2: not valid YAML: character U\+001F"),
    ],
    ids=["bad-date", "int-key", "null-key", "list-key", "deep-flow", "deep-block",
         "unclosed", "not-utf8", "control-char"],
)  # fmt: skip
def test_read_yaml_names_the_file_and_line_of_what_it_refuses(tmp_path, data, message):
    with pytest.raises(InvalidDataError, match=f"(?s){message}"):
        read_yaml(write(tmp_path, "g.yml", data))


def test_read_yaml_keeps_dates_merges_and_nesting_within_the_limit(tmp_path):
    nested = "a: " + "[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1) + "\n"
    path = write(
        tmp_path,
        "g.yml",
        b"base: &b {x: 1}\nitem: {<<: *b, y: 2}\nday: 2026-02-28\n" + nested.encode(),
    )

    value = read_yaml(path)

    assert value["item"] == {"x": 1, "y": 2}
    assert value["day"] == dt.date(2026, 2, 28)


def test_read_yaml_names_a_missing_file(tmp_path):
    with pytest.raises(InvalidDataError, match="cannot read"):
        read_yaml(tmp_path / "absent.yml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a": 1}\n\xff\xfe\n', r"f\.jsonl:2: not UTF-8"),
        (b'{"a": 1}\n{"a": "\xe5"}\n', r"f\.jsonl:2: not UTF-8"),
        (b"\n" + b"[" * 5000 + b"\n", r"f\.jsonl:2: JSON nested too deep"),
        (b'{"a": 1}\n{bad\n', r"f\.jsonl:2: not a JSON object"),
    ],
    ids=["bom-bytes", "cut-utf8", "deep", "bad-json"],
)
def test_read_json_lines_names_the_line_it_refuses(tmp_path, data, message):
    with pytest.raises(InvalidDataError, match=message):
        list(read_json_lines(write(tmp_path, "f.jsonl", data)))


def test_read_json_lines_skips_blank_lines_and_numbers_the_rest(tmp_path):
    path = write(tmp_path, "f.jsonl", '{"问": 1}\r\n\n  \n[2]'.encode())

    assert list(read_json_lines(path)) == [(1, {"问": 1}), (4, [2])]


def test_read_json_lines_names_a_missing_file(tmp_path):
    with pytest.raises(InvalidDataError, match="cannot read"):
        list(read_json_lines(tmp_path / "absent.jsonl"))
