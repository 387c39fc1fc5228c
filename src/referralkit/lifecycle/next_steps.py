"""What happens next, and what you need to do: one sentence per audience, state and sub-status.

Every lifecycle state, combined with every sub-status (authorization, records, appointment,
consult report), has one plain sentence for the patient (what happens next and what they need
to do) and one for the referring practice (who owns the next step on the practice side), in
English and Spanish, plus a text-message variant of the patient's sentence that fits one
GSM-7 segment with the practice's name and the opt-out hint. Status answers
(:func:`referralkit.intake.answer_status`), visit-preparation answers and outreach texts all
take their "what next" from here, so a patient hears the same next step on every channel.

The sentences name no person, date, diagnosis or number: they are safe to log and to text.

.. versionadded:: 0.1
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Final, Literal, get_args

import attrs

from referralkit.model import (
    AppointmentStatus,
    AuthorizationStatus,
    RecordsRequestStatus,
    Referral,
    ReferralStatus,
    ReportDeliveryStatus,
)

__all__ = [
    "AUTHORIZATION_SENTENCES",
    "SMS_TEXT_LIMIT",
    "AppointmentState",
    "NextStep",
    "RecordsState",
    "ReportState",
    "SubStatus",
    "next_step",
    "next_step_for",
    "team_name",
    "to_gsm7",
]

RecordsState = Literal["none", "outstanding", "failed", "complete"]
"""Records for the referral: none requested, some still awaited, a request failed, all in."""
AppointmentState = Literal["none", "booked", "missed", "cancelled", "completed"]
"""The referral's latest appointment: none yet, booked, a no-show, cancelled, or attended."""
ReportState = Literal["pending", "sent", "failed"]
"""The consult report back to the referring practice: not sent yet, delivered (or the loop
closed), or it could not be delivered (a person is resending it)."""
Owner = Literal["patient", "referring_practice", "specialist_office", "insurance"]


@attrs.frozen
class SubStatus:
    """The parallel sub-statuses of a referral that decide its next step.

    .. versionadded:: 0.1
    """

    authorization: AuthorizationStatus = AuthorizationStatus.NOT_REQUIRED
    records: RecordsState = "none"
    appointment: AppointmentState = "none"
    report: ReportState = "pending"

    @classmethod
    def of(cls, referral: Referral) -> SubStatus:
        """Return the sub-statuses of *referral* (the report counts as sent once closed)."""
        return cls(
            referral.authorization.status,
            _records_state(referral),
            _appointment_state(referral),
            _report_state(referral),
        )

    @classmethod
    def every(cls) -> Iterator[SubStatus]:
        """Yield every combination of sub-statuses."""
        for auth, records, appointment, report in itertools.product(
            AuthorizationStatus,
            get_args(RecordsState),
            get_args(AppointmentState),
            get_args(ReportState),
        ):
            yield cls(auth, records, appointment, report)


def _records_state(referral: Referral) -> RecordsState:
    statuses = {r.status for r in referral.records_requests}
    if not statuses:
        return "none"
    if RecordsRequestStatus.FAILED in statuses:
        return "failed"
    if statuses & {
        RecordsRequestStatus.REQUESTED,
        RecordsRequestStatus.SENT,
        RecordsRequestStatus.PARTIALLY_RECEIVED,  # some kinds still missing
    }:
        return "outstanding"
    return "complete"


def _report_state(referral: Referral) -> ReportState:
    report = referral.consult_report
    if referral.status is ReferralStatus.CLOSED:
        return "sent"
    if report is None:
        return "pending"
    if report.status is ReportDeliveryStatus.FAILED:
        return "failed"
    if report.status in (ReportDeliveryStatus.DELIVERED, ReportDeliveryStatus.ACKNOWLEDGED):
        return "sent"
    return "pending"


_APPOINTMENT: Final[Mapping[AppointmentStatus, AppointmentState]] = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.NO_SHOW: "missed",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.COMPLETED: "completed",
}


def _appointment_state(referral: Referral) -> AppointmentState:
    if referral.current_appointment is not None:
        return "booked"
    if not referral.appointments:
        return "none"
    return _APPOINTMENT[referral.appointments[-1].status]


