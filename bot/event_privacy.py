"""Masking personal data in Rasa events (their ``as_dict()`` form).

The tracker store, the event broker and the conversation export all keep
copies of the same events; this module decides what each copy may hold:

- a user message's text, its parse data and entity values are masked with
  :func:`bot.privacy.redact`;
- a bot message's text is masked too, and so are the template values that
  carry a name or an address (``applicant_name``: names have no shape a
  pattern could find, but the action hands them over by name);
- a slot value is masked once a later event replaces it (the raw message a
  form slot is first filled with, an old 身份证号); the current value of a
  slot stays exact, because Rasa rebuilds the conversation from these events.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.privacy import redact, redact_value

# Template values the actions send with a bot message that are personal
# (actions/application.py, utter_integrated_application), and their labels.
DEFAULT_PERSONAL_FIELDS: Mapping[str, str] = {
    "applicant_name": "[姓名]",
    "address": "[地址]",
    "phone_masked": "[手机号]",
    # The ticket review shows the citizen's own words back (actions/ticket.py).
    "ticket_description": "[工单内容]",
    "ticket_location": "[地点]",
    "ticket_occurred": "[时间]",
}
# Slots whose value is personal data (actions/scenario_state.py, and the
# ticket form's words and phone, actions/ticket.py): masked in the stored
# rows once the slot is set again (the ticket form empties them when it ends).
DEFAULT_PERSONAL_SLOTS = (
    "id_number",
    "ticket_description",
    "ticket_location",
    "ticket_occurred",
    "ticket_phone",
)
# Stands for a personal slot's value in a masked copy.
SLOT_MASK = "[已隐去]"


@dataclass(frozen=True)
class MaskPolicy:
    """Which slots and bot template values are personal besides the patterns."""

    personal_slots: frozenset[str] = frozenset(DEFAULT_PERSONAL_SLOTS)
    personal_fields: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_PERSONAL_FIELDS)
    )

    @classmethod
    def from_config(
        cls,
        personal_slots: Iterable[str] | None = None,
        personal_fields: Iterable[str] | None = None,
    ) -> MaskPolicy:
        """The defaults plus the slot and field names listed in endpoints.yml."""
        fields = dict(DEFAULT_PERSONAL_FIELDS)
        fields.update({name: f"[{name}]" for name in personal_fields or ()})
        return cls(
            personal_slots=frozenset(DEFAULT_PERSONAL_SLOTS)
            | set(personal_slots or ()),
            personal_fields=fields,
        )


def _mask_keys(mapping: dict[str, Any], *keys: str) -> None:
    for key in keys:
        if key in mapping:
            mapping[key] = redact_value(mapping[key])


def _mask_user(event: dict[str, Any]) -> None:
    _mask_keys(event, "text", "metadata")
    parse_data = event.get("parse_data")
    if isinstance(parse_data, dict):
        _mask_keys(parse_data, "text", "entities", "metadata")


def _mask_bot(event: dict[str, Any], policy: MaskPolicy) -> None:
    text = event.get("text")
    metadata = dict(event.get("metadata") or {})
    for name, label in policy.personal_fields.items():
        value = metadata.get(name)
        if isinstance(value, str) and value:
            if isinstance(text, str):
                text = text.replace(value, label)
            metadata[name] = label
    event["text"] = redact_value(text)
    if metadata or "metadata" in event:
        event["metadata"] = redact_value(metadata)
    _mask_keys(event, "data")


def mask_event(
    event: dict[str, Any], policy: MaskPolicy, mask_slot: bool = False
) -> dict[str, Any]:
    """A copy of one event with its message text and template values masked.

    Args:
        event: an event as ``Event.as_dict()`` returns it.
        policy: the personal slots and template fields.
        mask_slot: also mask a ``slot`` event's value: a personal slot's
            becomes ``[已隐去]``, any other's passes through ``redact``. Leave
            it False for a value Rasa still needs.
    """
    event = copy.deepcopy(event)
    kind = event.get("event")
    if kind == "user":
        _mask_user(event)
    elif kind == "bot":
        _mask_bot(event, policy)
    elif kind == "entities":
        _mask_keys(event, "entities")
    elif kind == "action" and event.get("action_text"):
        event["action_text"] = redact(event["action_text"])
    elif kind == "slot" and mask_slot:
        if event.get("name") in policy.personal_slots:
            event["value"] = None if event.get("value") is None else SLOT_MASK
        else:
            event["value"] = redact_value(event.get("value"))
    return event


def superseded(events: list[dict[str, Any]]) -> set[int]:
    """Indices of ``slot`` events whose value a later ``slot`` event replaces."""
    last: dict[str, int] = {}
    for index, event in enumerate(events):
        if event.get("event") == "slot":
            last[event.get("name")] = index
    return {
        index
        for index, event in enumerate(events)
        if event.get("event") == "slot" and last[event.get("name")] > index
    }


def expire_event(event: dict[str, Any], policy: MaskPolicy) -> dict[str, Any]:
    """An event past its retention: masked like an export, and a personal
    slot's value emptied, so Rasa rebuilds the slot as unset and a form asks
    for it again instead of carrying a placeholder into an application."""
    if event.get("event") == "slot" and event.get("name") in policy.personal_slots:
        return {**event, "value": None}
    return mask_event(event, policy, mask_slot=True)
