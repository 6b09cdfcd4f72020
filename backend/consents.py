"""Consents (授权同意) and the profile reads they allow.

A profile is released only under a recorded consent: who (the citizen's
身份证号), which fields, when, for which scenario and form instance. The
answer carries only the consented fields, and every read is audited with the
consent's id.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db import Citizen, Consent
from backend.errors import (
    ConsentExpiredError,
    ConsentInvalidError,
    ProfileNotFoundError,
)
from backend.repository import (
    WHY_CONSENT,
    WHY_PREFILL,
    WHY_RETRY,
    Caller,
    Clock,
    audit,
    iso_utc,
    row_for_key,
    utc_now,
)
from backend.validation import ConsentSubmission

logger = logging.getLogger(__name__)

# A consent covers the pre-fill of one form, shortly after the citizen gave it;
# a day leaves room for a conversation resumed later, and no more.
CONSENT_VALID_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class ConsentRecord:
    """A recorded consent, as the API shows it (no 身份证号)."""

    consent_id: str
    fields: tuple[str, ...]
    scenario_id: str
    form_instance: str
    granted_at: datetime  # UTC, naive

    def to_json(self) -> dict[str, Any]:
        return {
            "consent_id": self.consent_id,
            "fields": list(self.fields),
            "scenario_id": self.scenario_id,
            "form_instance": self.form_instance,
            "granted_at": iso_utc(self.granted_at),
            "expires_at": iso_utc(self.granted_at + CONSENT_VALID_FOR),
        }


@dataclass(frozen=True)
class ConsentResult:
    """The consent for a key, and whether this call recorded it."""

    consent: ConsentRecord
    created: bool


@dataclass(frozen=True)
class LicenceRecord:
    kind: str
    number: str
    holder: str


@dataclass(frozen=True)
class ProfileRecord:
    """What the platform knows about a citizen, for pre-fill."""

    id_number: str
    name: str
    phone: str
    address: str
    licences: tuple[LicenceRecord, ...]

    def to_json(self, consent: ConsentRecord) -> dict[str, Any]:
        """The 身份证号, the consent's id and only the consented fields."""
        released: dict[str, Any] = {
            "name": self.name,
            "phone": self.phone,
            "address": self.address,
            "licences": [vars(licence) for licence in self.licences],
        }
        return {
            "id_number": self.id_number,
            "consent_id": consent.consent_id,
            **{name: released[name] for name in consent.fields},
        }


def record_consent(
    session: Session,
    submission: ConsentSubmission,
    idempotency_key: str,
    caller: Caller,
    clock: Clock = utc_now,
) -> ConsentResult:
    """Record the consent for ``idempotency_key``, or return the one it recorded.

    Raises:
        IdempotencyConflictError: the key was used with a different body.
    """
    existing = _replay(session, submission, idempotency_key, caller)
    if existing is not None:
        return existing
    now = clock()
    row = Consent(
        consent_id=uuid.uuid4().hex,
        idempotency_key=idempotency_key,
        request_hash=submission.request_hash,
        citizen_id_number=submission.id_number,
        fields=list(submission.fields),
        scenario_id=submission.scenario_id,
        form_instance=submission.form_instance,
        recorded_by=caller.name,
        granted_at=now,
    )
    session.add(row)
    audit(
        session,
        caller,
        "consent.record",
        row.consent_id,
        now,
        row.consent_id,
        reason=WHY_CONSENT,
    )
    record = _consent_record(row)
    try:
        session.commit()
    except IntegrityError:
        # A concurrent call with this key recorded it first (consent ids are
        # random 128-bit values, so the key is the only constraint to lose on).
        session.rollback()
        existing = _replay(session, submission, idempotency_key, caller)
        if existing is None:
            raise
        logger.info("backend.consent.race_lost")
        return existing
    return ConsentResult(record, created=True)


def check_consent(
    session: Session, consent_id: str, id_number: str, now: datetime
) -> ConsentRecord:
    """The consent with this id, if it covers ``id_number`` and is still valid.

    Raises:
        ConsentInvalidError: no such consent, or it is another citizen's.
        ConsentExpiredError: granted more than ``CONSENT_VALID_FOR`` ago.
    """
    row = session.execute(
        select(Consent).where(Consent.consent_id == consent_id)
    ).scalar_one_or_none()
    if row is None or row.citizen_id_number != id_number:
        raise ConsentInvalidError()
    if now - row.granted_at > CONSENT_VALID_FOR:
        raise ConsentExpiredError()
    return _consent_record(row)


def release_profile(
    session: Session,
    id_number: str,
    consent_id: str,
    caller: Caller,
    clock: Clock = utc_now,
) -> tuple[ProfileRecord, ConsentRecord]:
    """The profile for a normalized 身份证号 and the consent releasing it.

    The consent is checked before the citizen is looked up, so a caller
    without one cannot even learn whether a profile exists. The read is
    audited with the consent's id.

    Raises:
        ConsentInvalidError, ConsentExpiredError: see :func:`check_consent`.
        ProfileNotFoundError: no citizen with this number.
    """
    consent = check_consent(session, consent_id, id_number, clock())
    citizen = session.get(Citizen, id_number)
    if citizen is None:
        raise ProfileNotFoundError()
    profile = ProfileRecord(
        id_number=citizen.id_number,
        name=citizen.name,
        phone=citizen.phone,
        address=citizen.address,
        licences=tuple(
            LicenceRecord(licence.kind, licence.number, licence.holder)
            for licence in citizen.licences
        ),
    )
    audit(
        session,
        caller,
        "profile.read",
        id_number,
        consent_id=consent_id,
        reason=WHY_PREFILL,
    )
    session.commit()
    return profile, consent


def _replay(
    session: Session,
    submission: ConsentSubmission,
    idempotency_key: str,
    caller: Caller,
) -> ConsentResult | None:
    row = row_for_key(session, Consent, idempotency_key, submission.request_hash)
    if row is None:
        return None
    audit(
        session,
        caller,
        "consent.replay",
        row.consent_id,
        consent_id=row.consent_id,
        reason=WHY_RETRY,
    )
    session.commit()
    return ConsentResult(_consent_record(row), created=False)


def _consent_record(row: Consent) -> ConsentRecord:
    return ConsentRecord(
        consent_id=row.consent_id,
        fields=tuple(row.fields),
        scenario_id=row.scenario_id,
        form_instance=row.form_instance,
        granted_at=row.granted_at,
    )