@attrs.frozen
class NextStep:
    """What happens next, for the patient and for the referring practice, in one language.

    :ivar patient: one sentence for the patient (or their caregiver): what happens next and
        what they need to do.
    :ivar practice: one sentence for the referring practice: who owns the next step.
    :ivar patient_sms: the patient's sentence (or a shorter form of it) in the GSM-7
        alphabet, at most :data:`SMS_TEXT_LIMIT` units: one segment with a practice name of up
        to 30 characters and the opt-out hint
        (:func:`referralkit.outreach.render_sms`).
    :ivar owner: who owns the next step (``"patient"``, ``"referring_practice"``,
        ``"specialist_office"``, ``"insurance"``), or ``None`` when nothing is left to do.
    :ivar queue: the receiving practice's work queue that handles the next step on its side
        (``"scheduling"``, ``"records"``, ``"authorization"``...; a name from
        :data:`referralkit.routing.DEFAULT_QUEUES`), or ``None`` when nothing is left to do.
    :ivar team: that queue as a caller is told about it, in :attr:`language` ("our
        scheduling team", "nuestro equipo de citas"; see :func:`team_name`).

    .. versionadded:: 0.1
    .. versionchanged:: 0.3 *queue* and *team*.
    """

    state: ReferralStatus
    language: str
    patient: str
    practice: str
    patient_sms: str
    owner: str | None
    queue: str | None = None
    team: str | None = None


# -- The sentences ----------------------------------------------------------------------------

# (patient en, practice en, patient es, practice es, owner)
_Entry = tuple[str, str, str, str, Owner | None]
S = ReferralStatus
A = AuthorizationStatus

_DEFAULT: Final[Mapping[ReferralStatus, _Entry]] = {
    S.INTAKE: (
        "Your doctor's office is sending the rest of your referral details; you don't need to "
        "do anything yet.",
        "Please send the missing referral details so the specialist's office can review it.",
        "El consultorio de su médico está enviando los datos que faltan de su referencia; por "
        "ahora no necesita hacer nada.",
        "Envíe los datos que faltan de la referencia para que el especialista pueda revisarla.",
        "referring_practice",
    ),
    S.RECEIVED: (
        "The specialist's office is reviewing your referral; you don't need to do anything yet.",
        "The specialist's office is reviewing the referral; nothing is needed from you yet.",
        "El consultorio del especialista está revisando su referencia; por ahora no necesita "
        "hacer nada.",
        "El consultorio del especialista está revisando la referencia; por ahora no necesita "
        "hacer nada.",
        "specialist_office",
    ),
    S.ACCEPTED: (
        "The specialist's office accepted your referral and is checking whether your insurance "
        "must approve it.",
        "The referral was accepted; the specialist's office is checking insurance approval.",
        "El consultorio del especialista aceptó su referencia y está revisando si su seguro debe "
        "aprobarla.",
        "La referencia fue aceptada; el consultorio del especialista revisa si el seguro debe "
        "aprobarla.",
        "specialist_office",
    ),
    S.PENDING_AUTH: (
        "We are waiting for your insurance to approve the visit; we will call you when it does.",
        "The specialist's office is waiting for the insurance decision; nothing is needed from "
        "you yet.",
        "Estamos esperando que su seguro apruebe la visita; le llamaremos cuando la apruebe.",
        "El consultorio del especialista espera la decisión del seguro; por ahora no necesita "
        "hacer nada.",
        "insurance",
    ),
    S.READY_TO_SCHEDULE: (
        "Your referral is ready: please call the specialist's office to book your appointment.",
        "The referral is ready to book; the specialist's office is contacting the patient.",
        "Su referencia está lista: llame al consultorio del especialista para hacer su cita.",
        "La referencia está lista; el consultorio del especialista está contactando al paciente.",
        "patient",
    ),
    S.SCHEDULED: (
        "Your appointment is booked: please go to it, or call the specialist's office to change "
        "it.",
        "The appointment is booked; the specialist's office will send the visit report after "
        "the visit.",
        "Su cita está programada: por favor asista, o llame al consultorio del especialista "
        "para cambiarla.",
        "La cita está programada; el consultorio del especialista enviará el informe después "
        "de la visita.",
        "patient",
    ),
    S.VISIT_COMPLETED: (
        "You have seen the specialist; their office is sending the visit report to your doctor.",
        "The patient was seen; the specialist's office is sending you the visit report.",
        "Ya vio al especialista; su consultorio está enviando el informe de la visita a su "
        "médico.",
        "El paciente fue atendido; el consultorio del especialista le está enviando el informe.",
        "specialist_office",
    ),
    S.CLOSED: (
        "Your referral is complete: your doctor has the specialist's report, so follow up with "
        "them as advised.",
        "The visit report was sent to you: please review it and follow up with the patient.",
        "Su referencia está completa: su médico tiene el informe del especialista; siga sus "
        "indicaciones.",
        "Se le envió el informe de la visita: revíselo y dé seguimiento al paciente.",
        "referring_practice",
    ),
    S.DECLINED: (
        "The specialist's office did not accept the referral; your doctor's office will talk "
        "with you about other options.",
        "The referral was declined: please review the reason and consider another specialist.",
        "El consultorio del especialista no aceptó la referencia; el consultorio de su médico "
        "hablará con usted sobre otras opciones.",
        "La referencia fue rechazada: revise el motivo y considere otro especialista.",
        "referring_practice",
    ),
    S.CANCELLED: (
        "Your referral was cancelled; if you still need the visit, please call your doctor's "
        "office.",
        "The referral was cancelled; nothing more is needed unless the patient still needs care.",
        "Su referencia fue cancelada; si aún necesita la visita, llame al consultorio de su "
        "médico.",
        "La referencia fue cancelada; no se necesita nada más salvo que el paciente aún necesite "
        "atención.",
        None,
    ),
    S.LOST: (
        "Your referral was closed because no appointment was booked; call the specialist's "
        "office if you still need the visit.",
        "The referral closed without a visit: please contact the patient if they still need care.",
        "Su referencia se cerró porque no se hizo ninguna cita; llame al consultorio del "
        "especialista si aún necesita la visita.",
        "La referencia se cerró sin visita: comuníquese con el paciente si aún necesita atención.",
        "referring_practice",
    ),
    S.ON_HOLD: (
        "Your referral is on hold; the specialist's office will contact you when it continues.",
        "The referral is on hold; the specialist's office will resume it.",
        "Su referencia está en pausa; el consultorio del especialista le llamará cuando continúe.",
        "La referencia está en pausa; el consultorio del especialista la retomará.",
        "specialist_office",
    ),
    S.ENTERED_IN_ERROR: (
        "This referral was entered by mistake; please call your doctor's office with any "
        "questions.",
        "This referral was entered in error and is not active; nothing is needed.",
        "Esta referencia se registró por error; llame al consultorio de su médico si tiene "
        "preguntas.",
        "Esta referencia se registró por error y no está activa; no se necesita nada.",
        None,
    ),
}

