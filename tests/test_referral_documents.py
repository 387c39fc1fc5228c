"""Inbound referral documents: certain matches attach, uncertain ones wait for a person."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from referralkit import ReferralDesk, ReferralStatus
from referralkit.desk.referral_documents import REVIEW_QUEUE, DocumentHints
from referralkit.model import TaskStatus
from referralkit.ports import DocumentRef

AT = datetime(2026, 3, 2, 15, tzinfo=UTC)
BORN = date(1970, 1, 1)


def _letter(n: int) -> DocumentRef:
    return DocumentRef(document_id=f"fax-{n}", kind="referral_letter")


def _hints(**over: Any) -> DocumentHints:
    fields: dict[str, Any] = {"family_name": "Patient", "birth_date": BORN}
    fields.update(over)
    return DocumentHints(**fields)


def test_a_certain_match_is_attached(desk: ReferralDesk, actors: Any, make_referral: Any) -> None:
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    outcome = desk.receive_referral_document(
        _letter(1), _hints(specialty="cardiology"), received_at=AT, actor=actors.intake_staff
    )
    assert (outcome.status, outcome.referral_id) == ("attached", referral.id)
    assert [d.document_id for d in desk.get(referral.id).documents] == ["fax-1"]
    again = desk.receive_referral_document(
        _letter(1), _hints(), received_at=AT, actor=actors.intake_staff
    )
    assert again.status == "duplicate"
    assert len(desk.get(referral.id).documents) == 1


def test_two_possible_patients_wait_for_review(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    first = desk.create(make_referral(referral_number="R-A"), actor=actors.intake_staff)
    desk.create(
        make_referral(referral_number="R-B", specialty="dermatology"), actor=actors.intake_staff
    )
    outcome = desk.receive_referral_document(
        _letter(2), _hints(), received_at=AT, actor=actors.intake_staff
    )
    assert outcome.status == "review"
    held = desk.get(outcome.referral_id)
    assert held.status is ReferralStatus.INTAKE
    assert held.patient is None  # never attached to a patient by guess
    (task,) = held.tasks
    assert task.queue == REVIEW_QUEUE
    assert "Patient" not in task.title  # no patient name in the title
    assert task.detail == "candidates: R-A, R-B"
    assert desk.get(first.id).documents == ()

    moved = desk.resolve_referral_document(
        outcome.referral_id, first.id, actor=actors.intake_staff
    )
    assert moved.status is ReferralStatus.ENTERED_IN_ERROR
    assert moved.tasks[0].status is TaskStatus.DONE
    assert [d.document_id for d in desk.get(first.id).documents] == ["fax-2"]
    with pytest.raises(ValueError, match="nothing waits"):
        desk.resolve_referral_document(outcome.referral_id, first.id, actor=actors.intake_staff)


def test_no_identity_on_the_document_waits_for_review_and_can_become_a_referral(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    desk.create(make_referral(), actor=actors.intake_staff)
    outcome = desk.receive_referral_document(
        _letter(3), DocumentHints(), received_at=AT, actor=actors.intake_staff
    )
    assert outcome.status == "review"
    kept = desk.resolve_referral_document(outcome.referral_id, None, actor=actors.intake_staff)
    assert kept.status is ReferralStatus.INTAKE
    assert [d.document_id for d in kept.documents] == ["fax-3"]
    assert all(t.status is TaskStatus.DONE for t in kept.tasks)


def test_a_corrected_document_is_kept_as_a_revision(
    desk: ReferralDesk, actors: Any, make_referral: Any
) -> None:
    referral = desk.create(make_referral(), actor=actors.intake_staff)
    desk.receive_referral_document(_letter(4), _hints(), received_at=AT, actor=actors.intake_staff)
    # The correction carries no readable identity, only the id of what it corrects.
    outcome = desk.receive_referral_document(
        _letter(5), DocumentHints(revision_of="fax-4"), received_at=AT, actor=actors.intake_staff
    )
    assert (outcome.status, outcome.referral_id) == ("revision", referral.id)
    third = desk.receive_referral_document(
        _letter(6), DocumentHints(revision_of="fax-5"), received_at=AT, actor=actors.intake_staff
    )
    assert third.status == "revision"
    documents = desk.get(referral.id).documents
    assert [(d.document_id, d.revision, d.revision_of) for d in documents] == [
        ("fax-4", 1, None),
        ("fax-5", 2, "fax-4"),
        ("fax-6", 3, "fax-4"),
    ]


def test_hints_never_show_phi_in_repr() -> None:
    text = repr(_hints(given_name="Test"))
    assert "Patient" not in text
    assert "1970" not in text
