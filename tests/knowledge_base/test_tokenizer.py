from __future__ import annotations

import shutil

import pytest

from knowledge_base.errors import DictionaryMissingError
from knowledge_base.tokenizer import KbTokenizer, dictionary_hash
from tests.knowledge_base.conftest import DICT_DIR

STOP_LIST = DICT_DIR.parent / "stopwords.txt"


def copy_dictionaries(target, skip: str = "") -> None:
    """userdict.txt into ``target/dict``, stopwords.txt beside that folder."""
    (target / "dict").mkdir()
    if skip != "userdict.txt":
        shutil.copy(DICT_DIR / "userdict.txt", target / "dict" / "userdict.txt")
    if skip != "stopwords.txt":
        shutil.copy(STOP_LIST, target / "stopwords.txt")


@pytest.mark.parametrize(
    "term", ["统一社会信用代码", "告知承诺制", "无犯罪记录证明", "食品经营许可证"]
)
def test_user_dictionary_terms_come_out_whole(tokenizer, term):
    assert term in tokenizer.tokens(f"请问{term}怎么办理")


def test_search_mode_also_yields_the_parts_of_long_words(tokenizer):
    tokens = tokenizer.tokens("营业执照")

    assert {"营业", "执照", "营业执照"} <= set(tokens)


def test_stop_words_and_punctuation_are_dropped(tokenizer):
    tokens = tokenizer.tokens("请问，我的居住证怎么办？！")

    assert "居住证" in tokens
    assert not {"请问", "我", "的", "怎么", "，", "？", "！"} & set(tokens)


def test_latin_text_is_lower_cased(tokenizer):
    assert "etc" in tokenizer.tokens("ETC 怎么办")


def test_our_dictionary_does_not_leak_into_the_global_jieba(tokenizer):
    import jieba

    assert "告知承诺制" not in jieba.dt.FREQ


@pytest.mark.parametrize("missing", ["userdict.txt", "stopwords.txt"])
def test_missing_dictionary_file_stops_loading_with_its_path(tmp_path, missing):
    copy_dictionaries(tmp_path, skip=missing)

    with pytest.raises(DictionaryMissingError, match=missing):
        KbTokenizer.load(tmp_path / "dict")


def test_dictionary_folder_holds_only_jieba_user_dictionaries():
    # Rasa's JiebaTokenizer loads every file in the folder as user words.
    assert sorted(path.name for path in DICT_DIR.iterdir()) == ["userdict.txt"]


def test_dictionary_hash_changes_when_a_word_is_added(tmp_path):
    copy_dictionaries(tmp_path)
    before = dictionary_hash(tmp_path / "dict")

    with (tmp_path / "dict" / "userdict.txt").open("a", encoding="utf-8") as handle:
        handle.write("新词条\n")

    assert dictionary_hash(tmp_path / "dict") != before


def test_dictionary_hash_changes_when_a_stop_word_is_added(tmp_path):
    copy_dictionaries(tmp_path)
    before = dictionary_hash(tmp_path / "dict")

    with (tmp_path / "stopwords.txt").open("a", encoding="utf-8") as handle:
        handle.write("那个\n")

    assert dictionary_hash(tmp_path / "dict") != before
