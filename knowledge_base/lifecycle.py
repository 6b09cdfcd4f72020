"""Changing a live knowledge base: add, update, withdraw, and one writer at a time.

The data folder is the record of what the index should hold:

- ``add`` copies a guide file (YAML) or an FAQ file (JSON Lines) into it; a
  file of the same name is replaced, which is how a guide is updated;
- ``remove`` withdraws documents by id into ``withdrawn.txt``, one id a
  line. A withdrawn entry stays in its source file for the record and is
  never indexed again, whatever file brings it back, until ``restore``.

After each change ``pipeline.build`` writes a new index. Unchanged texts
come from the embedding cache (keyed by a hash of the text), so only new or
edited entries are embedded; the running service notices the new index and
swaps it in (``knowledge_base.service``). ``build_lock`` makes two writers
take turns, so concurrent changes never interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from knowledge_base.errors import InvalidDataError, KnowledgeBaseError
from knowledge_base.loader import load_faq, load_guides

logger = logging.getLogger(__name__)

WITHDRAWN_FILE = "withdrawn.txt"
LOCK_FILE = ".index.lock"
LOCK_WAIT_SECONDS = 600.0


class BuildLockedError(KnowledgeBaseError):
    """Another build held the index lock for longer than we waited."""

    code = "kb_index_locked"


@contextlib.contextmanager
def build_lock(index_dir: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the index's writer lock (a ``flock`` beside the index directory).

    Waits up to ``wait`` seconds for another writer to finish.

    Raises:
        BuildLockedError: the lock stayed taken.
    """
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    path = index_dir.parent / LOCK_FILE
    with path.open("a") as handle:
        deadline = time.monotonic() + wait
        logged = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BuildLockedError(
                        f"another build holds {path}; try again when it ends"
                    ) from None
                if not logged:
                    logger.info("kb.index.waiting_for_lock")
                    logged = True
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_withdrawn(data_dir: Path) -> frozenset[str]:
    """The withdrawn document ids; blank lines and ``#`` comments are skipped."""
    path = data_dir / WITHDRAWN_FILE
    if not path.is_file():
        return frozenset()
    lines = (
        line.split("#", 1)[0].strip() for line in path.read_text("utf-8").splitlines()
    )
    return frozenset(line for line in lines if line)


def _write_withdrawn(data_dir: Path, ids: Iterable[str]) -> None:
    header = "# Withdrawn entries (document ids): python -m knowledge_base remove\n"
    body = "".join(f"{doc_id}\n" for doc_id in sorted(ids))
    write_atomically(data_dir / WITHDRAWN_FILE, header + body)


def withdraw(data_dir: Path, doc_ids: Iterable[str], known: Iterable[str]) -> list[str]:
    """Add ``doc_ids`` to the withdrawn list.

    Args:
        known: every document id the sources hold, to catch a mistyped id.

    Returns:
        The ids newly withdrawn.

    Raises:
        InvalidDataError: an id is not in the knowledge base.
    """
    wanted = list(dict.fromkeys(doc_ids))
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise InvalidDataError(f"no such document: {', '.join(unknown)}")
    current = read_withdrawn(data_dir)
    new = [doc_id for doc_id in wanted if doc_id not in current]
    _write_withdrawn(data_dir, current | set(new))
    return new


def restore(data_dir: Path, doc_ids: Iterable[str]) -> list[str]:
    """Take ``doc_ids`` off the withdrawn list; returns those that were on it."""
    current = read_withdrawn(data_dir)
    back = [doc_id for doc_id in dict.fromkeys(doc_ids) if doc_id in current]
    _write_withdrawn(data_dir, current - set(back))
    return back


def target_path(data_dir: Path, source: Path) -> Path:
    """Where ``add_file`` puts ``source``: ``guides/`` or ``faq/`` by suffix.

    Raises:
        InvalidDataError: neither guide YAML nor FAQ JSON Lines.
    """
    suffix = source.suffix.lower()
    if suffix in (".yml", ".yaml"):
        return data_dir / "guides" / source.name
    if suffix == ".jsonl":
        return data_dir / "faq" / source.name
    raise InvalidDataError(
        f"{source.name}: expected guide YAML (.yml) or FAQ JSON Lines (.jsonl)"
    )


def add_file(data_dir: Path, source: Path) -> Path:
    """Check ``source`` and copy it into the data folder; returns the new path.

    ``*.yml``/``*.yaml`` go to ``guides/``, ``*.jsonl`` to ``faq/``. The
    file is checked on its own before anything is copied; ids that clash
    with other files are caught by the build that follows.

    Raises:
        InvalidDataError: unknown kind of file, or a file that fails the schema.
    """
    if not source.is_file():
        raise InvalidDataError(f"no such file: {source}")
    target = target_path(data_dir, source)
    if target.parent.name == "guides":
        with tempfile.TemporaryDirectory() as staging:
            shutil.copy(source, Path(staging) / source.name)
            load_guides(Path(staging))
    else:
        load_faq(source)
    write_atomically(target, source.read_text(encoding="utf-8"))
    return target


@contextlib.contextmanager
def rollback_on_error(paths: Iterable[Path]) -> Iterator[None]:
    """Put ``paths`` back as they were if the block raises (a failed build)."""
    saved = {path: path.read_bytes() if path.is_file() else None for path in paths}
    try:
        yield
    except BaseException:
        for path, content in saved.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)
        raise


def write_atomically(path: Path, content: str | bytes) -> None:
    """Replace ``path`` with ``content`` (text as UTF-8) in one rename, mode 0644."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
