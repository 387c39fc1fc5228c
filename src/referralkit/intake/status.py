"""Plain answers to "where is my referral?" and "is it authorized?", told only to who may hear.

:func:`answer_status` turns a referral's lifecycle state and authorization sub-status into
what it means, what happens next and who owns that step. What it tells depends on who is
calling and whether they are verified:

- a patient or caregiver is verified by the patient's last name and date of birth, and hears
  the state, the next step, its owner and their own appointment;
- a referring (or receiving) practice is verified by an NPI on the referral, and also hears
  the authorization number and validity and the coded reason behind a decline or cancel;
- anyone else, or anyone not verified, hears only that details need verification: the answer
  is the same whether or not a referral was found, so it discloses nothing.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from types import MappingProxyType
from typing import Final

import attrs

from referralkit.lifecycle import ACTIVE_STATES
from referralkit.lifecycle.next_steps import AUTHORIZATION_SENTENCES
from referralkit.lifecycle.next_steps import next_step as next_step_of
from referralkit.model import AuthorizationStatus, Referral, ReferralStatus
from referralkit.model.identity import caller_matches
from referralkit.model.numbers import compact_referral_number

__all__ = [
    "CallerIdentity",
    "LookupQuery",
    "StatusAnswer",
    "answer_status",
    "match_referrals",
    "verify_caller",
]


@attrs.frozen(repr=False)
class LookupQuery:
    """What a caller gave to find their referral: its number, or the patient's identity."""

    referral_number: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    birth_date: date | None = None

    def __repr__(self) -> str:
        return f"LookupQuery(by_number={self.referral_number is not None})"

    @property
    def usable(self) -> bool:
        """Whether there is enough to look anything up."""
        return self.referral_number is not None or (
            self.family_name is not None and self.birth_date is not None
        )


@attrs.frozen(repr=False)
class CallerIdentity:
    """Who is calling, and what they gave that can verify them (PHI: never logged)."""

    role: str
    npi: str | None = None
    practice_name: str | None = None
    family_name: str | None = None
    birth_date: date | None = None

    def __repr__(self) -> str:
        return f"CallerIdentity(role={self.role!r})"


def match_referrals(referrals: Iterable[Referral], query: LookupQuery) -> list[Referral]:
    """Return the referrals *query* identifies, open ones first, newest first.

    By number when given (exact, ignoring case, spaces and dashes); else by last name
    (accents, case and punctuation ignored) and birth date, and first name too when given.
    """
    found: list[Referral] = []
    if query.referral_number is not None:
        wanted = compact_referral_number(query.referral_number)
        found = [
            r
            for r in referrals
            if r.referral_number and compact_referral_number(r.referral_number) == wanted
        ]
    elif query.family_name is not None and query.birth_date is not None:
        for referral in referrals:
            patient = referral.patient
            if patient is not None and caller_matches(
                patient,
                family_name=query.family_name,
                birth_date=query.birth_date,
                given_name=query.given_name or None,
            ):
                found.append(referral)
    found.sort(
        key=lambda r: (r.status in ACTIVE_STATES, r.created_at.timestamp() if r.created_at else 0),
        reverse=True,
    )
    return found


def verify_caller(referral: Referral, caller: CallerIdentity) -> str | None:
    """Return the audience the caller is verified as for *referral*, or ``None``.

    :returns: ``"patient"``, ``"referring_practice"``, ``"receiving_practice"`` or ``None``.
    """
    if caller.role in ("patient", "caregiver"):
        patient = referral.patient
        if (
            patient is not None
            and caller.family_name is not None
            and caller.birth_date is not None
            and caller_matches(
                patient, family_name=caller.family_name, birth_date=caller.birth_date
            )
        ):
            return "patient"
        return None
    for side in ("referring", "receiving"):
        if caller.role != f"{side}_practice" or caller.npi is None:
            continue
        practice = (
            referral.referring_practice if side == "referring" else referral.receiving_practice
        )
        provider = (
            referral.referring_provider if side == "referring" else referral.receiving_provider
        )
        npis = {x.npi for x in (practice, provider) if x is not None and x.npi is not None}
        if caller.npi in npis:
            return caller.role
    return None


