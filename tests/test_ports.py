from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError

from referralkit.ports import (
    CallRequest,
    FaxRequest,
    PracticeUpdateRequest,
    SmsRequest,
    idempotency_key,
)
from referralkit.testing.conformance import CANARY, canary_referral

NOW = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)


def test_idempotency_key_is_stable_and_distinct():
    rid = uuid4()
    assert idempotency_key(rid, "sms:step-1", 1) == idempotency_key(rid, "sms:step-1", 1)
    assert idempotency_key(rid, "sms:step-1", 1) != idempotency_key(rid, "sms:step-1", 2)
    assert len(idempotency_key(rid, "x")) == 64


def test_sms_request_from_referral_carries_no_diagnosis():
    request = SmsRequest.for_referral(
        canary_referral(), action="a", attempt=1, template_id="t", body="Please call us."
    )
    dumped = request.model_dump_json()
    for name in ("reason", "icd10", "member_id", "given_name", "family_name", "mrn", "street"):
        assert CANARY[name] not in dumped


def test_call_request_window_must_be_ordered():
    with pytest.raises(ValidationError, match="window_end"):
        CallRequest.for_referral(
            canary_referral(),
            action="a",
            attempt=1,
            script_id="s",
            window_start=NOW,
            window_end=NOW - timedelta(hours=1),
        )


def test_request_repr_masks_phi():
    request = SmsRequest.for_referral(
        canary_referral(), action="a", attempt=1, template_id="t", body=CANARY["body"]
    )
    assert CANARY["phone"] not in repr(request)
    assert CANARY["body"] not in repr(request)


def test_fax_and_practice_update_carry_no_patient_identity():
    referral = canary_referral()
    fax = FaxRequest.for_referral(referral, action="f", attempt=1, purpose="records_request")
    update = PracticeUpdateRequest.for_referral(referral, action="u", attempt=1)
    for request in (fax, update):
        dumped = request.model_dump_json()
        assert not [v for v in CANARY.values() if v in dumped]


def test_requests_reject_unknown_fields():
    with pytest.raises(ValidationError):
        SmsRequest(
            idempotency_key="0" * 64,
            referral_id=uuid4(),
            to="+15551234567",
            template_id="t",
            body="hi",
            diagnosis="x",  # type: ignore[call-arg]
        )
