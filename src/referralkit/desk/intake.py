"""Intake on the desk: starting sessions, submitting them, answering status calls."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from referralkit.desk import backends as _backends
from referralkit.errors import (
    IntakeError,
)
from referralkit.intake import (
    CallType,
    IntakeConfig,
    IntakeFlag,
    IntakeOutcome,
    IntakeSession,
    StatusAnswer,
    find_duplicate,
    match_referrals,
)
from referralkit.intake import (
    answer_status as status_answer,
)
from referralkit.lifecycle import (
    ACTIVE_STATES,
    created,
)
from referralkit.model import (
    Actor,
    Channel,
    Direction,
    Interaction,
    Referral,
    ReferralStatus,
)

if TYPE_CHECKING:
    from referralkit.desk.core import ReferralDesk

_log = logging.getLogger("referralkit.desk")


def start_intake(
    desk: ReferralDesk,
    call_type: CallType | str,
    *,
    config: IntakeConfig | None = None,
    language: str | None = None,
) -> IntakeSession:
    """Implement :meth:`ReferralDesk.start_intake` (documented there)."""
    return IntakeSession(call_type, config or IntakeConfig(), desk.clock, language=language)


def submit_intake(desk: ReferralDesk, session: IntakeSession, *, actor: Actor) -> IntakeOutcome:
    """Implement :meth:`ReferralDesk.submit_intake` (documented there)."""
    result = session.result()
    if not result.complete:
        raise IntakeError(
            "incomplete",
            "The intake is not complete: " + ", ".join(result.missing or ("invalid values",)),
        )
    if session.call_type is CallType.NEW_REFERRAL:
        return _submit_new_referral(desk, session, actor)
    now = desk.clock.now()
    query = session.lookup_query()
    matches = match_referrals(_intake_candidates(desk), query) if query.usable else []
    referral = matches[0] if matches else None
    answer: StatusAnswer | None = None
    flags: list[IntakeFlag] = []
    if session.call_type in (CallType.STATUS_INQUIRY, CallType.AUTHORIZATION_QUESTION):
        answer = status_answer(
            referral,
            session.caller(),
            about_authorization=session.call_type is CallType.AUTHORIZATION_QUESTION,
            language=session.language or session.config.default_language,
        )
        outcome = "status_answered" if answer.verified else "handed_off"
    else:
        outcome = "captured"
    escalations = session.spec.escalations
    codes = answer.flags if answer is not None else ()
    if referral is None and query.usable:
        codes = (*codes, "referral_not_found")
    for code in dict.fromkeys(codes):
        flags.append(IntakeFlag(code, code.replace("_", " "), escalations.get(code)))
    if referral is not None and session.spec.log_to == "referral":
        referral = desk.amend(
            referral.id,
            "call_logged",
            actor=actor,
            update=lambda current: {
                "interactions": (
                    *current.interactions,
                    Interaction(
                        at=now,
                        channel=Channel.VOICE,
                        direction=Direction.INBOUND,
                        call_type=session.call_type.value,
                        outcome=outcome,
                        actor_id=actor.id,
                    ),
                )
            },
            data={"call_id": str(session.id), "call_type": session.call_type.value},
        )
    call = session.to_call_record(
        outcome,
        resolved_at=now if outcome == "status_answered" else None,
        referral_id=referral.id if referral is not None else None,
        extra_flags=tuple(flags),
    )
    _log.info(
        "intake %s (%s) submitted: %s, referral %s",
        session.id,
        session.call_type.value,
        outcome,
        referral.id if referral is not None else None,
    )
    return IntakeOutcome(call, referral, answer=answer)


def answer_status(desk: ReferralDesk, session: IntakeSession) -> StatusAnswer:
    """Implement :meth:`ReferralDesk.answer_status` (documented there)."""
    query = session.lookup_query()
    matches = match_referrals(_intake_candidates(desk), query) if query.usable else []
    return status_answer(
        matches[0] if matches else None,
        session.caller(),
        about_authorization=session.call_type is CallType.AUTHORIZATION_QUESTION,
        language=session.language or session.config.default_language,
    )


def _submit_new_referral(
    desk: ReferralDesk, session: IntakeSession, actor: Actor
) -> IntakeOutcome:
    now = desk.clock.now()
    referral = session.to_referral()
    duplicate = find_duplicate(
        referral,
        _intake_candidates(desk, ACTIVE_STATES),
        now=now,
        window=session.config.duplicate_window,
    )
    if duplicate is not None:
        linked = desk.amend(
            duplicate.referral_id,
            "intake_linked",
            actor=actor,
            update=lambda current: {
                "interactions": (
                    *current.interactions,
                    *(
                        i.model_copy(update={"actor_id": actor.id, "outcome": "linked_duplicate"})
                        for i in referral.interactions
                    ),
                ),
                "flags": tuple(dict.fromkeys((*current.flags, *referral.flags))),
            },
            data={"call_id": str(session.id), "matched_on": duplicate.matched_on},
        )
        flag = IntakeFlag(
            "duplicate_referral",
            duplicate.message,
            session.spec.escalations.get("duplicate_referral"),
        )
        call = session.to_call_record(
            "linked_to_open_referral",
            resolved_at=now,
            referral_id=linked.id,
            extra_flags=(flag,),
        )
        _log.info("intake %s linked to open referral %s", session.id, linked.id)
        return IntakeOutcome(call, linked, duplicate=duplicate)
    # Compute both changes before writing either: a refusal (role, guard) writes nothing.
    first = created(referral, actor, now)
    second = desk.lifecycle.fire(first.referral, "complete_intake", actor=actor, now=now)
    desk.store.create(first.referral, first.event)
    _backends._notify(desk, first.event)
    desk.store.save(second.referral, second.event, expected_version=first.referral.version)
    _backends._notify(desk, second.event)
    _log.info("intake %s created referral %s", session.id, referral.id)
    call = session.to_call_record("referral_created", resolved_at=now, referral_id=referral.id)
    return IntakeOutcome(call, second.referral, created=True)


def _intake_candidates(
    desk: ReferralDesk, statuses: Sequence[ReferralStatus] = tuple(ReferralStatus), page: int = 500
) -> Iterable[Referral]:
    # A scan streamed page by page: the Store port has no patient or number index yet.
    after: UUID | None = None
    while True:
        batch = desk.store.list_by_status(statuses, limit=page, after=after)
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1].id