# -- Plain language ---------------------------------------------------------------------------

S = ReferralStatus
# What the state means; what happens next comes from referralkit.lifecycle.next_steps, so a
# status answer, a visit-preparation answer and an outreach text always agree.
_STATE_EN: Final[Mapping[ReferralStatus, str]] = {
    S.INTAKE: "The referral is still being completed: some details are missing.",
    S.RECEIVED: "The specialist's office has the referral and is reviewing it.",
    S.ACCEPTED: "The specialist's office has accepted the referral.",
    S.PENDING_AUTH: "The referral is waiting for insurance approval.",
    S.READY_TO_SCHEDULE: "The referral is ready and the appointment can be booked.",
    S.SCHEDULED: "An appointment is booked.",
    S.VISIT_COMPLETED: "The patient has been seen by the specialist.",
    S.CLOSED: "The referral is complete: the visit report was sent back.",
    S.DECLINED: "The specialist's office did not accept the referral.",
    S.CANCELLED: "The referral was cancelled.",
    S.LOST: "The referral was closed because no appointment was booked.",
    S.ON_HOLD: "The referral is on hold.",
    S.ENTERED_IN_ERROR: "This referral was entered by mistake and is not active.",
}
_STATE_ES: Final[Mapping[ReferralStatus, str]] = {
    S.INTAKE: "La referencia aún se está completando: faltan algunos datos.",
    S.RECEIVED: "El consultorio del especialista recibió la referencia y la está revisando.",
    S.ACCEPTED: "El consultorio del especialista aceptó la referencia.",
    S.PENDING_AUTH: "La referencia está esperando la aprobación del seguro.",
    S.READY_TO_SCHEDULE: "La referencia está lista y se puede programar la cita.",
    S.SCHEDULED: "Hay una cita programada.",
    S.VISIT_COMPLETED: "El especialista ya atendió al paciente.",
    S.CLOSED: "La referencia está completa: se envió el informe de la visita.",
    S.DECLINED: "El consultorio del especialista no aceptó la referencia.",
    S.CANCELLED: "La referencia fue cancelada.",
    S.LOST: "La referencia se cerró porque no se programó ninguna cita.",
    S.ON_HOLD: "La referencia está en pausa.",
    S.ENTERED_IN_ERROR: "Esta referencia se registró por error y no está activa.",
}
A = AuthorizationStatus
_AUTH: Final = AUTHORIZATION_SENTENCES
_UNVERIFIED: Final[Mapping[str, str]] = {
    "en": (
        "I can't share referral details until I can verify who is calling. A staff member "
        "will follow up."
    ),
    "es": (
        "No puedo compartir detalles de la referencia hasta verificar quién llama. Un miembro "
        "del personal le dará seguimiento."
    ),
}
_AUTH_PROBLEMS: Final = frozenset({A.DENIED, A.EXPIRED, A.PENDED})
_RECORDS_MATTER: Final = frozenset(
    {S.RECEIVED, S.ACCEPTED, S.PENDING_AUTH, S.READY_TO_SCHEDULE, S.SCHEDULED, S.ON_HOLD}
)


