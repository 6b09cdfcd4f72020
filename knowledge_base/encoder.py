"""The embedding model as the index sees it, and a disk cache in front of it.

The model itself is helper code in ``knowledge_base.embedder``; this module
only names what the index needs from it (``Encoder``), loads it with a clear
message when it is missing, and caches vectors by text and model so that a
rebuild or an eval run does not embed unchanged text again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from knowledge_base.errors import ModelMissingError

logger = logging.getLogger(__name__)

SETUP_HINT = "run `make setup` (it builds build/embedder)"


class Encoder(Protocol):
    """Turns text into L2-normalised float32 vectors (one row per text)."""

    model_id: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


def load_encoder(model_dir: Path) -> Encoder:
    """Load the embedding model built into ``model_dir``.

    Raises:
        ModelMissingError: the model was not built (the message names
            ``make setup``).
    """
    try:
        from knowledge_base.embedder import Embedder, EmbedderNotBuilt
    except ImportError as exc:
        raise ModelMissingError(
            f"embedding model code is not installed; {SETUP_HINT}"
        ) from exc
    try:
        encoder = Embedder.load(model_dir)
    except EmbedderNotBuilt as exc:
        raise ModelMissingError(
            f"no embedding model at {model_dir}; {SETUP_HINT}"
        ) from exc
    logger.info(
        "kb.model.loaded", extra={"model": encoder.model_id, "dim": encoder.dim}
    )
    return encoder


class CachedEncoder:
    """An ``Encoder`` that remembers vectors on disk, keyed by model and text.

    The cache file is ``<cache_dir>/embeddings-<model hash>.npz``; it is
    rewritten atomically after each batch of new vectors, so an interrupted
    run keeps what it had already embedded.

    Args:
        encoder: the model to ask for vectors the cache does not hold.
        cache_dir: where cache files live (``build/cache`` by default).
        batch_size: texts per model call, and per cache save.
    """

    def __init__(self, encoder: Encoder, cache_dir: Path, batch_size: int = 64):
        self.model_id = encoder.model_id
        self.dim = encoder.dim
        self._encoder = encoder
        self._batch_size = batch_size
        model_key = hashlib.sha256(encoder.model_id.encode()).hexdigest()[:16]
        self.path = cache_dir / f"embeddings-{model_key}.npz"
        self._vectors: dict[str, np.ndarray] = self._read()

    def _read(self) -> dict[str, np.ndarray]:
        if not self.path.is_file():
            return {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("kb.cache.unreadable", extra={"error": type(exc).__name__})
            return {}
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            logger.warning("kb.cache.unreadable", extra={"error": "shape"})
            return {}
        return {str(key): vectors[row] for row, key in enumerate(keys)}

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype=np.str_)
        vectors = np.stack(list(self._vectors.values())).astype(np.float32)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, keys=keys, vectors=vectors)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; vectors are not secret
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "query", self._encoder.encode_queries)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "passage", self._encoder.encode_passages)

    def _encode(
        self,
        texts: Sequence[str],
        role: str,
        encode: Callable[[list[str]], np.ndarray],
    ) -> np.ndarray:
        keys = [_cache_key(role, text) for text in texts]
        # Similar lengths in one batch waste less padding.
        missing = sorted(
            {
                key: text
                for key, text in zip(keys, texts, strict=True)
                if key not in self._vectors
            }.items(),
            key=lambda item: (len(item[1]), item[0]),
        )
        started = time.perf_counter()
        # A progress bar on a terminal only (tqdm's disable=None); logs stay clean.
        with tqdm(
            total=len(missing), desc=f"embedding {role}s", unit="text", disable=None
        ) as progress:
            for start in range(0, len(missing), self._batch_size):
                batch = missing[start : start + self._batch_size]
                vectors = encode([text for _, text in batch])
                self._vectors.update(
                    (key, vector)
                    for (key, _), vector in zip(batch, vectors, strict=True)
                )
                self._write()
                progress.update(len(batch))
        if missing:
            logger.info(
                "kb.cache.filled",
                extra={
                    "role": role,
                    "new": len(missing),
                    "cached": len(texts) - len(missing),
                    "seconds": round(time.perf_counter() - started, 1),
                },
            )
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[key] for key in keys]).astype(np.float32)


def _cache_key(role: str, text: str) -> str:
    return hashlib.sha256(f"{role}\0{text}".encode()).hexdigest()
