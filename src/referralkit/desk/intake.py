"""Intake on the desk: starting sessions, submitting them, answering status calls.

A new referral is created and its intake completed in one unit of work, so the after-commit
steps (observers, auto-routing) see it once, complete.

.. versionadded:: 0.2
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

import attrs

from referralkit.clock import Clock
from referralkit.desk.lookup import PatientLookup
from referralkit.desk.unit_of_work import UnitOfWork
from referralkit.errors import IntakeError
from referralkit.intake import (
    CallType,
    IntakeConfig,
    IntakeFlag,
    IntakeOutcome,
    IntakeSession,
    LookupQuery,
    StatusAnswer,
    find_duplicate,
    match_referrals,
)
from referralkit.intake import (
    answer_status as status_answer,
)
from referralkit.lifecycle import ACTIVE_STATES
from referralkit.model import (
    Actor,
    Referral,
)
from referralkit.ports import IntakeCheck
from referralkit.store import Store
from referralkit.tasks.interactions import call_interaction

__all__ = ["IntakeService"]

_log = logging.getLogger("referralkit.desk")


@attrs.define
class IntakeService:
    """Starts intake sessions, commits complete ones, and answers status calls.

    :ivar checks: intake checks contributed by plugins (``referralkit_add_intake_checks``);
        each session runs them.
    """

    uow: UnitOfWork
    store: Store
    clock: Clock
    checks: Callable[[], Sequence[IntakeCheck]] = tuple

    def start(
        self,
        call_type: CallType | str,
        *,
        config: IntakeConfig | None = None,
        language: str | None = None,
    ) -> IntakeSession:
        """Start capturing a call (documented on the desk)."""
        return IntakeSession(
            call_type,
            config or IntakeConfig(),
            self.clock,
            language=language,
            checks=tuple(self.checks()),
        )

    def submit(self, session: IntakeSession, *, actor: Actor) -> IntakeOutcome:
        """Commit a complete intake (documented on the desk)."""
        return _submit(self, session, actor)

    def answer_status(self, session: IntakeSession) -> StatusAnswer:
        """Answer a status or authorization call without writing anything."""
        matches = self.lookup(session.lookup_query())
        return status_answer(
            matches[0] if matches else None,
            session.caller(),
            about_authorization=session.call_type is CallType.AUTHORIZATION_QUESTION,
            language=session.language or session.config.default_language,
        )

    def lookup(self, query: LookupQuery) -> list[Referral]:
        """Return the referrals *query* identifies, open ones first, newest first.

        Read through the patient and number index (:class:`PatientLookup`), then confirmed by
        :func:`~referralkit.intake.match_referrals`; an unusable query finds nothing.
        """
        if query.referral_number is not None:
            found: Iterable[Referral] = PatientLookup(self.store).numbered(query.referral_number)
        elif query.family_name is not None and query.birth_date is not None:
            found = PatientLookup(self.store).caller(query.family_name, query.birth_date)
        else:
            return []
        return match_referrals(found, query)


def _submit(desk: IntakeService, session: IntakeSession, actor: Actor) -> IntakeOutcome:
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
    matches = desk.lookup(query)
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
        # The call as it happened: who took it (AI or person), when it began and ended, and
        # for a status call exactly which fields were disclosed to which caller.
        interaction = call_interaction(
            call_type=session.call_type.value,
            actor=actor,
            at=min(session.started_at, now),
            ended_at=now,
            outcome=outcome,
            answer=answer,
        )
        referral = desk.uow.amend(
            referral.id,
            "call_logged",
            actor=actor,
            update=lambda current: {"interactions": (*current.interactions, interaction)},
            data={
                "call_id": str(session.id),
                "call_type": session.call_type.value,
                "interaction_id": str(interaction.id),
            },
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


def _submit_new_referral(
    desk: IntakeService, session: IntakeSession, actor: Actor
) -> IntakeOutcome:
    now = desk.clock.now()
    referral = session.to_referral()
    patient = referral.patient
    duplicate = find_duplicate(
        referral,
        () if patient is None else PatientLookup(desk.store).same_person(patient, ACTIVE_STATES),
        now=now,
        window=session.config.duplicate_window,
    )
    if duplicate is not None:
        linked = desk.uow.amend(
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
    # Created and completed in one transaction: a refusal (role, guard) writes nothing, and
    # the after-commit steps (auto-routing an urgent referral) see it complete.
    stored = desk.uow.create(
        referral, actor=actor, then=lambda batch: batch.fire("complete_intake", actor=actor)
    )
    _log.info("intake %s created referral %s", session.id, referral.id)
    call = session.to_call_record("referral_created", resolved_at=now, referral_id=referral.id)
    return IntakeOutcome(call, stored, created=True)
