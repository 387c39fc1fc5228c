"""Caller-aware questions and read-backs, in the caller's language.

"Your date of birth" to the patient, "the patient's" to a caregiver, clinical and
administrative wording to a practice.

Intake's built-in questions (:data:`referralkit.intake.prompts.PROMPTS`) speak of "the
patient": they suit a caregiver and anyone whose role is not known yet. :func:`phrase` rewords
a question for a patient or a practice caller. A question a practice reworded in its intake
configuration (``[prompts.<lang>]``) is kept as the practice wrote it.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from types import MappingProxyType
from typing import Any, Final, Literal

from referralkit.intake.config import IntakeConfig
from referralkit.intake.prompts import PROMPTS
from referralkit.intake.readback import group_phone, spell_date, spell_reference
from referralkit.intake.results import Question

__all__ = ["AUDIENCE_PROMPTS", "READ_BACK_PATHS", "Audience", "audience_of", "phrase", "read_back"]

Audience = Literal["patient", "caregiver", "practice"]
"""How a question is worded: to the patient, about the patient, or to a practice."""

_LOOKUP: Final = "referral_number | patient.family_name + patient.birth_date"

_PATIENT_EN: Final = {
    "caller.phone": "What is the best number to call you back on?",
    "referral_number": "Do you have your referral number?",
    _LOOKUP: (
        "Do you have your referral number? If not, I can use your last name and date of birth."
    ),
    "patient.given_name": "What is your first name?",
    "patient.family_name": "What is your last name?",
    "patient.birth_date": "What is your date of birth?",
    "patient.phones": "What is the best phone number to reach you?",
    "patient.email": "Do you have an email address we can use?",
    "patient.address": "What is your home address?",
    "patient.address.line1": "What is your street address?",
    "patient.address.city": "Which city do you live in?",
    "patient.address.state": "Which state do you live in?",
    "patient.address.postal_code": "What is your ZIP code?",
    "referring_practice.name | referring_provider.name": (
        "Which practice or doctor referred you?"
    ),
    "referring_practice.name": "Which practice referred you?",
    "referring_provider.name": "Which doctor referred you?",
    "specialty": "What kind of specialist were you referred to?",
    "reason.text | reason.icd10_codes": "Why did your doctor refer you?",
    "reason": "Why did your doctor refer you?",
    "priority": "Did your doctor say the referral is routine or urgent?",
    "coverage.payer_name": "What is the name of your insurance?",
    "coverage.member_id": "What is the member ID on your insurance card?",
    "appointment.preferred_times": "Which days and times work best for you?",
    "question.topic": "What would you like to know?",
    "records.from_practice": "Which practice has your medical records?",
}
_PATIENT_ES: Final = {
    "caller.phone": "¿A qué número le podemos devolver la llamada?",
    "referral_number": "¿Tiene su número de referencia?",
    _LOOKUP: (
        "¿Tiene su número de referencia? Si no, puedo usar su apellido y su fecha de nacimiento."
    ),
    "patient.given_name": "¿Cuál es su nombre?",
    "patient.family_name": "¿Cuál es su apellido?",
    "patient.birth_date": "¿Cuál es su fecha de nacimiento?",
    "patient.phones": "¿Cuál es el mejor número de teléfono para comunicarnos con usted?",
    "patient.email": "¿Tiene un correo electrónico que podamos usar?",
    "patient.address": "¿Cuál es su dirección?",
    "patient.address.line1": "¿Cuál es su calle y número?",
    "patient.address.city": "¿En qué ciudad vive?",
    "patient.address.state": "¿En qué estado vive?",
    "patient.address.postal_code": "¿Cuál es su código postal?",
    "referring_practice.name | referring_provider.name": (
        "¿Qué consultorio o médico le envió la referencia?"
    ),
    "referring_practice.name": "¿Qué consultorio le envió la referencia?",
    "referring_provider.name": "¿Qué médico le envió la referencia?",
    "specialty": "¿A qué tipo de especialista lo refirieron?",
    "reason.text | reason.icd10_codes": "¿Por qué lo refirió su médico?",
    "reason": "¿Por qué lo refirió su médico?",
    "priority": "¿Su médico dijo que la referencia es de rutina o urgente?",
    "coverage.payer_name": "¿Cómo se llama su seguro médico?",
    "coverage.member_id": "¿Cuál es el número de miembro en su tarjeta del seguro?",
    "appointment.preferred_times": "¿Qué días y horarios le convienen más?",
    "question.topic": "¿Qué le gustaría saber?",
    "records.from_practice": "¿Qué consultorio tiene sus expedientes médicos?",
}
_PRACTICE_EN: Final = {
    "caller.phone": "What is the best call-back number for your office?",
    "caller.npi": "What is your practice's NPI?",
    "caller.practice_name": "Which practice are you calling from?",
    _LOOKUP: (
        "What is the referral number? If you don't have it, the patient's last name and date "
        "of birth."
    ),
    "patient.phones": "What is the patient's best contact number?",
    "referring_practice.name | referring_provider.name": (
        "Which practice and ordering provider is the referral from?"
    ),
    "referring_provider.name": "Who is the ordering provider?",
    "specialty": "Which specialty is the referral to?",
    "reason.text | reason.icd10_codes": (
        "What is the reason for referral, with ICD-10 codes if you have them?"
    ),
    "reason": "What is the reason for referral?",
    "priority": "What priority did the ordering provider set: routine, urgent, ASAP or stat?",
    "coverage.payer_name": "Who is the patient's payer?",
    "coverage.member_id": "What is the patient's member ID?",
    "question.topic": "What is the call regarding?",
    "records.from_practice": "Which practice should send the records?",
    "records.fax": "Which fax number should the records go to?",
}
_PRACTICE_ES: Final = {
    "caller.phone": "¿Cuál es el mejor número para devolver la llamada a su consultorio?",
    "caller.npi": "¿Cuál es el NPI de su consultorio?",
    "caller.practice_name": "¿Desde qué consultorio llama?",
    _LOOKUP: (
        "¿Cuál es el número de la referencia? Si no lo tiene, el apellido y la fecha de "
        "nacimiento del paciente."
    ),
    "patient.phones": "¿Cuál es el mejor número de contacto del paciente?",
    "referring_practice.name | referring_provider.name": (
        "¿De qué consultorio y médico solicitante es la referencia?"
    ),
    "referring_provider.name": "¿Quién es el médico solicitante?",
    "specialty": "¿A qué especialidad va la referencia?",
    "reason.text | reason.icd10_codes": (
        "¿Cuál es el motivo de la referencia, con códigos CIE-10 si los tiene?"
    ),
    "reason": "¿Cuál es el motivo de la referencia?",
    "priority": "¿Qué prioridad indicó el médico: rutina, urgente, lo antes posible o stat?",
    "coverage.payer_name": "¿Cuál es la aseguradora del paciente?",
    "coverage.member_id": "¿Cuál es el número de miembro del paciente?",
    "question.topic": "¿Cuál es el motivo de su llamada?",
    "records.from_practice": "¿Qué consultorio debe enviar los expedientes?",
    "records.fax": "¿A qué número de fax se deben enviar los expedientes?",
}

AUDIENCE_PROMPTS: Final[Mapping[Audience, Mapping[str, Mapping[str, str]]]] = MappingProxyType(
    {
        "patient": MappingProxyType(
            {"en": MappingProxyType(_PATIENT_EN), "es": MappingProxyType(_PATIENT_ES)}
        ),
        "caregiver": PROMPTS,
        "practice": MappingProxyType(
            {"en": MappingProxyType(_PRACTICE_EN), "es": MappingProxyType(_PRACTICE_ES)}
        ),
    }
)
"""Questions by audience, language and field path or requirement key; the caregiver wording
is intake's built-in one ("the patient's")."""

