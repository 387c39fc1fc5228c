"""Answers to "what should I expect at the specialist visit?", from the practice's content.

:func:`answer_visit_preparation` answers a visit-preparation question from the receiving
practice's approved :class:`~referralkit.calls.VisitContent`, merged with the referral's own
facts: the appointment in the patient's local time, where it is, which records are still
missing, the authorization state and what happens next. Only an entitled caller hears it: the
patient, a caregiver verified with the patient's last name and date of birth, or a practice
verified by an NPI on the referral (:func:`referralkit.intake.verify_caller`). Anyone else
hears the same sentence whether or not a referral exists.

A question the content does not answer is never guessed: it becomes a :class:`HandOff` to the
patient counselling queue with the caller's question for the person who calls back.

.. versionadded:: 0.1
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from referralkit.calls.content import VisitContent, VisitGuide, VisitText
from referralkit.calls.handoff import HandOff
from referralkit.intake import CallerIdentity, verify_caller
from referralkit.intake.fields import VISIT_TOPICS
from referralkit.intake.readback import spell_date, spell_time
from referralkit.lifecycle.next_steps import AUTHORIZATION_SENTENCES, next_step
from referralkit.model import AuthorizationStatus, RecordsRequestStatus, Referral

__all__ = ["COUNSELLING_QUEUE", "TOPICS", "VisitPrepAnswer", "answer_visit_preparation"]

COUNSELLING_QUEUE: Final = "patient_counselling"
"""Where questions the content does not answer go (a queue of the routing defaults)."""
VERIFICATION_QUEUE: Final = "scheduling"
TOPICS: Final = VISIT_TOPICS
"""The topics a visit-preparation question can have (``question.topic``)."""

_SETTLED: Final = frozenset(
    {AuthorizationStatus.NOT_REQUIRED, AuthorizationStatus.APPROVED, AuthorizationStatus.MODIFIED}
)
_T: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "en": {
            "unverified": (
                "I can't share referral details until I can verify who is calling. A staff "
                "member will follow up."
            ),
            "handoff": (
                "I don't have an approved answer to that, so I'm passing your question to our "
                "patient counselling team, who will call you back."
            ),
            "bring_own": "Please bring {items}.",
            "bring_practice": "The patient should bring {items}.",
            "appointment_own": "Your appointment is on {day}, at {time}.",
            "appointment_other": "The patient's appointment is on {day}, at {time}.",
            "appointment_no_zone": (
                "The appointment is booked; please check the time on the confirmation."
            ),
            "arrive": "Please arrive {minutes} minutes early.",
            "arrive_no_appointment": "Please arrive {minutes} minutes before the appointment.",
            "location": "The visit is at {location}.",
            "duration": "The visit usually takes about {minutes} minutes.",
            "records_from": "The specialist's office is still waiting for records from {source}.",
            "records": "The specialist's office is still waiting for some medical records.",
            "and": "and",
        },
        "es": {
            "unverified": (
                "No puedo compartir detalles de la referencia hasta verificar quién llama. Un "
                "miembro del personal le dará seguimiento."
            ),
            "handoff": (
                "No tengo una respuesta aprobada para eso; paso su pregunta a nuestro equipo de "
                "orientación al paciente, que le devolverá la llamada."
            ),
            "bring_own": "Por favor traiga {items}.",
            "bring_practice": "El paciente debe traer {items}.",
            "appointment_own": "Su cita es el {day} a {time}.",
            "appointment_other": "La cita del paciente es el {day} a {time}.",
            "appointment_no_zone": ("La cita está programada; revise la hora en la confirmación."),
            "arrive": "Por favor llegue {minutes} minutos antes.",
            "arrive_no_appointment": "Por favor llegue {minutes} minutos antes de la cita.",
            "location": "La visita es en {location}.",
            "duration": "La visita suele durar unos {minutes} minutos.",
            "records_from": (
                "El consultorio del especialista aún espera expedientes de {source}."
            ),
            "records": "El consultorio del especialista aún espera algunos expedientes médicos.",
            "and": "y",
        },
    }
)
_YOUR: Final = re.compile(r"\b([Yy])our\b")


def _their(match: re.Match[str]) -> str:
    return "Their" if match.group(1) == "Y" else "their"


_WEEKDAYS: Final = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}


@attrs.frozen
class VisitPrepAnswer:
    """A visit-preparation answer, holding only what the caller may hear.

    :ivar audience: who the caller was verified as, or ``None`` (nothing was disclosed).
    :ivar answered: whether the content answered the question (else see ``handoff``).
    :ivar text: what to read to the caller.
    :ivar details: the merged referral facts (local appointment time, location, missing
        records, authorization status) for the agent's own use.
    :ivar handoff: the hand-off to a human queue when the question was not answered.
    :ivar source: which guide answered: ``(practice, specialty, visit_type)``.

    .. versionadded:: 0.1
    """

    audience: str | None
    answered: bool
    language: str
    topic: str | None
    # Spoken text and details can name times and places: kept out of repr() (logs).
    text: str = attrs.field(repr=False)
    details: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    handoff: HandOff | None = None
    flags: tuple[str, ...] = ()
    source: tuple[str, str, str | None] | None = None

    @property
    def verified(self) -> bool:
        """Whether anything about a referral was disclosed."""
        return self.audience is not None


def _join(items: tuple[str, ...], word: str) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _local_appointment(
    referral: Referral, guide: VisitGuide | None, lang: str, own: bool, t: Mapping[str, str]
) -> tuple[str | None, dict[str, str]]:
    appointment = referral.current_appointment
    if appointment is None:
        return None, {}
    zone = (referral.patient.time_zone if referral.patient else None) or (
        guide.time_zone if guide else None
    )
    details: dict[str, str] = {}
    if appointment.location:
        details["appointment_location"] = appointment.location
    if zone is None:
        # Never say a time in the wrong zone: UTC read as local time sends people an hour off.
        details["appointment_start"] = appointment.start.isoformat()
        return t["appointment_no_zone"], details
    local = appointment.start.astimezone(ZoneInfo(zone))
    details["appointment_start"] = local.isoformat()
    details["time_zone"] = zone
    weekday = _WEEKDAYS[lang][local.weekday()]
    day = f"{weekday} {spell_date(local.date(), lang)}"
    if lang == "en":
        day = f"{weekday}, {spell_date(local.date(), lang)}"
    when = spell_time(local, lang)
    text = t["appointment_own" if own else "appointment_other"].format(day=day, time=when)
    return text, details


def _missing_records(referral: Referral, t: Mapping[str, str]) -> tuple[str | None, int]:
    waiting = [
        r
        for r in referral.records_requests
        if r.status in (RecordsRequestStatus.REQUESTED, RecordsRequestStatus.FAILED)
    ]
    if not waiting:
        return None, 0
    sources = tuple(dict.fromkeys(r.from_practice for r in waiting if r.from_practice))
    if sources:
        return t["records_from"].format(source=_join(sources, t["and"])), len(waiting)
    return t["records"], len(waiting)


def _topic_text(
    topic: str,
    guide: VisitGuide,
    text: VisitText,
    referral: Referral,
    appointment_line: str | None,
    audience: str,
    t: Mapping[str, str],
) -> str | None:
    if topic == "what_to_bring" and text.bring:
        # The practice writes the list to the patient ("your insurance card"): a caregiver
        # passes it on as written; a practice hears it about the patient ("their"; Spanish
        # "su" already serves both).
        if audience == "patient":
            return t["bring_own"].format(items=_join(text.bring, t["and"]))
        items = (
            tuple(_YOUR.sub(_their, item) for item in text.bring) if t is _T["en"] else text.bring
        )
        return t["bring_practice"].format(items=_join(items, t["and"]))
    if topic == "arrival_time" and guide.arrive_minutes_early is not None:
        minutes = guide.arrive_minutes_early
        if appointment_line is not None:
            return f"{appointment_line} {t['arrive'].format(minutes=minutes)}"
        return t["arrive_no_appointment"].format(minutes=minutes)
    if topic == "location":
        appointment = referral.current_appointment
        where = (appointment.location if appointment else None) or text.location
        if where:
            parts = [t["location"].format(location=where.rstrip("."))]
            if text.parking:
                parts.append(text.parking)
            return " ".join(parts)
        return None
    if topic == "duration" and guide.duration_minutes is not None:
        return t["duration"].format(minutes=guide.duration_minutes)
    if topic in ("preparation", "cost", "reschedule"):
        value: str | None = getattr(text, topic)
        return value
    return None


def _handoff_answer(
    audience: str | None,
    lang: str,
    topic: str | None,
    question: str | None,
    reason: str,
    queue: str,
    *,
    flags: tuple[str, ...] = (),
) -> VisitPrepAnswer:
    t = _T[lang]
    text = t["handoff"] if audience is not None else t["unverified"]
    handoff = HandOff(queue, reason, "visit_preparation", topic, question)
    return VisitPrepAnswer(audience, False, lang, topic, text, handoff=handoff, flags=flags)


def answer_visit_preparation(
    referral: Referral | None,
    caller: CallerIdentity,
    content: VisitContent,
    *,
    topic: str | None,
    question: str | None = None,
    visit_type: str | None = None,
    language: str | None = "en",
) -> VisitPrepAnswer:
    """Answer a visit-preparation question for *caller* about *referral*.

    :param referral: the referral the caller's lookup found, or ``None``.
    :param topic: one of :data:`TOPICS`; ``"other"`` (or none) always goes to a person.
    :param question: the caller's question in their words, passed on with a hand-off.
    :param visit_type: the kind of visit booked, when the host knows it; a guide for it wins
        over the practice's general guide.
    :param language: ``"en"`` or ``"es"`` (regional tags count; others fall back to English).
    """
    lang = "es" if (language or "en").split("-")[0].lower() == "es" else "en"
    if referral is None:
        return _handoff_answer(
            None,
            lang,
            topic,
            question,
            "referral_not_found",
            VERIFICATION_QUEUE,
            flags=("referral_not_found",),
        )
    audience = verify_caller(referral, caller)
    if audience is None:
        return _handoff_answer(
            None,
            lang,
            topic,
            question,
            "caller_not_verified",
            VERIFICATION_QUEUE,
            flags=("caller_not_verified",),
        )
    guide = content.find(referral, visit_type)
    text = guide.text(lang) if guide is not None else None
    if guide is None or text is None:
        reason = "no_content" if guide is None else "no_content_in_language"
        return _handoff_answer(audience, lang, topic, question, reason, COUNSELLING_QUEUE)
    t = _T[lang]
    own = caller.role == "patient"
    appointment_line, details = _local_appointment(referral, guide, lang, own, t)
    answer = (
        _topic_text(topic, guide, text, referral, appointment_line, audience, t)
        if topic in TOPICS
        else None
    )
    if answer is None:
        reason = "question_outside_content" if topic in (None, "other") else "not_in_content"
        return _handoff_answer(audience, lang, topic, question, reason, COUNSELLING_QUEUE)
    parts = [answer]
    if appointment_line is not None and topic != "arrival_time":
        parts.append(appointment_line)
    records_line, waiting = _missing_records(referral, t)
    if records_line is not None:
        parts.append(records_line)
        details["records_missing"] = str(waiting)
    auth = referral.authorization.status
    details["authorization"] = auth.value
    if auth not in _SETTLED:
        parts.append(AUTHORIZATION_SENTENCES[lang][auth])
    step = next_step(referral, lang)
    if referral.current_appointment is None:
        parts.append(step.patient if audience == "patient" else step.practice)
    return VisitPrepAnswer(
        audience,
        True,
        lang,
        topic,
        " ".join(parts),
        details=MappingProxyType(details),
        source=guide.key,
    )