_RECORDS_OUTSTANDING: Final[_Entry] = (
    "The specialist's office is waiting for your medical records from your doctor; you don't "
    "need to do anything yet.",
    "Please send the requested medical records to the specialist's office.",
    "El consultorio del especialista espera sus expedientes médicos de su médico; por ahora "
    "no necesita hacer nada.",
    "Envíe al consultorio del especialista los expedientes médicos solicitados.",
    "referring_practice",
)
_RECORDS_FAILED: Final[_Entry] = (
    "The specialist's office could not get your medical records yet and is contacting your "
    "doctor.",
    "The records request failed: please send the records again or call the specialist's office.",
    "El consultorio del especialista aún no pudo obtener sus expedientes y está contactando "
    "a su médico.",
    "La solicitud de expedientes falló: envíelos de nuevo o llame al consultorio del "
    "especialista.",
    "referring_practice",
)
_AUTH_REQUIRED: Final[_Entry] = (
    "The specialist's office is asking your insurance to approve the visit; you don't need to "
    "do anything yet.",
    "The specialist's office is requesting insurance approval; nothing is needed from you yet.",
    "El consultorio del especialista está pidiendo a su seguro que apruebe la visita; por "
    "ahora no necesita hacer nada.",
    "El consultorio del especialista está solicitando la aprobación del seguro; por ahora no "
    "necesita hacer nada.",
    "specialist_office",
)
_AUTH_SETTLED: Final[_Entry] = (
    "Your insurance answered; the specialist's office will contact you to book.",
    "The insurance answered; the specialist's office is recording it before booking.",
    "Su seguro respondió; el consultorio del especialista le llamará para la cita.",
    "El seguro respondió; el consultorio del especialista lo está registrando antes de programar.",
    "specialist_office",
)
_AUTH_PENDED: Final[_Entry] = (
    "Your insurance asked for more information; the offices are sending it, and you don't "
    "need to do anything yet.",
    "The insurance asked for more information: please send the clinical notes the "
    "specialist's office requests.",
    "Su seguro pidió más información; los consultorios la están enviando y por ahora no "
    "necesita hacer nada.",
    "El seguro pidió más información: envíe las notas clínicas que solicite el consultorio "
    "del especialista.",
    "referring_practice",
)
_AUTH_DENIED: Final[_Entry] = (
    "Your insurance did not approve the visit; staff will call you about your options.",
    "Insurance denied the authorization: please decide with the specialist's office whether "
    "to appeal.",
    "Su seguro no aprobó la visita; el personal le llamará para hablar de sus opciones.",
    "El seguro negó la autorización: decida con el consultorio del especialista si se apela.",
    "referring_practice",
)
_AUTH_EXPIRED: Final[_Entry] = (
    "Your insurance approval expired; the specialist's office is renewing it, and you don't "
    "need to do anything yet.",
    "The authorization expired; the specialist's office is renewing it.",
    "La aprobación de su seguro venció; el consultorio del especialista la está renovando y "
    "por ahora no necesita hacer nada.",
    "La autorización venció; el consultorio del especialista la está renovando.",
    "specialist_office",
)
_MISSED: Final[_Entry] = (
    "You missed your appointment: please call the specialist's office to book a new one.",
    "The patient missed the appointment; the specialist's office is contacting them to rebook.",
    "No asistió a su cita: llame al consultorio del especialista para hacer una nueva.",
    "El paciente no asistió a la cita; el consultorio del especialista lo está contactando "
    "para reprogramarla.",
    "patient",
)
_CANCELLED_VISIT: Final[_Entry] = (
    "Your appointment was cancelled: please call the specialist's office to book a new time.",
    "The appointment was cancelled; the specialist's office is contacting the patient to rebook.",
    "Su cita fue cancelada: llame al consultorio del especialista para hacer una nueva.",
    "La cita fue cancelada; el consultorio del especialista está contactando al paciente para "
    "reprogramarla.",
    "patient",
)
_BOOKED_RECORDS: Final[_Entry] = (
    "Your appointment is booked; the specialist's office is still waiting for your records "
    "from your doctor.",
    "The appointment is booked: please send the requested records before the visit.",
    "Su cita está programada; el consultorio del especialista aún espera sus expedientes de "
    "su médico.",
    "La cita está programada: envíe los expedientes solicitados antes de la visita.",
    "referring_practice",
)
_REPORT_SENT: Final[_Entry] = (
    "You have seen the specialist and the report was sent to your doctor; follow their advice.",
    "The visit report was sent: please confirm you received it and follow up with the patient.",
    "Ya vio al especialista y el informe se envió a su médico; siga sus indicaciones.",
    "Se envió el informe de la visita: confirme que lo recibió y dé seguimiento al paciente.",
    "referring_practice",
)

