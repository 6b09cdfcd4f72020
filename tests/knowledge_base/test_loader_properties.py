"""Properties of the importers: any file loads or gives InvalidDataError.

The FAQ and catalogue JSON Lines readers and the guide YAML reader are fed
random bytes, random JSON and YAML values and random field sets; valid FAQ
entries survive the round trip.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge_base.errors import InvalidDataError
from knowledge_base.loader import (
    CATALOGUE_FIELDS,
    load_faq,
    load_guide_catalogue,
    load_guides,
)

PROPERTY = settings(max_examples=200, deadline=None)
# One catalogue field: a scalar or a short list (what the crawl holds).
FIELD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=20),
    st.lists(st.text(max_size=10), max_size=3),
)  # fmt: skip
FAQ_KEYS = st.sampled_from(["id", "question", "answer", "department", "source", "x"])
# Words without blanks, so the schema's blank clean-up leaves them as they are.
WORDS = st.text(
    st.characters(whitelist_categories=("Lo", "Lu", "Ll", "Nd")),
    min_size=1,
    max_size=40,
)


def _load(loader: Callable[[Path], Any], name: str, data: bytes) -> Any:
    """Write ``data`` to a fresh file and load it; returns the records or None."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        target = Path(folder) if loader is load_guides else path
        try:
            return loader(target)
        except InvalidDataError:
            return None


def _lines(values: list[Any]) -> bytes:
    return "\n".join(json.dumps(v, ensure_ascii=False) for v in values).encode()


@PROPERTY
@given(
    st.lists(
        st.one_of(
            FIELD_VALUES,
            st.dictionaries(FAQ_KEYS, FIELD_VALUES, max_size=6),
            st.dictionaries(FAQ_KEYS, WORDS, min_size=3, max_size=6),
        ),
        max_size=4,
    )
)
def test_any_faq_lines_load_or_give_invalid_data(values):
    entries = _load(load_faq, "faq.jsonl", _lines(values))

    assert entries is None or len(entries) == len(values)


@PROPERTY
@given(st.lists(st.text(max_size=80), max_size=6))
def test_any_text_lines_load_or_give_invalid_data(lines):
    _load(load_faq, "faq.jsonl", "\n".join(lines).encode("utf-8"))


@PROPERTY
@given(
    st.lists(
        st.fixed_dictionaries(
            {"question": WORDS, "answer": WORDS},
            optional={"department": WORDS, "source": WORDS},
        ),
        max_size=8,
    )
)
def test_valid_faq_entries_round_trip(entries):
    rows = [{"id": f"faq-{n:04d}", **entry} for n, entry in enumerate(entries)]

    loaded = _load(load_faq, "faq.jsonl", _lines(rows))

    assert loaded is not None
    for row, entry in zip(rows, loaded, strict=True):
        assert {key: getattr(entry, key) for key in row} == row


@PROPERTY
@given(
    st.lists(
        st.one_of(
            st.fixed_dictionaries({name: FIELD_VALUES for name in CATALOGUE_FIELDS}),
            st.fixed_dictionaries({name: WORDS for name in CATALOGUE_FIELDS}),
            FIELD_VALUES,
        ),
        max_size=3,
    )
)
def test_any_catalogue_lines_load_or_give_invalid_data(values):
    _load(load_guide_catalogue, "catalogue.jsonl", _lines(values))


GUIDE_KEYS = st.sampled_from(
    ["id", "name", "audience", "department", "eligibility", "required_materials",
     "legal_days", "promised_days", "fee", "sources", "online", "x"]
)  # fmt: skip
YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | WORDS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=6,
)


@PROPERTY
@given(
    st.one_of(
        st.fixed_dictionaries(
            {
                "topic": YAML_VALUES,
                "guides": st.lists(
                    st.dictionaries(GUIDE_KEYS, YAML_VALUES, max_size=8), max_size=2
                ),
            }
        ),
        YAML_VALUES,
    )
)
def test_any_guide_yaml_loads_or_gives_invalid_data(document):
    _load(
        load_guides, "guides.yml", yaml.safe_dump(document, allow_unicode=True).encode()
    )


@PROPERTY
@given(st.text(max_size=300))
def test_any_yaml_text_loads_or_gives_invalid_data(text):
    _load(load_guides, "guides.yml", text.encode("utf-8"))


@pytest.mark.parametrize(
    ("loader", "name", "data"),
    [
        # Decoding happens while iterating the file, outside the try.
        (load_faq, "faq.jsonl", b"\xff\xfe\n"),
        (load_guide_catalogue, "catalogue.jsonl", b'{"a": "\xe5"}\n'),
        # json.loads raises RecursionError, not JSONDecodeError.
        (load_faq, "faq.jsonl", b"[" * 5000 + b"\n"),
        # PyYAML builds dates itself and raises ValueError for 2026-02-30.
        (load_guides, "guides.yml", b"topic: t\nguides:\n- {id: 2026-02-30}\n"),
        # Keys of mixed types: sorting the unknown ones raises TypeError.
        (load_guides, "guides.yml", b"topic: t\nguides:\n- {1: a, b: c}\n"),
        (load_guides, "guides.yml", b"topic: t\nguides: " + b"[" * 3000 + b"\n"),
    ],
    ids=["faq-not-utf8", "catalogue-not-utf8", "deep-json", "bad-date", "int-key",
         "deep-yaml"],
)  # fmt: skip
def test_known_importer_escapes_give_invalid_data(loader, name, data):
    _load(loader, name, data)
