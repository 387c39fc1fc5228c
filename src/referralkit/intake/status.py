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
from referralkit.model import AuthorizationStatus, Referral, ReferralStatus
from referralkit.model.identity import caller_matches

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


def _compact(number: str) -> str:
    return number.upper().replace("-", "").replace(" ", "")


def match_referrals(referrals: Iterable[Referral], query: LookupQuery) -> list[Referral]:
    """Return the referrals *query* identifies, open ones first, newest first.

    By number when given (exact, ignoring case, spaces and dashes); else by last name
    (accents, case and punctuation ignored) and birth date, and first name too when given.
    """
    found: list[Referral] = []
    if query.referral_number is not None:
        # Separators are how a number is printed, not part of it: "R7KQ4M2X9" read back over
        # the phone finds "R-7KQ4-M2X9".
        wanted = _compact(query.referral_number)
        found = [
            r for r in referrals if r.referral_number and _compact(r.referral_number) == wanted
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
_STATE_EN: Final[Mapping[ReferralStatus, tuple[str, str | None, str | None]]] = {
    S.INTAKE: (
        "The referral is still being completed: some details are missing.",
        "The referring office needs to send the missing details.",
        "referring_practice",
    ),
    S.RECEIVED: (
        "The specialist's office has the referral and is reviewing it.",
        "The specialist's office decides whether to accept it.",
        "specialist_office",
    ),
    S.ACCEPTED: (
        "The specialist's office has accepted the referral.",
        "The office checks whether insurance approval is needed.",
        "specialist_office",
    ),
    S.PENDING_AUTH: (
        "The referral is waiting for insurance approval.",
        "The specialist's office is waiting for the insurance company's answer.",
        "insurance",
    ),
    S.READY_TO_SCHEDULE: (
        "The referral is ready and the appointment can be booked.",
        "The patient can call to book, or the specialist's office will call the patient.",
        "patient",
    ),
    S.SCHEDULED: (
        "An appointment is booked.",
        "The patient goes to the appointment.",
        "patient",
    ),
    S.VISIT_COMPLETED: (
        "The patient has been seen by the specialist.",
        "The specialist's office sends the visit report to the referring doctor.",
        "specialist_office",
    ),
    S.CLOSED: ("The referral is complete: the visit report was sent back.", None, None),
    S.DECLINED: (
        "The specialist's office did not accept the referral.",
        "The referring doctor's office will discuss other options.",
        "referring_practice",
    ),
    S.CANCELLED: ("The referral was cancelled.", None, None),
    S.LOST: (
        "The referral was closed because no appointment was booked.",
        "Call the specialist's office if the patient still needs the visit.",
        "patient",
    ),
    S.ON_HOLD: (
        "The referral is on hold.",
        "The specialist's office will pick it up again.",
        "specialist_office",
    ),
    S.ENTERED_IN_ERROR: ("This referral was entered by mistake and is not active.", None, None),
}
_STATE_ES: Final[Mapping[ReferralStatus, tuple[str, str | None]]] = {
    S.INTAKE: (
        "La referencia aún se está completando: faltan algunos datos.",
        "El consultorio que refiere debe enviar los datos que faltan.",
    ),
    S.RECEIVED: (
        "El consultorio del especialista recibió la referencia y la está revisando.",
        "El consultorio del especialista decidirá si la acepta.",
    ),
    S.ACCEPTED: (
        "El consultorio del especialista aceptó la referencia.",
        "El consultorio revisa si se necesita aprobación del seguro.",
    ),
    S.PENDING_AUTH: (
        "La referencia está esperando la aprobación del seguro.",
        "El consultorio del especialista espera la respuesta del seguro.",
    ),
    S.READY_TO_SCHEDULE: (
        "La referencia está lista y se puede programar la cita.",
        "El paciente puede llamar para programarla, o el consultorio lo llamará.",
    ),
    S.SCHEDULED: ("Hay una cita programada.", "El paciente asiste a la cita."),
    S.VISIT_COMPLETED: (
        "El especialista ya atendió al paciente.",
        "El consultorio del especialista envía el informe al médico que refirió.",
    ),
    S.CLOSED: ("La referencia está completa: se envió el informe de la visita.", None),
    S.DECLINED: (
        "El consultorio del especialista no aceptó la referencia.",
        "El consultorio del médico que refirió hablará de otras opciones.",
    ),
    S.CANCELLED: ("La referencia fue cancelada.", None),
    S.LOST: (
        "La referencia se cerró porque no se programó ninguna cita.",
        "Llame al consultorio del especialista si el paciente aún necesita la visita.",
    ),
    S.ON_HOLD: ("La referencia está en pausa.", "El consultorio del especialista la retomará."),
    S.ENTERED_IN_ERROR: ("Esta referencia se registró por error y no está activa.", None),
}
A = AuthorizationStatus
_AUTH: Final[Mapping[str, Mapping[AuthorizationStatus, str]]] = MappingProxyType(
    {
        "en": {
            A.NOT_REQUIRED: "No insurance approval is needed.",
            A.REQUIRED: "Insurance approval is needed and has not been requested yet.",
            A.SUBMITTED: "The request for insurance approval was sent; no answer yet.",
            A.PENDED: "The insurance company asked for more information.",
            A.APPROVED: "Insurance approved the visit.",
            A.MODIFIED: "Insurance approved the visit with changes.",
            A.DENIED: "Insurance did not approve the visit; staff will follow up.",
            A.EXPIRED: "The insurance approval has expired and needs renewing.",
        },
        "es": {
            A.NOT_REQUIRED: "No se necesita aprobación del seguro.",
            A.REQUIRED: "Se necesita aprobación del seguro y aún no se ha solicitado.",
            A.SUBMITTED: "Se envió la solicitud de aprobación al seguro; aún no hay respuesta.",
            A.PENDED: "El seguro pidió más información.",
            A.APPROVED: "El seguro aprobó la visita.",
            A.MODIFIED: "El seguro aprobó la visita con cambios.",
            A.DENIED: "El seguro no aprobó la visita; el personal dará seguimiento.",
            A.EXPIRED: "La aprobación del seguro venció y debe renovarse.",
        },
    }
)
# While the referral waits on authorization, the next step and who owns it follow the true
# sub-status: "not requested yet" and "waiting for the insurer's answer" never go together.
_AUTH_NEXT: Final[Mapping[str, Mapping[AuthorizationStatus, tuple[str, str]]]] = MappingProxyType(
    {
        "en": {
            A.NOT_REQUIRED: (
                "The specialist's office is confirming that no approval is needed.",
                "specialist_office",
            ),
            A.APPROVED: (
                "The specialist's office is recording the approval.",
                "specialist_office",
            ),
            A.MODIFIED: (
                "The specialist's office is reviewing the approved changes.",
                "specialist_office",
            ),
            A.REQUIRED: (
                "The specialist's office is preparing the request to the insurance company.",
                "specialist_office",
            ),
            A.SUBMITTED: (
                "The specialist's office is waiting for the insurance company's answer.",
                "insurance",
            ),
            A.PENDED: (
                "The specialist's office is sending the insurance company what it asked for.",
                "specialist_office",
            ),
            A.DENIED: (
                "The specialist's office is reviewing the denial and whether to appeal.",
                "specialist_office",
            ),
            A.EXPIRED: (
                "The specialist's office is asking the insurance company to renew it.",
                "specialist_office",
            ),
        },
        "es": {
            A.NOT_REQUIRED: (
                "El consultorio del especialista confirma que no se necesita aprobación.",
                "specialist_office",
            ),
            A.APPROVED: (
                "El consultorio del especialista está registrando la aprobación.",
                "specialist_office",
            ),
            A.MODIFIED: (
                "El consultorio del especialista revisa los cambios aprobados.",
                "specialist_office",
            ),
            A.REQUIRED: (
                "El consultorio del especialista está preparando la solicitud al seguro.",
                "specialist_office",
            ),
            A.SUBMITTED: (
                "El consultorio del especialista espera la respuesta del seguro.",
                "insurance",
            ),
            A.PENDED: (
                "El consultorio del especialista está enviando al seguro lo que pidió.",
                "specialist_office",
            ),
            A.DENIED: (
                "El consultorio del especialista revisa la negativa y si apelar.",
                "specialist_office",
            ),
            A.EXPIRED: (
                "El consultorio del especialista está pidiendo al seguro que la renueve.",
                "specialist_office",
            ),
        },
    }
)
_RECORDS_MISSING: Final[Mapping[str, str]] = {
    "en": "The specialist's office is still waiting for medical records ({kinds}).",
    "es": "El consultorio del especialista aún espera los expedientes médicos ({kinds}).",
}
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
    :ivar owner: who owns the next step (``"specialist_office"``, ``"referring_practice"``,
        ``"insurance"``, ``"patient"``), or ``None`` when nothing is left to do.
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
    flags: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        """Whether anything about a referral was disclosed."""
        return self.audience is not None


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
    what, next_step, owner = _STATE_EN[referral.status]
    if lang == "es":
        what, next_step = _STATE_ES[referral.status]
    auth = referral.authorization
    auth_text = _AUTH[lang][auth.status]
    if referral.status is S.PENDING_AUTH and auth.status in _AUTH_NEXT[lang]:
        next_step, owner = _AUTH_NEXT[lang][auth.status]
    parts = [auth_text, what] if about_authorization else [what, auth_text]
    missing = referral.missing_records() if referral.status in _RECORDS_MATTER else ()
    if missing:
        parts.append(
            _RECORDS_MISSING[lang].format(kinds=", ".join(k.replace("_", " ") for k in missing))
        )
    if next_step:
        parts.append(next_step)
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
    )