_BUILT_IN: Final[Mapping[str, frozenset[str]]] = {
    lang: frozenset(texts.values()) for lang, texts in PROMPTS.items()
}
_PRACTICE_ROLES: Final = frozenset({"referring_practice", "receiving_practice", "payer"})


def audience_of(caller_role: str | None) -> Audience:
    """Return how to word questions for a caller in *caller_role* (unknown: as a caregiver)."""
    if caller_role == "patient":
        return "patient"
    if caller_role in _PRACTICE_ROLES:
        return "practice"
    return "caregiver"


def phrase(
    question: Question, caller_role: str | None, config: IntakeConfig | None = None
) -> Question:
    """Return *question* worded for a caller in *caller_role*, in the question's language.

    :param config: the intake configuration the question came from; a question it rewords is
        kept as the practice wrote it.
    """
    audience = audience_of(caller_role)
    if audience == "caregiver":
        return question
    # Questions are configuration, never caller data: the worded form is kept per question,
    # since the same few dozen are asked on every call.
    key = (
        question.field,
        question.text,
        question.language,
        audience,
        config is not None and config.prompts is not PROMPTS,
    )
    phrased = _PHRASED.get(key)
    if phrased is None:
        phrased = _phrase(question, audience, custom=key[4])
        if len(_PHRASED) >= 4096:
            _PHRASED.clear()
        _PHRASED[key] = phrased
    return phrased