_REPORT_FAILED: Final[_Entry] = (
    "You have seen the specialist; their office is resending the visit report to your doctor.",
    "The visit report could not be delivered to you; the specialist's office is sending it again.",
    "Ya vio al especialista; su consultorio está volviendo a enviar el informe a su médico.",
    "No se pudo entregarle el informe de la visita; el consultorio del especialista lo está "
    "enviando de nuevo.",
    "specialist_office",
)

# The receiving practice's queue that handles the next step in each state when no sub-status
# rule applies (None: nothing is left to do).
_DEFAULT_QUEUE: Final[Mapping[ReferralStatus, str | None]] = {
    S.INTAKE: "practice_relations",
    S.RECEIVED: "clinical_review",
    S.ACCEPTED: "authorization",
    S.PENDING_AUTH: "authorization",
    S.READY_TO_SCHEDULE: "scheduling",
    S.SCHEDULED: "scheduling",
    S.VISIT_COMPLETED: "records",
    S.CLOSED: "practice_relations",
    S.DECLINED: "practice_relations",
    S.CANCELLED: None,
    S.LOST: "practice_relations",
    S.ON_HOLD: "scheduling",
    S.ENTERED_IN_ERROR: None,
}

_PRE_VISIT: Final = frozenset({S.INTAKE, S.RECEIVED, S.ACCEPTED, S.PENDING_AUTH})
_AUTH_STATES: Final = frozenset({S.ACCEPTED, S.PENDING_AUTH, S.READY_TO_SCHEDULE, S.SCHEDULED})


