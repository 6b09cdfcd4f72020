from __future__ import annotations

import pytest

from bot.privacy import hash_user, redact


def id_with_check_digit(first17: str) -> str:
    """A fictional 身份证号 with a correct GB 11643 check digit."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的手机13812345678", "我的手机[手机号]"),
        ("电话 +86 139-1234-5678 谢谢", "电话 [手机号] 谢谢"),
        (f"身份证{id_with_check_digit('11010519491231002')}", "身份证[身份证号]"),
        (f"号码{id_with_check_digit('44030619900307123')}。", "号码[身份证号]。"),
        ("代码91350100M000100Y43的公司", "代码[信用代码]的公司"),
    ],
)
def test_redact_masks_personal_numbers(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "请拨打12345热线",
        "事项编码000131128000",
        "国办发〔2020〕42号",
        "面积120平方米",
        "申请编号ZW20261203000123",
        "request_id=a1d3a91350100M000100Y43b8f4f4ec7",
        "request_id=20339446bdda44e13812345678ab3670",
    ],
)
def test_redact_keeps_service_numbers(text):
    assert redact(text) == text


def test_hash_user_is_stable_keyed_and_not_the_id():
    first = hash_user("wx-openid-abc", "key-1")
    assert first == hash_user("wx-openid-abc", "key-1")
    assert first != hash_user("wx-openid-abc", "key-2")
    assert "openid" not in first