_PHRASED: dict[tuple[str, str, str, str, bool], Question] = {}


def _phrase(question: Question, audience: Audience, *, custom: bool) -> Question:
    texts = AUDIENCE_PROMPTS[audience].get(question.language)
    if not texts:
        return question
    if custom and question.text not in _BUILT_IN.get(question.language, ()):
        return question  # the practice's own wording wins
    key = question.field
    text = texts.get(key)
    if text is None:
        parts = key.split(".")
        for i in range(len(parts) - 1, 0, -1):
            text = texts.get(".".join(parts[:i]))
            if text is not None:
                break
    return Question(question.field, text, question.language) if text else question


# -- Read-backs -------------------------------------------------------------------------------

_READ_BACK: Final[Mapping[str, Mapping[str, tuple[str, str]]]] = MappingProxyType(
    {
        # path: language: (the patient's own, about the patient)
        "patient.birth_date": {
            "en": ("your date of birth", "the patient's date of birth"),
            "es": ("su fecha de nacimiento", "la fecha de nacimiento del paciente"),
        },
        "patient.phones": {
            "en": ("your phone number", "the patient's phone number"),
            "es": ("su número de teléfono", "el número de teléfono del paciente"),
        },
        "caller.phone": {
            "en": ("your call-back number", "your call-back number"),
            "es": ("su número para devolverle la llamada", "su número para devolverle la llamada"),
        },
        "referral_number": {
            "en": ("the referral number", "the referral number"),
            "es": ("el número de referencia", "el número de referencia"),
        },
        "caller.npi": {
            "en": ("your NPI", "your NPI"),
            "es": ("su NPI", "su NPI"),
        },
    }
)
_LABELS: Final = dict(_READ_BACK)  # a plain dict: looked up on every read-back
READ_BACK_PATHS: Final = frozenset(_READ_BACK)
"""The captured fields that are read back to the caller to confirm."""


def _spoken(path: str, value: Any, language: str) -> str | None:
    if isinstance(value, date):
        return spell_date(value, language)
    if path == "patient.phones" and isinstance(value, list | tuple) and value:
        # Intake keeps each phone as (E.164 number, kind, time zones): read back the first.
        first = value[0]
        number = first[0] if isinstance(first, list | tuple) else first
        return group_phone(str(number)) if number else None
    if path in ("caller.phone", "caller.npi") and isinstance(value, str):
        return group_phone(value) if path == "caller.phone" else " ".join(value)
    if path == "referral_number" and isinstance(value, str):
        return spell_reference(value)
    return None


def read_back(
    values: Iterable[tuple[str, Any]], caller_role: str | None, language: str | None = "en"
) -> str | None:
    """Return one sentence confirming *values* back to the caller, or ``None`` if none applies.

    ``"I have your date of birth as July fourth, nineteen sixty-one. Is that right?"``

    :param values: ``(path, normalised value)`` pairs, as the session captured them.
    """
    lang = "es" if (language or "en").split("-")[0].lower() == "es" else "en"
    which = 0 if caller_role == "patient" else 1  # the patient's own, or about the patient
    joiner = " como " if lang == "es" else " as "
    said: list[str] = []
    for path, value in values:
        labels = _LABELS.get(path)
        if labels is None:
            continue
        spoken = _spoken(path, value, lang)
        if spoken is None:
            continue
        said.append(labels[lang][which] + joiner + spoken)
    if not said:
        return None
    if lang == "es":
        return "Tengo " + "; y ".join(said) + ". ¿Es correcto?"
    return "I have " + "; and ".join(said) + ". Is that right?"
