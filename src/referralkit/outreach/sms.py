"""SMS text: one segment (160 GSM-7 characters, or 70 UCS-2), naming the practice and STOP.

Outreach texts carry no PHI: no name, no specialty, no diagnosis; only the practice, what to
do, a call-back number and how to opt out (minimum necessary).

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from referralkit.errors import SmsTooLongError
from referralkit.lifecycle.next_steps import next_step
from referralkit.model import Referral

__all__ = [
    "DEFAULT_SMS_TEMPLATES",
    "GSM7_LIMIT",
    "OPT_OUT_HINT",
    "UCS2_LIMIT",
    "SmsTooLongError",
    "finish_sms",
    "is_gsm7",
    "next_step_sms",
    "render_sms",
    "sms_length",
]

GSM7_LIMIT: Final = 160
UCS2_LIMIT: Final = 70
OPT_OUT_HINT: Final = "Reply STOP to opt out."

_GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED: Final = frozenset("^{}\\[~]|€\f")  # two septets each (escape + char)

DEFAULT_SMS_TEMPLATES: Final[Mapping[str, str]] = {
    "schedule.sms_d2": "{practice}: {next_step} {phone}. {stop}",
    "schedule.sms_d1": "{practice}: {next_step} {phone}. {stop}",
    "no_show.sms": "{practice}: we missed you. Call {phone} to rebook your visit. {stop}",
    "reminder.3d": "{practice}: reminder of your visit on {when}. Questions: {phone}. {stop}",
    "reminder.1d": "{practice}: see you tomorrow, {when}. To change call {phone}. {stop}",
    # The referring side's chase of a patient who books the specialist visit themselves.
    "referral.did_you_book": (
        "{practice}: did you book the specialist visit we referred you for? If not, call"
        " {phone} and we will help. {stop}"
    ),
}
"""Built-in SMS templates by template id (hosts add their own)."""


def is_gsm7(text: str) -> bool:
    """Return whether *text* can be sent in the GSM-7 alphabet (with its extension table)."""
    return all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in text)


def sms_length(text: str) -> tuple[int, int]:
    """Return ``(units, limit)``: septets against 160 for GSM-7, else UTF-16 units against 70."""
    if is_gsm7(text):
        return sum(2 if c in _GSM7_EXTENDED else 1 for c in text), GSM7_LIMIT
    return len(text.encode("utf-16-le")) // 2, UCS2_LIMIT


def render_sms(
    template: str,
    *,
    practice: str,
    phone: str = "",
    when: str = "",
    next_step: str = "",
    templates: Mapping[str, str] = DEFAULT_SMS_TEMPLATES,
) -> str:
    """Render an SMS from a template id (or literal text) and check it fits one segment.

    The practice name and :data:`OPT_OUT_HINT` are added when the template lacks them.
    ``{next_step}`` is the patient's next-step sentence for the referral's state
    (:func:`referralkit.lifecycle.next_step`), the same one status calls answer with.

    .. versionchanged:: 0.2 *next_step*.

    :raises SmsTooLongError: the text exceeds 160 GSM-7 or 70 UCS-2 units.
    """
    source = templates.get(template, template)
    return finish_sms(
        source.format(
            practice=practice, phone=phone, when=when, next_step=next_step, stop=OPT_OUT_HINT
        ),
        practice=practice,
    )


def finish_sms(text: str, *, practice: str) -> str:
    """Finish rendered SMS text: one line, signed by *practice*, with the STOP hint, one segment.

    Used for built-in templates and for those plugins contribute
    (``referralkit_add_outreach_templates``), so both follow the same rules.

    :raises SmsTooLongError: the text exceeds 160 GSM-7 or 70 UCS-2 units.

    .. versionadded:: 0.2
    """
    text = " ".join(text.split())
    if practice not in text:
        text = f"{practice}: {text}"
    if "STOP" not in text:
        text = f"{text} {OPT_OUT_HINT}"
    units, limit = sms_length(text)
    if units > limit:
        raise SmsTooLongError(units, limit)
    return text


def next_step_sms(referral: Referral, *, practice: str, language: str | None = None) -> str:
    """Render what happens next for *referral*'s patient as one text message.

    The text is the patient's next-step sentence (:mod:`referralkit.lifecycle.next_steps`), the
    same one a status call answers with; it names no person, date or diagnosis.

    :param practice: the practice name the text starts with (at most 30 characters always
        fit).
    :param language: ``"en"`` or ``"es"``; the patient's preferred language when ``None``.
    :raises SmsTooLongError: the practice name is too long for one segment.

    .. versionadded:: 0.1
    """
    if language is None:
        language = referral.patient.preferred_language if referral.patient else "en"
    text = next_step(referral, language).patient_sms
    return render_sms(text.replace("{", "{{").replace("}", "}}"), practice=practice)
