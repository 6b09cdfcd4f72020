"""Chinese tokens for the keyword (BM25) leg: our own jieba instance.

We never touch jieba's process-wide tokenizer: Rasa's NLU may use it with
other settings. The 政务 user dictionary and the stop-word list live in
``knowledge_base/data/dict/``; without them the service does not start.
"""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
from pathlib import Path

from knowledge_base.errors import DictionaryMissingError

with warnings.catch_warnings():
    # WORKAROUND(https://github.com/fxsjy/jieba/issues/1043): jieba 0.42
    # imports pkg_resources, which warns on current setuptools.
    warnings.simplefilter("ignore", UserWarning)
    import jieba

logger = logging.getLogger(__name__)

USER_DICT = "userdict.txt"
STOP_WORDS = "stopwords.txt"
# A token is kept only if it holds a letter, a digit or a CJK character.
_WORD_CHAR = re.compile(r"[0-9a-z\u3400-\u9fff]")

jieba.setLogLevel(logging.WARNING)


class KbTokenizer:
    """Search-mode jieba tokens with stop words and punctuation removed."""

    def __init__(self, jieba_tokenizer: jieba.Tokenizer, stop_words: frozenset[str]):
        self._jieba = jieba_tokenizer
        self._stop_words = stop_words

    @classmethod
    def load(cls, dict_dir: Path, stop_list: Path | None = None) -> KbTokenizer:
        """Build a tokenizer from the dictionary folder and the stop-word list.

        The folder holds jieba user dictionaries only: Rasa's JiebaTokenizer
        loads every file in it, so the stop words live beside it
        (``<dict_dir>/../stopwords.txt`` unless ``stop_list`` says otherwise).

        Raises:
            DictionaryMissingError: ``userdict.txt`` or the stop-word list is
                missing.
        """
        user_dict = dict_dir / USER_DICT
        stop_list = stop_list or dict_dir.parent / STOP_WORDS
        for path in (user_dict, stop_list):
            if not path.is_file():
                raise DictionaryMissingError(
                    f"knowledge-base dictionary not found: {path} "
                    "(it ships with the repository; restore knowledge_base/data/dict/)"
                )
        instance = jieba.Tokenizer()
        instance.load_userdict(str(user_dict))
        stop_words = frozenset(_read_word_list(stop_list))
        logger.info(
            "kb.tokenizer.loaded",
            extra={
                "user_words": len(_read_word_list(user_dict)),
                "stop_words": len(stop_words),
            },
        )
        return cls(instance, stop_words)

    def tokens(self, text: str) -> list[str]:
        """Search-mode tokens of ``text``, lower-cased, without stop words.

        Search mode also yields the shorter words inside a long one
        (营业执照 → 营业, 执照, 营业执照), which helps partial matches.
        """
        return [
            token
            for raw in self._jieba.cut_for_search(text.lower())
            if (token := raw.strip())
            and token not in self._stop_words
            and _WORD_CHAR.search(token)
        ]


def _read_word_list(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    words = (line.split()[0] for line in lines if line.strip())
    return [word for word in words if not word.startswith("#")]


def dictionary_hash(dict_dir: Path, stop_list: Path | None = None) -> str:
    """A hash of the dictionary files, so a changed dictionary forces a rebuild."""
    digest = hashlib.sha256()
    for path in (dict_dir / USER_DICT, stop_list or dict_dir.parent / STOP_WORDS):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
