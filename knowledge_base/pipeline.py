"""Putting the parts together: sources → documents → index → searcher.

The CLI and the service call these; each step is a function that a test can
call with a small model double and a temporary directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.settings import Settings
from knowledge_base.calibration import load_calibration
from knowledge_base.documents import TextPolicy, build_documents
from knowledge_base.encoder import CachedEncoder, Encoder, load_encoder
from knowledge_base.index import (
    FORMAT_VERSION,
    MANIFEST,
    KbIndex,
    Manifest,
    read_manifest,
)
from knowledge_base.lifecycle import WITHDRAWN_FILE, build_lock, read_withdrawn
from knowledge_base.loader import load_faq, load_guide_catalogue, load_guides
from knowledge_base.schema import Document
from knowledge_base.scoring import ScoreConfig, Thresholds
from knowledge_base.search import Searcher
from knowledge_base.synonyms import SYNONYMS_FILE, SynonymTable, load_synonyms
from knowledge_base.tokenizer import KbTokenizer, dictionary_hash

logger = logging.getLogger(__name__)

CALIBRATION_FILE = "calibration.json"
DICT_DIR = "dict"


@dataclass(frozen=True)
class Sources:
    """Where the documents come from.

    Attributes:
        guide_dirs: folders of guide YAML (our schema).
        faq_files: FAQ JSON Lines files.
        catalogues: guide catalogues in the Guangdong JSON Lines shape.
    """

    guide_dirs: tuple[Path, ...] = ()
    faq_files: tuple[Path, ...] = ()
    catalogues: tuple[Path, ...] = ()

    def files(self) -> list[Path]:
        """Every input file, in a stable order (for the source hash)."""
        guide_files = [
            path
            for folder in self.guide_dirs
            for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
        ]
        return [*guide_files, *self.faq_files, *self.catalogues]


@dataclass(frozen=True)
class Layout:
    """Where the knowledge base reads and writes (from ``bot.settings``)."""

    data_dir: Path
    embedder_dir: Path
    index_dir: Path
    cache_dir: Path
    text_policy: TextPolicy = field(default_factory=TextPolicy)

    @classmethod
    def from_settings(cls, settings: Settings) -> Layout:
        return cls(
            data_dir=settings.kb_data_dir,
            embedder_dir=settings.embedder_dir,
            index_dir=settings.index_dir,
            cache_dir=settings.build_dir / "cache",
        )

    @property
    def dict_dir(self) -> Path:
        return self.data_dir / DICT_DIR

    @property
    def calibration_file(self) -> Path:
        return self.data_dir / CALIBRATION_FILE

    @property
    def synonyms_file(self) -> Path:
        return self.data_dir / SYNONYMS_FILE

    def synonyms(self) -> SynonymTable:
        return load_synonyms(self.synonyms_file)

    def default_sources(self) -> Sources:
        """The sample guides and any FAQ files shipped in ``data_dir``."""
        faq_dir = self.data_dir / "faq"
        faq_files = tuple(sorted(faq_dir.glob("*.jsonl"))) if faq_dir.is_dir() else ()
        return Sources(guide_dirs=(self.data_dir / "guides",), faq_files=faq_files)


def load_documents(sources: Sources, policy: TextPolicy) -> list[Document]:
    """Read and check every source, then turn the records into documents."""
    guides = [guide for folder in sources.guide_dirs for guide in load_guides(folder)]
    guides += [
        guide for path in sources.catalogues for guide in load_guide_catalogue(path)
    ]
    faq = [entry for path in sources.faq_files for entry in load_faq(path)]
    return build_documents(guides, faq, policy)


def source_hash(layout: Layout, sources: Sources) -> str:
    """A hash of everything an index depends on except the code's logic.

    Covers the input files, the dictionary, the text policy, the
    calibration file, the embedder's manifest and the index format.
    """
    digest = hashlib.sha256(f"format={FORMAT_VERSION}\0{layout.text_policy}".encode())
    extra = [
        layout.calibration_file,
        layout.synonyms_file,
        layout.data_dir / WITHDRAWN_FILE,
        layout.embedder_dir / MANIFEST,
    ]
    for path in [*sources.files(), *extra]:
        digest.update(str(path.name).encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")
    digest.update(dictionary_hash(layout.dict_dir).encode())
    return digest.hexdigest()


def scoring_for(layout: Layout, model_id: str) -> tuple[ScoreConfig, Thresholds]:
    """The calibrated scoring for ``model_id``, or the defaults with a warning."""
    calibrated = load_calibration(layout.calibration_file, model_id)
    if calibrated is None:
        logger.warning("kb.calibration.missing", extra={"model": model_id})
        return ScoreConfig(), Thresholds()
    return calibrated


def build(
    layout: Layout,
    sources: Sources,
    force: bool = False,
    encoder: Encoder | None = None,
    lock: bool = True,
) -> tuple[Manifest, bool]:
    """Build the index into ``layout.index_dir`` unless it is up to date.

    One writer at a time (``lifecycle.build_lock``; ``lock=False`` when the
    caller already holds it); withdrawn entries are left out.

    Returns:
        The manifest and whether a new index was written.

    Raises:
        ModelMissingError, DictionaryMissingError, InvalidDataError: from the
            steps, with messages naming the file or the command to run.
    """
    if not lock:
        return _build_locked(layout, sources, force, encoder)
    with build_lock(layout.index_dir):
        return _build_locked(layout, sources, force, encoder)


def _build_locked(
    layout: Layout, sources: Sources, force: bool, encoder: Encoder | None
) -> tuple[Manifest, bool]:
    wanted = source_hash(layout, sources)
    current = read_manifest(layout.index_dir)
    if current is not None and current.source_hash == wanted and not force:
        # Touch the manifest so that make sees the target as fresh.
        os.utime(layout.index_dir / MANIFEST)
        logger.info("kb.index.up_to_date", extra={"docs": current.doc_count})
        return current, False
    tokenizer = KbTokenizer.load(layout.dict_dir)
    withdrawn = read_withdrawn(layout.data_dir)
    documents = [
        doc
        for doc in load_documents(sources, layout.text_policy)
        if doc.doc_id not in withdrawn
    ]
    model = encoder or load_encoder(layout.embedder_dir)
    score_config, thresholds = scoring_for(layout, model.model_id)
    index = KbIndex.build(
        documents,
        CachedEncoder(model, layout.cache_dir),
        tokenizer,
        source_hash=wanted,
        text_policy=layout.text_policy,
        score_config=score_config,
        thresholds=thresholds,
        synonyms=layout.synonyms(),
    )
    index.save(layout.index_dir)
    return index.manifest, True


def open_searcher(layout: Layout, encoder: Encoder | None = None) -> Searcher:
    """Load the model and the built index, for the service and ``search``.

    Raises:
        ModelMissingError, IndexMissingError, IndexMismatchError,
        DictionaryMissingError: each names what to run to fix it.
    """
    tokenizer = KbTokenizer.load(layout.dict_dir)
    index = KbIndex.load(layout.index_dir, tokenizer)
    model = encoder or load_encoder(layout.embedder_dir)
    return Searcher(index, model)


def in_memory_searcher(
    layout: Layout,
    documents: Iterable[Document],
    encoder: Encoder,
    score_config: ScoreConfig | None = None,
    thresholds: Thresholds | None = None,
) -> Searcher:
    """A searcher over ``documents`` without writing an index (for eval)."""
    cached = CachedEncoder(encoder, layout.cache_dir)
    if score_config is None or thresholds is None:
        default_config, default_thresholds = scoring_for(layout, encoder.model_id)
        score_config = score_config or default_config
        thresholds = thresholds or default_thresholds
    index = KbIndex.build(
        list(documents),
        cached,
        KbTokenizer.load(layout.dict_dir),
        source_hash="in-memory",
        text_policy=layout.text_policy,
        score_config=score_config,
        thresholds=thresholds,
        synonyms=layout.synonyms(),
    )
    return Searcher(index, cached)
