"""Request bodies and fictional numbers shared by the backend tests."""

from __future__ import annotations

import copy
from typing import Any

from backend.seed import SAMPLE_CITIZENS

# Seeded citizens (backend/seed.py): one with two licences, one with none.
WITH_LICENCES = SAMPLE_CITIZENS[1]
WITHOUT_LICENCES = SAMPLE_CITIZENS[2]
# A valid number in the invented area 990101 that the seed does not contain:
# 9*7+9*9+1*5+1*4+2*2+1*9+1*5 = 171, 171 % 11 = 6, and "10X98765432"[6] = "6".
UNKNOWN_ID_NUMBER = "990101200001010006"


def application_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``POST /v1/applications`` body; keyword arguments replace fields."""
    body = {
        "scenario_id": "restaurant",
        "applicant": {"id_number": WITH_LICENCES.id_number, "name": "李春梅"},
        "answers": {"venue_area": 80, "has_business_licence": True},
        "items": [
            {
                "item_id": "food_business_licence",
                "name": "食品经营许可（餐饮服务）",
                "department": "县级市场监督管理局",
                "route": "normal",
            },
            {
                "item_id": "fire_safety_check",
                "name": "公众聚集场所投入使用、营业前消防安全检查",
                "department": "县级消防救援机构",
                "route": "commitment",
            },
        ],
        "form": {"shop_name": "春梅面馆", "contact_phone": "13000000002"},
    }
    body = copy.deepcopy(body)
    body.update(overrides)
    return body


def consent_body(id_number: str = WITH_LICENCES.id_number, **overrides: Any):
    """A valid ``POST /v1/consents`` body; keyword arguments replace fields."""
    body = {
        "id_number": id_number,
        "fields": ["name", "phone", "address", "licences"],
        "scenario_id": "restaurant",
        "form_instance": "run-0001-restaurant",
    }
    body.update(overrides)
    return body
