"""The searchable index: documents, their vectors, BM25 and identifiers.

On disk it is a directory (docs/interfaces.md):

- ``manifest.json``: model id, dimension, document count, source hash,
  text policy, score configuration and thresholds;
- ``docs.jsonl``: one document per line, in vector order;
- ``dense.faiss``: a faiss ``IndexFlatIP`` over the normalised title vectors;
- ``body.faiss``: the same over the body vectors, in the same order;
- ``bm25.npz``: the BM25 weights, so a load tokenises nothing (a
  100,000-entry index took a minute to load when BM25 was rebuilt);
- ``synonyms.json``: the synonym table the index was built with, as
  ``[alias, term]`` pairs, so a reloaded index brings its table along.

It is written into a temporary sibling directory and renamed into place, so
a reader never sees half an index. BM25 is rebuilt from ``docs.jsonl`` at
load time only when ``bm25.npz`` is absent (an index written before it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from knowledge_base.bm25 import Bm25
from knowledge_base.documents import TextPolicy
from knowledge_base.encoder import SETUP_HINT, Encoder
from knowledge_base.errors import IndexMissingError
from knowledge_base.identifiers import IdentifierTable
from knowledge_base.schema import Document, check_unique
from knowledge_base.scoring import ScoreConfig, Thresholds, from_mapping, to_dict
from knowledge_base.synonyms import SynonymTable
from knowledge_base.tokenizer import KbTokenizer

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2
MANIFEST, DOCS, DENSE, BODY = "manifest.json", "docs.jsonl", "dense.faiss", "body.faiss"
SYNONYMS, BM25_FILE = "synonyms.json", "bm25.npz"
# Below this many entries one faiss thread answers faster than two on a busy
# 2-core machine; above it two win (benchmarks/kb_speed.py).
SINGLE_THREAD_BELOW = 10_000


@dataclass(frozen=True)
class Manifest:
    """What an index was built from and how its scores are to be read."""

    index_id: str
    model_id: str
    dim: int
    doc_count: int
    source_hash: str
    text_policy: TextPolicy
    score_config: ScoreConfig
    thresholds: Thresholds
    built_at: str
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        raw = dataclasses.asdict(self)
        raw["score_config"] = to_dict(self.score_config)
        raw["thresholds"] = to_dict(self.thresholds)
        return json.dumps(raw, ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw = json.loads(text)
        raw["text_policy"] = TextPolicy(**raw["text_policy"])
        raw["score_config"] = from_mapping(ScoreConfig, raw["score_config"])
        raw["thresholds"] = from_mapping(Thresholds, raw["thresholds"])
        return cls(**raw)


class KbIndex:
    """Documents with their dense vectors, BM25 statistics and identifiers."""

    def __init__(
        self,
        documents: Sequence[Document],
        dense: faiss.Index,
        body: faiss.Index,
        tokenizer: KbTokenizer,
        manifest: Manifest,
        synonyms: SynonymTable | None = None,
        bm25: Bm25 | None = None,
    ):
        self.documents = list(documents)
        self.dense = dense
        self.body = body
        self.tokenizer = tokenizer
        self.manifest = manifest
        self.synonyms = synonyms if synonyms is not None else SynonymTable()
        self.rows = {doc.doc_id: row for row, doc in enumerate(self.documents)}
        self.bm25 = bm25 or Bm25(
            [tokenizer.tokens(doc.keyword_text) for doc in self.documents]
        )
        self.identifiers = IdentifierTable([doc.identifiers for doc in self.documents])
        self.combined = _combined(dense, body)
        faiss.omp_set_num_threads(
            1 if len(self.documents) < SINGLE_THREAD_BELOW else os.cpu_count() or 1
        )

    @classmethod
    def build(
        cls,
        documents: Sequence[Document],
        encoder: Encoder,
        tokenizer: KbTokenizer,
        *,
        source_hash: str,
        text_policy: TextPolicy,
        score_config: ScoreConfig,
        thresholds: Thresholds,
        synonyms: SynonymTable | None = None,
    ) -> KbIndex:
        """Embed ``documents`` and index them.

        Raises:
            InvalidDataError: two documents share an id.
        """
        check_unique((doc.doc_id, doc.kind) for doc in documents)
        started = time.perf_counter()
        dense = _flat(encoder, [doc.text for doc in documents])
        body = _flat(encoder, [doc.body_text or doc.text for doc in documents])
        manifest = Manifest(
            index_id=_index_id(source_hash, encoder.model_id),
            model_id=encoder.model_id,
            dim=encoder.dim,
            doc_count=len(documents),
            source_hash=source_hash,
            text_policy=text_policy,
            score_config=score_config,
            thresholds=thresholds,
            built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        if synonyms is not None:
            synonyms = synonyms.unspoken_in(doc.title for doc in documents)
        index = cls(documents, dense, body, tokenizer, manifest, synonyms)
        logger.info(
            "kb.index.built",
            extra={
                "docs": len(documents),
                "dim": encoder.dim,
                "seconds": round(time.perf_counter() - started, 1),
            },
        )
        return index

    def save(self, directory: Path) -> None:
        """Write the index to ``directory``, replacing any index there."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent)
        )
        tmp.chmod(0o755)  # mkdtemp makes it private; the index is not secret
        try:
            _write_docs(tmp / DOCS, self.documents)
            faiss.write_index(self.dense, str(tmp / DENSE))
            faiss.write_index(self.body, str(tmp / BODY))
            self.bm25.save(tmp / BM25_FILE)
            (tmp / SYNONYMS).write_text(
                json.dumps(sorted(self.synonyms.terms.items()), ensure_ascii=False),
                encoding="utf-8",
            )
            (tmp / MANIFEST).write_text(self.manifest.to_json(), encoding="utf-8")
            _replace_directory(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info("kb.index.saved", extra={"docs": len(self.documents)})

    @classmethod
    def load(cls, directory: Path, tokenizer: KbTokenizer) -> KbIndex:
        """Read an index written by :meth:`save`.

        Raises:
            IndexMissingError: no index there, or its files disagree.
        """
        manifest_path = directory / MANIFEST
        if not manifest_path.is_file():
            raise IndexMissingError(
                f"no knowledge-base index at {directory}; {SETUP_HINT}"
            )
        try:
            manifest = Manifest.from_json(manifest_path.read_text(encoding="utf-8"))
            documents = _read_docs(directory / DOCS)
            dense = faiss.read_index(str(directory / DENSE))
            body = faiss.read_index(str(directory / BODY))
            synonyms = _read_synonyms(directory / SYNONYMS)
            bm25_path = directory / BM25_FILE
            bm25 = Bm25.load(bm25_path) if bm25_path.is_file() else None
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise IndexMissingError(
                f"the index at {directory} cannot be read ({exc}); rebuild it with "
                "`python -m knowledge_base build --force`"
            ) from exc
        if (
            not len(documents) == dense.ntotal == body.ntotal == manifest.doc_count
            or dense.d != manifest.dim
            or body.d != manifest.dim
            or (bm25 is not None and bm25.doc_count != len(documents))
        ):
            raise IndexMissingError(
                f"the index at {directory} is inconsistent; rebuild it with "
                "`python -m knowledge_base build --force`"
            )
        index = cls(documents, dense, body, tokenizer, manifest, synonyms, bm25)
        logger.info("kb.index.loaded", extra={"docs": len(documents), "dim": dense.d})
        return index


def _flat(encoder: Encoder, texts: list[str]) -> faiss.Index:
    """An exact inner-product index over the texts' vectors.

    Exact search stays under the latency target at 100,000 entries
    (benchmarks/kb.py), so no approximate index is worth its recall loss.
    """
    index = faiss.IndexFlatIP(encoder.dim)
    if texts:
        vectors = encoder.encode_passages(texts)
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _combined(dense: faiss.Index, body: faiss.Index) -> faiss.Index:
    """One index over title + body vectors, for finding the dense candidates.

    q·(t + b) = cos(q, t) + cos(q, b): one exact search ranks entries by the
    dense leg before its clipping, at half the cost of searching both.
    """
    combined = faiss.IndexFlatIP(dense.d)
    if dense.ntotal:
        combined.add(
            dense.reconstruct_n(0, dense.ntotal) + body.reconstruct_n(0, body.ntotal)
        )
    return combined


def _index_id(source_hash: str, model_id: str) -> str:
    return hashlib.sha256(f"{source_hash}\0{model_id}".encode()).hexdigest()[:12]


def _write_docs(path: Path, documents: Sequence[Document]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for doc in documents:
            handle.write(json.dumps(dataclasses.asdict(doc), ensure_ascii=False) + "\n")


def _read_docs(path: Path) -> list[Document]:
    documents = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            raw: dict[str, Any] = json.loads(line)
            raw["identifiers"] = tuple(raw.get("identifiers", ()))
            documents.append(Document(**raw))
    return documents


def _read_synonyms(path: Path) -> SynonymTable:
    if not path.is_file():  # an index from before the table existed
        return SynonymTable()
    pairs = json.loads(path.read_text(encoding="utf-8"))
    return SynonymTable((str(alias), str(term)) for alias, term in pairs)


def _replace_directory(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an old ``target`` is moved aside, then removed."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_manifest(directory: Path) -> Manifest | None:
    """The manifest of the index in ``directory``, or ``None`` if unreadable."""
    try:
        return Manifest.from_json((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
