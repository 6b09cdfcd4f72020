"""``manifest.json``: where a built model came from and what its files hold.

``make setup`` skips the conversion when the manifest names the installed
source file and every file still has its recorded hash. The content hash also
keys thresholds and caches through :attr:`Manifest.model_id`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from knowledge_base.embedder.errors import EmbedderNotBuilt
from knowledge_base.embedder.source import SourceInfo

MANIFEST_NAME = "manifest.json"
# Bump when the converter writes different bytes for the same source file.
CONVERTER_VERSION = 1
MODEL_NAME = "multilingual-e5-small"
_NOT_BUILT = "run `make setup` (or `python -m knowledge_base.embedder build`)"


@dataclass(frozen=True)
class Manifest:
    """The build record of one converted model folder."""

    model_name: str
    converter_version: int
    source_package: str
    source_version: str
    source_file: str
    source_sha256: str
    dim: int
    max_seq_length: int
    content_sha256: str
    # Relative path -> {"size": bytes, "sha256": hex digest}.
    files: dict[str, dict[str, int | str]]

    @property
    def model_id(self) -> str:
        """Short and stable: ``multilingual-e5-small-q4@<first 12 of content hash>``."""
        return f"{self.model_name}-q4@{self.content_sha256[:12]}"

    def matches_source(self, source: SourceInfo) -> bool:
        """True when this build came from ``source`` with this converter."""
        return (
            self.converter_version == CONVERTER_VERSION
            and self.source_version == source.package_version
            and self.source_sha256 == source.sha256
        )


def file_records(model_dir: Path) -> dict[str, dict[str, int | str]]:
    """Size and sha256 of every file under ``model_dir`` except the manifest."""
    records: dict[str, dict[str, int | str]] = {}
    for path in sorted(model_dir.rglob("*")):
        relative = path.relative_to(model_dir).as_posix()
        if path.is_file() and relative != MANIFEST_NAME:
            records[relative] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    return records


def content_hash(records: dict[str, dict[str, int | str]]) -> str:
    """One digest over the (path, sha256) pairs, independent of build time."""
    digest = hashlib.sha256()
    for relative in sorted(records):
        digest.update(f"{relative}\t{records[relative]['sha256']}\n".encode())
    return digest.hexdigest()


def write_manifest(manifest: Manifest, model_dir: Path) -> Path:
    """Write ``manifest.json`` (sorted keys, so the same build gives the same bytes)."""
    path = model_dir / MANIFEST_NAME
    path.write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True) + "\n")
    return path


def read_manifest(model_dir: Path) -> Manifest:
    """Read the manifest of a built model folder.

    Raises:
        EmbedderNotBuilt: the folder or its manifest is missing or unreadable.
    """
    path = model_dir / MANIFEST_NAME
    if not model_dir.is_dir():
        raise EmbedderNotBuilt(f"no embedding model at {model_dir}: {_NOT_BUILT}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Manifest(**data)
    except FileNotFoundError as exc:
        raise EmbedderNotBuilt(
            f"{model_dir} has no {MANIFEST_NAME} (an unfinished build?): {_NOT_BUILT}"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise EmbedderNotBuilt(f"{path} is unreadable: {_NOT_BUILT}") from exc


def check_files(manifest: Manifest, model_dir: Path, *, full: bool) -> list[str]:
    """Files that are missing or differ from the manifest.

    Args:
        full: compare sha256 digests too, not only sizes (reads every byte).
    """
    problems = []
    for relative, record in manifest.files.items():
        path = model_dir / relative
        intact = path.is_file() and path.stat().st_size == record["size"]
        if not intact or (full and _sha256(path) != record["sha256"]):
            problems.append(relative)
    return problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
