"""The built-in questions intake asks, in English and Spanish.

Keys are field paths or requirement keys (see :mod:`referralkit.intake.specs`). A practice
adds languages or rewords questions with ``[prompts.<lang>]`` in its TOML configuration.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["GENERIC_PROMPT", "PROMPTS"]

_LOOKUP: Final = "referral_number | patient.family_name + patient.birth_date"

_EN: Final = {
    "caller.role": (
        "Are you the patient, a family member or caregiver, or calling from a practice?"
    ),
    "caller.name": "May I have your name?",
    "caller.phone": "What is the best number to call you back on?",
    "caller.npi": "What is your practice's NPI number?",
    "caller.practice_name": "Which practice are you calling from?",
    "referral_number": "Do you have the referral number?",
    _LOOKUP: (
        "Do you have the referral number? If not, I can use the patient's last name "
        "and date of birth."
    ),
    "patient.given_name": "What is the patient's first name?",
    "patient.family_name": "What is the patient's last name?",
    "patient.birth_date": "What is the patient's date of birth?",
    "patient.phones": "What is the best phone number to reach the patient?",
    "patient.email": "Does the patient have an email address we can use?",
    "patient.address": "What is the patient's home address?",
    "patient.address.line1": "What is the patient's street address?",
    "patient.address.city": "Which city does the patient live in?",
    "patient.address.state": "Which state does the patient live in?",
    "patient.address.postal_code": "What is the patient's ZIP code?",
    "referring_practice.name | referring_provider.name": (
        "Which practice or doctor is making the referral?"
    ),
    "referring_practice.name": "Which practice is making the referral?",
    "referring_provider.name": "Which doctor is making the referral?",
    "specialty": "Which specialty is the patient being referred to?",
    "reason.text | reason.icd10_codes": (
        "What is the reason for the referral, or its diagnosis codes?"
    ),
    "reason": "What is the reason for the referral?",
    "priority": "Did the referring doctor mark this referral routine, urgent, ASAP or stat?",
    "coverage.payer_name": "What is the name of the patient's insurance?",
    "coverage.member_id": "What is the member ID on the insurance card?",
    "appointment.preferred_times": "Which days and times work best for the appointment?",
    "question.topic": "What would you like to know?",
    "records.from_practice": "Which practice should the records come from?",
    "records.fax": "Which fax number should the records go to?",
}

_ES: Final = {
    "caller.role": (
        "¿Es usted el paciente, un familiar o cuidador, o llama desde un consultorio?"
    ),
    "caller.name": "¿Me puede dar su nombre?",
    "caller.phone": "¿A qué número le podemos devolver la llamada?",
    "caller.npi": "¿Cuál es el número NPI de su consultorio?",
    "caller.practice_name": "¿Desde qué consultorio llama?",
    "referral_number": "¿Tiene el número de la referencia?",
    _LOOKUP: (
        "¿Tiene el número de la referencia? Si no, puedo usar el apellido y la fecha de "
        "nacimiento del paciente."
    ),
    "patient.given_name": "¿Cuál es el nombre del paciente?",
    "patient.family_name": "¿Cuál es el apellido del paciente?",
    "patient.birth_date": "¿Cuál es la fecha de nacimiento del paciente?",
    "patient.phones": "¿Cuál es el mejor número de teléfono para comunicarnos con el paciente?",
    "patient.email": "¿Tiene el paciente un correo electrónico que podamos usar?",
    "patient.address": "¿Cuál es la dirección del paciente?",
    "patient.address.line1": "¿Cuál es la calle y el número de la casa del paciente?",
    "patient.address.city": "¿En qué ciudad vive el paciente?",
    "patient.address.state": "¿En qué estado vive el paciente?",
    "patient.address.postal_code": "¿Cuál es el código postal del paciente?",
    "referring_practice.name | referring_provider.name": (
        "¿Qué consultorio o médico envía la referencia?"
    ),
    "referring_practice.name": "¿Qué consultorio envía la referencia?",
    "referring_provider.name": "¿Qué médico envía la referencia?",
    "specialty": "¿A qué especialidad se refiere al paciente?",
    "reason.text | reason.icd10_codes": (
        "¿Cuál es el motivo de la referencia, o sus códigos de diagnóstico?"
    ),
    "reason": "¿Cuál es el motivo de la referencia?",
    "priority": (
        "¿El médico marcó esta referencia como rutinaria, urgente, lo antes posible o stat?"
    ),
    "coverage.payer_name": "¿Cómo se llama el seguro médico del paciente?",
    "coverage.member_id": "¿Cuál es el número de miembro en la tarjeta del seguro?",
    "appointment.preferred_times": "¿Qué días y horarios le convienen para la cita?",
    "question.topic": "¿Qué le gustaría saber?",
    "records.from_practice": "¿De qué consultorio deben venir los expedientes?",
    "records.fax": "¿A qué número de fax se deben enviar los expedientes?",
}

PROMPTS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {"en": MappingProxyType(_EN), "es": MappingProxyType(_ES)}
)
"""Built-in questions by language, then by field path or requirement key."""

GENERIC_PROMPT: Final[Mapping[str, str]] = MappingProxyType(
    {"en": "Could you give me the {field}?", "es": "¿Me puede dar el dato: {field}?"}
)
"""Asked for a field no prompt covers; ``{field}`` is the path with dots as spaces."""