def _rule(state: ReferralStatus, sub: SubStatus) -> tuple[_Entry, str | None]:
    # The first rule that applies wins, in the order a person would deal with them: an
    # authorization problem blocks the visit, missing records block the review, then the
    # appointment, then the report. Each names the queue that handles it.
    if state in _AUTH_STATES:
        problem = {A.PENDED: _AUTH_PENDED, A.DENIED: _AUTH_DENIED, A.EXPIRED: _AUTH_EXPIRED}
        if sub.authorization in problem:
            return problem[sub.authorization], "authorization"
    if state is S.PENDING_AUTH and sub.authorization is A.REQUIRED:
        return _AUTH_REQUIRED, "authorization"
    if state is S.PENDING_AUTH and sub.authorization in (A.APPROVED, A.MODIFIED, A.NOT_REQUIRED):
        # Waiting for the insurer no longer: saying so next to "approved" would contradict it.
        return _AUTH_SETTLED, "authorization"
    if state in _PRE_VISIT and sub.records == "failed":
        return _RECORDS_FAILED, "records"
    if state in _PRE_VISIT - {S.INTAKE} and sub.records == "outstanding":
        return _RECORDS_OUTSTANDING, "records"
    if state is S.SCHEDULED and sub.records in ("outstanding", "failed"):
        return _BOOKED_RECORDS, "records"
    if state is S.READY_TO_SCHEDULE and sub.appointment == "missed":
        return _MISSED, "scheduling"
    if state is S.READY_TO_SCHEDULE and sub.appointment == "cancelled":
        return _CANCELLED_VISIT, "scheduling"
    if state is S.VISIT_COMPLETED and sub.report == "sent":
        return _REPORT_SENT, "practice_relations"
    if state is S.VISIT_COMPLETED and sub.report == "failed":
        return _REPORT_FAILED, "records"
    return _DEFAULT[state], _DEFAULT_QUEUE[state]


# How a caller is told about a queue in Spanish ("nuestro equipo de citas"); in English the
# queue's name is said as it is written ("our scheduling team").
_TEAMS_ES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "scheduling": "citas",
        "authorization": "autorizaciones del seguro",
        "records": "expedientes médicos",
        "patient_counselling": "orientación al paciente",
        "practice_relations": "relaciones con consultorios",
        "urgent_clinical": "atención clínica urgente",
        "clinical_review": "revisión clínica",
        "clinical_supervisor": "supervisión clínica",
        "supervisor": "supervisión",
    }
)


def team_name(queue: str, language: str | None = "en") -> str:
    """Return how a caller is told about *queue*: ``"our scheduling team"``.

    :param language: ``"en"`` or ``"es"`` (``"nuestro equipo de citas"``); others: English.
        A queue the practice added is said by its name (``"our billing team"``).

    .. versionadded:: 0.3
    """
    words = queue.replace("_", " ")
    if _lang(language) == "es":
        return f"nuestro equipo de {_TEAMS_ES.get(queue, words)}"
    return f"our {words} team"


AUTHORIZATION_SENTENCES: Final[Mapping[str, Mapping[AuthorizationStatus, str]]] = MappingProxyType(
    {
        "en": MappingProxyType(
            {
                A.NOT_REQUIRED: "No insurance approval is needed.",
                A.REQUIRED: "Insurance approval is needed and has not been requested yet.",
                A.SUBMITTED: "The request for insurance approval was sent; no answer yet.",
                A.PENDED: "The insurance company asked for more information.",
                A.APPROVED: "Insurance approved the visit.",
                A.MODIFIED: "Insurance approved the visit with changes.",
                A.DENIED: "Insurance did not approve the visit; staff will follow up.",
                A.EXPIRED: "The insurance approval has expired and needs renewing.",
            }
        ),
        "es": MappingProxyType(
            {
                A.NOT_REQUIRED: "No se necesita aprobación del seguro.",
                A.REQUIRED: "Se necesita aprobación del seguro y aún no se ha solicitado.",
                A.SUBMITTED: (
                    "Se envió la solicitud de aprobación al seguro; aún no hay respuesta."
                ),
                A.PENDED: "El seguro pidió más información.",
                A.APPROVED: "El seguro aprobó la visita.",
                A.MODIFIED: "El seguro aprobó la visita con cambios.",
                A.DENIED: "El seguro no aprobó la visita; el personal dará seguimiento.",
                A.EXPIRED: "La aprobación del seguro venció y debe renovarse.",
            }
        ),
    }
)
"""The authorization sub-status in one plain sentence, by language."""

# GSM-7 has é, ñ, ü, ¿ and ¡ but not á, í, ó or ú: those lose their accent in a text message
# rather than push it into UCS-2, where one segment holds only 70 characters.
_GSM7_KEEP: Final = frozenset("éñÑüÜÉ¿¡äöÄÖàèìòù")


