"""A sentencepiece "precompiled charsmap" built from a per-code-point map.

``tokenizers.normalizers.Precompiled`` reads sentencepiece's binary format: the
byte size of a darts-clone double-array trie (u32, little-endian), the trie's
u32 units, then the replacement strings, each ending in NUL. The trie maps the
UTF-8 bytes of a source character to the offset of its replacement.

Unit layout (darts-clone, as read by the ``spm_precompiled`` crate):
bits 0-7 label, bit 8 "has a value", bits 10-30 XOR offset to the children's
base; a value unit sets bit 31 and holds the value in bits 0-30. The children
of a node with base ``b`` sit at ``b ^ label``, its value at ``b ^ 0``. The
array is a whole number of 256-unit blocks, since readers index it unchecked.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

_HAS_LEAF = 1 << 8
_IS_VALUE = 1 << 31
_MAX_OFFSET = 1 << 21  # offsets past this need darts' extension bit
_SEARCH_WINDOW = 256


@dataclass
class _Node:
    children: dict[int, _Node] = field(default_factory=dict)
    value: int | None = None


def build_precompiled_charsmap(char_map: Mapping[int, str]) -> bytes:
    """Encode ``char_map`` (code point -> replacement) for ``Precompiled``.

    The bytes depend only on the map's contents, not on its order.
    """
    blob, offsets = _replacement_blob(char_map)
    root = _Node()
    for code_point in sorted(char_map):
        node = root
        for byte in chr(code_point).encode("utf-8"):
            node = node.children.setdefault(byte, _Node())
        node.value = offsets[char_map[code_point]]
    units = _DoubleArray().build(root)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + blob


def _replacement_blob(char_map: Mapping[int, str]) -> tuple[bytes, dict[str, int]]:
    """NUL-terminated distinct replacements, in code-point order of first use."""
    blob = bytearray()
    offsets: dict[str, int] = {}
    for code_point in sorted(char_map):
        text = char_map[code_point]
        if "\x00" in text:
            raise ValueError(f"replacement for U+{code_point:04X} contains NUL")
        if text not in offsets:
            offsets[text] = len(blob)
            blob += text.encode("utf-8") + b"\x00"
    return bytes(blob), offsets


class _DoubleArray:
    """First-fit placement of trie nodes into darts-clone units."""

    def __init__(self) -> None:
        self.units: list[int] = [0]
        self.used: list[bool] = [True]  # position 0 is the root
        self.bases: set[int] = set()
        self.first_free = 1

    def build(self, root: _Node) -> list[int]:
        pending = deque([(0, root)])
        while pending:
            position, node = pending.popleft()
            base = self._place(node)
            label = self.units[position] & 0xFF
            flags = _HAS_LEAF if node.value is not None else 0
            self.units[position] = ((position ^ base) << 10) | flags | label
            if node.value is not None:
                self.units[base] = _IS_VALUE | node.value
            for byte, child in sorted(node.children.items()):
                self.units[base ^ byte] = byte
                pending.append((base ^ byte, child))
        # Readers do not bounds-check ``base ^ byte``: whole 256-unit blocks
        # keep every such index inside the array, as darts-clone's do.
        self.units.extend([0] * (-len(self.units) % 256))
        return self.units

    def _place(self, node: _Node) -> int:
        """Find a free base for ``node``'s value slot and children, and claim it."""
        labels = ([0] if node.value is not None else []) + sorted(node.children)
        while not self._fits(self.first_free, [0]):
            self.first_free += 1
        candidate = self.first_free
        if len(labels) > 1:
            # Only the last stretch of the array has room for wide nodes:
            # starting there keeps the build fast for a few unused units.
            candidate = max(candidate, len(self.used) - _SEARCH_WINDOW)
        while not self._fits(candidate ^ labels[0], labels):
            candidate += 1
        base = candidate ^ labels[0]
        slots = [base ^ label for label in labels]
        if base >= _MAX_OFFSET:
            raise ValueError("character map too large for a simple double array")
        self.bases.add(base)
        for slot in slots:
            self._claim(slot)
        return base

    def _fits(self, base: int, labels: list[int]) -> bool:
        if base == 0 or base in self.bases:
            return False
        return all(self._free(base ^ label) for label in labels)

    def _free(self, position: int) -> bool:
        return position != 0 and (position >= len(self.used) or not self.used[position])

    def _claim(self, position: int) -> None:
        if position >= len(self.used):
            grow = position + 1 - len(self.used)
            self.used.extend([False] * grow)
            self.units.extend([0] * grow)
        self.used[position] = True


def lookup(charsmap: bytes, text: str) -> str | None:
    """The replacement for ``text`` (one character), read back from ``charsmap``.

    A pure-Python reader for tests and diagnostics; ``None`` when unmapped.
    """
    (size,) = struct.unpack_from("<I", charsmap, 0)
    units = struct.unpack_from(f"<{size // 4}I", charsmap, 4)
    blob = charsmap[4 + size :]
    position = (units[0] >> 10) ^ 0
    value = None
    for byte in text.encode("utf-8"):
        position ^= byte
        if position >= len(units) or units[position] & (_IS_VALUE | 0xFF) != byte:
            return None
        unit = units[position]
        position ^= unit >> 10
        if unit & _HAS_LEAF:
            value = units[position] & ~_IS_VALUE
    if value is None:
        return None
    return blob[value : blob.index(b"\x00", value)].decode("utf-8")
