"""Which fact a question asks for, and each guide's facts one by one."""

from __future__ import annotations

import pytest

from knowledge_base.fields import detect_field
from knowledge_base.render import render_fields
from knowledge_base.schema import OnlineService, ServiceGuide, Source


@pytest.mark.parametrize(
    "query, field",
    [
        ("开饭店要带什么材料", "materials"),
        ("办护照需要准备哪些东西", "materials"),
        ("居住证多久能办好", "time_limit"),
        ("营业执照几天能拿到", "time_limit"),
        ("身份证补办在哪办", "location"),
        ("去哪里办理结婚登记", "location"),
        ("补办户口本收不收费", "fee"),
        ("办驾驶证要多少钱", "fee"),
        ("社保卡补办网上能办吗", "online"),
        ("手机上可以申请公积金提取吗", "online"),
        ("申请低保要什么条件", "conditions"),
        ("外地人能不能办居住证", "conditions"),
        ("居住证怎么办", None),
        ("我想开餐馆", None),
    ],
)
def test_the_fact_asked_for_is_detected(query, field):
    assert detect_field(query) == field


GUIDE = ServiceGuide(
    id="residence-permit",
    name="居住证办理",
    department="公安派出所",
    eligibility="在居住地居住半年以上",
    required_materials=("居民身份证", "居住证明"),
    sources=(Source("https://example.gov.cn/juzhuzheng"),),
    promised_days=15,
    fee="免费",
    online=OnlineService(available=True, url="https://example.gov.cn/online"),
)


def test_each_known_fact_is_rendered_on_its_own():
    fields = render_fields(GUIDE)
    assert fields["materials"] == "申请材料：\n1. 居民身份证\n2. 居住证明"
    assert fields["time_limit"] == "承诺时限：15个工作日"
    assert fields["fee"] == "收费：免费"
    assert fields["conditions"] == "受理条件：在居住地居住半年以上"
    assert fields["location"] == "办理部门：公安派出所"
    assert fields["online"].startswith("网上办理：可以网上办理")


def test_unknown_facts_are_left_out():
    bare = ServiceGuide(
        id="x",
        name="某事项",
        department="",
        eligibility="",
        required_materials=(),
        sources=(),
    )
    assert render_fields(bare) == {}


@pytest.mark.parametrize(
    "query, field",
    [
        ("英语四六级成绩在哪查", "online"),
        ("低保申请交了，怎么查办到哪了", "online"),
        ("执业药师变更注册要交什么", "materials"),
        ("人事档案存到人才服务局，要交保管费吗", "fee"),
        ("男方要满多少岁才能结婚登记", "conditions"),
        ("毕业证丢了，能开学历证明吗", "conditions"),
    ],
)
def test_indirect_phrasings_of_each_fact(query, field):
    assert detect_field(query) == field
