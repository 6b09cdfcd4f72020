"""Properties of reading scenario answers from any message, on the real packages.

Any text, as long as the web channel accepts (1000 characters), gives answers
to known questions only, JSON-friendly values, and comes back quickly; an
area stated in a sentence is found whatever the number.
"""

from __future__ import annotations

import json
import time

from hypothesis import given, settings, target
from hypothesis import strategies as st

from actions.scenario_answers import (
    extract_answers,
    parse_answer,
    residual_text,
    split_clauses,
)
from knowledge_base.scenarios import load_scenarios
from knowledge_base.scenarios.model import Question
from tests.actions.conftest import SCENARIO_DIR

PROPERTY = settings(max_examples=200, deadline=None)
SCENARIOS = load_scenarios(SCENARIO_DIR)
MAX_MESSAGE_CHARS = 1000  # channels.web_protocol.MAX_MESSAGE_CHARS
# Generous for one message on a shared 2-core machine; a quadratic slip on
# 1000 characters would take far longer.
MAX_SECONDS = 0.5
KINDS = ("area", "yes_no", "choice", "district", "date", "id_number",
         "credit_code", "phone")  # fmt: skip
# Words the readers react to, so random messages come near real answers.
MESSAGE_TEXT = st.text(
    st.sampled_from("我想开一家平米的店不卖烟有没招牌营业执照个体户公司是，。、但而且")
    | st.sampled_from("0123456789一二三百千万")
    | st.characters(blacklist_categories=("Cs",)),
    max_size=MAX_MESSAGE_CHARS,
)
# Long messages made of the packages' own words, up to the channel's limit.
WORDS = ["营业执照", "烟草", "招牌", "卡拉OK", "个体户", "公司", "不卖", "没有", "有",
         "200平", "一百二十平米", "，", "。", "而且", "但是", "吗", "2026年3月1日",
         "110105199001011234", "13800138000", "区", "我想开一家", "的店"]  # fmt: skip
LONG_TEXT = st.lists(st.sampled_from(WORDS), min_size=20, max_size=400).map(
    lambda words: "".join(words)[:MAX_MESSAGE_CHARS]
)


def _question(kind: str) -> Question:
    return Question(
        slot="x", kind=kind, label="x", ask="utter_ask_x", invalid="utter_x"
    )


@PROPERTY
@given(
    kind=st.sampled_from(KINDS),
    text=st.one_of(MESSAGE_TEXT, st.integers(), st.none()),
    intent=st.sampled_from([None, "affirm", "deny", "inform"]),
)
def test_any_answer_to_any_kind_is_a_json_value_or_none(kind, text, intent):
    value = parse_answer(_question(kind), text, intent)

    json.dumps(value)


@PROPERTY
@given(
    scenario_id=st.sampled_from(sorted(SCENARIOS)),
    text=st.one_of(MESSAGE_TEXT, LONG_TEXT),
)
def test_any_message_gives_answers_to_known_questions_quickly(scenario_id, text):
    scenario = SCENARIOS[scenario_id]

    started = time.perf_counter()
    extraction = extract_answers(scenario, text)
    elapsed = time.perf_counter() - started

    target(elapsed, label="seconds per message")  # steer towards slow inputs
    assert elapsed < MAX_SECONDS
    assert set(extraction.answers) <= {q.slot for q in scenario.questions}
    assert all(i < len(split_clauses(text)) for i in extraction.used_clauses)
    json.dumps(extraction.answers)
    assert len(residual_text(text, extraction)) <= len(text)


@PROPERTY
@given(
    area=st.integers(1, 100_000),
    unit=st.sampled_from(["平", "平米", "平方米", "㎡"]),
    tail=st.sampled_from(["", "，不卖烟", "，有营业执照", "，个体户"]),
)
def test_an_area_inside_a_sentence_is_found(area, unit, tail):
    text = f"我想开一家{area}{unit}的火锅店{tail}"

    extraction = extract_answers(SCENARIOS["restaurant"], text)

    assert extraction.answers["venue_area"] == float(area)


def test_a_message_of_the_longest_accepted_size_is_read_quickly():
    # The worst case found by hand: one clause, no break, full of label words.
    text = ("营业执照烟草制品户外招牌" * 100)[:MAX_MESSAGE_CHARS]

    started = time.perf_counter()
    for scenario in SCENARIOS.values():
        extract_answers(scenario, text)

    assert time.perf_counter() - started < MAX_SECONDS * len(SCENARIOS)