def to_gsm7(text: str) -> str:
    """Return *text* with accents the GSM-7 alphabet lacks removed (``á`` becomes ``a``).

    .. versionadded:: 0.1
    """
    out: list[str] = []
    for char in text:
        if char.isascii() or char in _GSM7_KEEP:
            out.append(char)
            continue
        base = unicodedata.normalize("NFD", char)[0]
        out.append(base if base.isascii() else "?")
    return "".join(out)


SMS_TEXT_LIMIT: Final = 105
"""GSM-7 units a next-step text may use: the rest of one 160-unit segment holds a practice
name of up to 30 characters and the opt-out hint."""

# Shorter text-message forms of the patient sentences that do not fit SMS_TEXT_LIMIT.
_SMS: Final[Mapping[str, str]] = {
    "El consultorio de su médico está enviando los datos que faltan de su referencia; por "
    "ahora no necesita hacer nada.": (
        "Su médico está enviando los datos que faltan de su referencia; por ahora no necesita "
        "hacer nada."
    ),
    "The specialist's office is waiting for your medical records from your doctor; you don't "
    "need to do anything yet.": (
        "The specialist's office is waiting for your records from your doctor; nothing to do yet."
    ),
    "El consultorio del especialista espera sus expedientes médicos de su médico; por ahora "
    "no necesita hacer nada.": (
        "El especialista espera sus expedientes de su médico; por ahora no necesita hacer nada."
    ),
    "Your insurance asked for more information; the offices are sending it, and you don't "
    "need to do anything yet.": (
        "Your insurance asked for more information; the offices are sending it. Nothing to do yet."
    ),
    "Your insurance approval expired; the specialist's office is renewing it, and you don't "
    "need to do anything yet.": (
        "Your insurance approval expired; the specialist's office is renewing it. Nothing to do "
        "yet."
    ),
    "La aprobación de su seguro venció; el consultorio del especialista la está renovando y "
    "por ahora no necesita hacer nada.": (
        "La aprobación de su seguro venció y el especialista la está renovando; no necesita "
        "hacer nada."
    ),
    "El consultorio del especialista está pidiendo a su seguro que apruebe la visita; por "
    "ahora no necesita hacer nada.": (
        "El especialista está pidiendo a su seguro que apruebe la visita; no necesita hacer nada."
    ),
    "The specialist's office did not accept the referral; your doctor's office will talk "
    "with you about other options.": (
        "The specialist's office did not accept the referral; your doctor will call about options."
    ),
    "El consultorio del especialista no aceptó la referencia; el consultorio de su médico "
    "hablará con usted sobre otras opciones.": (
        "El especialista no aceptó la referencia; su médico le llamará para ver otras opciones."
    ),
    "Your referral was closed because no appointment was booked; call the specialist's "
    "office if you still need the visit.": (
        "Your referral was closed with no visit booked; call the specialist's office if you "
        "still need it."
    ),
    "Su referencia se cerró porque no se hizo ninguna cita; llame al consultorio del "
    "especialista si aún necesita la visita.": (
        "Su referencia se cerró sin cita; llame al especialista si aún necesita la visita."
    ),
}


def _lang(language: str | None) -> Literal["en", "es"]:
    return "es" if (language or "en").split("-")[0].lower() == "es" else "en"


def next_step_for(state: ReferralStatus, sub: SubStatus, language: str | None = "en") -> NextStep:
    """Return what happens next in *state* with sub-statuses *sub*, in *language*.

    :param language: ``"en"`` or ``"es"`` (a regional tag such as ``"es-MX"`` counts as
        ``"es"``; any other language falls back to English).

    .. versionadded:: 0.1
    """
    (patient_en, practice_en, patient_es, practice_es, owner), queue = _rule(state, sub)
    lang = _lang(language)
    patient, practice = (patient_es, practice_es) if lang == "es" else (patient_en, practice_en)
    return NextStep(
        state,
        lang,
        patient,
        practice,
        to_gsm7(_SMS.get(patient, patient)),
        owner,
        queue,
        team_name(queue, lang) if queue is not None else None,
    )


def next_step(referral: Referral, language: str | None = "en") -> NextStep:
    """Return what happens next for *referral*, from its state and sub-statuses.

    .. versionadded:: 0.1
    """
    return next_step_for(referral.status, SubStatus.of(referral), language)