@attrs.frozen
class StatusAnswer:
    """A plain answer about a referral, holding only what the caller may hear.

    :ivar audience: who the caller was verified as, or ``None`` (nothing was disclosed).
    :ivar text: the answer to read out.
    :ivar next_step: what happens next, from :mod:`referralkit.lifecycle.next_steps`: the
        patient's sentence for a patient or caregiver, the practice's for a practice.

    .. versionchanged:: 0.1
       The next step and its owner follow the sub-statuses (records, authorization,
       appointment, report), not the state alone.
    :ivar owner: who owns the next step (``"specialist_office"``, ``"referring_practice"``,
        ``"insurance"``, ``"patient"``), or ``None`` when nothing is left to do.
    :ivar owner_queue: the receiving practice's queue that handles the next step
        (``"scheduling"``...), the same for the patient and the practice; ``None`` when nothing
        is left to do.
    :ivar owner_team: that queue in words for the caller, in the answer's language ("our
        scheduling team"); the answer's text ends by naming it.
    :ivar details: extra facts for the audience (appointment time, authorization number...).
    :ivar flags: codes for staff (``"referral_not_found"``, ``"caller_not_verified"``,
        ``"authorization_problem"``); never read to the caller.
    """

    audience: str | None
    # The spoken text and the details can name times, places and authorization numbers: they
    # stay out of repr() (logs, tracebacks); read them from the attributes.
    text: str = attrs.field(repr=False)
    language: str
    status: ReferralStatus | None = None
    authorization: AuthorizationStatus | None = None
    next_step: str | None = None
    owner: str | None = None
    details: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    owner_queue: str | None = None
    owner_team: str | None = None
    flags: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        """Whether anything about a referral was disclosed."""
        return self.audience is not None


_HANDLED_BY: Final[Mapping[str, str]] = {
    "en": "{team} handles the next step.",
    "es": "{team} se encarga del siguiente paso.",
}


def answer_status(
    referral: Referral | None,
    caller: CallerIdentity,
    *,
    about_authorization: bool = False,
    language: str = "en",
) -> StatusAnswer:
    """Answer a status or authorization question about *referral* for *caller*.

    :param referral: the referral the caller's lookup found, or ``None``.
    :param about_authorization: lead with the authorization sub-status.
    :param language: ``"en"`` or ``"es"`` (others fall back to English).
    """
    lang = "es" if language.split("-")[0].lower() == "es" else "en"
    if referral is None:
        return StatusAnswer(None, _UNVERIFIED[lang], lang, flags=("referral_not_found",))
    audience = verify_caller(referral, caller)
    if audience is None:
        return StatusAnswer(None, _UNVERIFIED[lang], lang, flags=("caller_not_verified",))
    what = (_STATE_ES if lang == "es" else _STATE_EN)[referral.status]
    step = next_step_of(referral, lang)
    next_step = step.patient if audience == "patient" else step.practice
    owner = step.owner
    auth = referral.authorization
    auth_text = _AUTH[lang][auth.status]
    parts = [auth_text, what] if about_authorization else [what, auth_text]
    # Missing records are in the next-step sentence (one voice); their kinds go in the details.
    missing = referral.missing_records() if referral.status in _RECORDS_MATTER else ()
    if next_step:
        parts.append(next_step)
    if step.team is not None:
        parts.append(_HANDLED_BY[lang].format(team=step.team[:1].upper() + step.team[1:]))
    details: dict[str, str] = {}
    appointment = referral.current_appointment
    if appointment is not None:
        details["appointment_start"] = appointment.start.isoformat()
        if appointment.location:
            details["appointment_location"] = appointment.location
    if referral.specialty:
        details["specialty"] = referral.specialty
    if missing:
        details["records_missing"] = ", ".join(missing)
    if audience != "patient":
        if referral.referral_number:
            details["referral_number"] = referral.referral_number
        if auth.number:
            details["authorization_number"] = auth.number
        if auth.valid_to:
            details["authorization_valid_to"] = auth.valid_to.isoformat()
        if auth.authorized_visits is not None:
            details["authorization_visits_left"] = str(auth.authorized_visits - auth.used_visits)
        if referral.status_reason is not None and referral.status_reason.code:
            details["status_reason"] = referral.status_reason.code
    flags = ("authorization_problem",) if auth.status in _AUTH_PROBLEMS else ()
    return StatusAnswer(
        audience,
        " ".join(parts),
        lang,
        status=referral.status,
        authorization=auth.status,
        next_step=next_step,
        owner=owner,
        details=MappingProxyType(details),
        flags=flags,
        owner_queue=step.queue,
        owner_team=step.team,
    )
