"""Every scenario parameter: its default, its allowed range and the published source behind it.

:data:`PARAMETERS` is the one table: :mod:`referralkit.simulate.scenario` validates against it,
``docs/simulate.md`` lists it (a test keeps the two in step), and :data:`SOURCES` holds the
citations it names. A parameter whose value no source we could read supports says
``assumption``: it is a guess to be replaced with a practice's own figure.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

__all__ = ["ASSUMPTION", "PARAMETERS", "SOURCES", "Parameter", "parameter"]

ASSUMPTION: Final = "assumption"
"""The source key of a parameter no published figure supports."""

SOURCES: Final[Mapping[str, str]] = {
    "weiner2010": (
        "Weiner M, Perkins AJ, Callahan CM. Errors in completion of referrals among older urban "
        "adults in ambulatory care. J Eval Clin Pract 2010;16(1):76-81: of 7,819 specialty "
        "orders, 71% led to an appointment within 180 days and 70% of appointments were kept "
        "(50% completed)."
    ),
    "patel2018": (
        "Patel MP, Schettini P, O'Leary CP, et al. Closing the referral loop: an analysis of "
        "primary care referrals to specialists in a large health system. J Gen Intern Med "
        "2018;33(5):715-21: of 103,737 referral scheduling attempts 34.8% ended in a "
        "documented completed appointment and 38.9% had no appointment date."
    ),
    "forrest2007": (
        "Forrest CB, Shadmi E, Nutting PA, Starfield B. Specialty referral completion among "
        "primary care patients: results from the ASPN Referral Study. Ann Fam Med "
        "2007;5(4):361-7: physicians reported a specialist visit for 79.2% of 776 referred "
        "patients within 3 months; staff scheduling the appointment predicted completion."
    ),
    "youssef2014": (
        "Youssef A. Use of short message service reminders to improve attendance at an internal "
        "medicine outpatient clinic in Saudi Arabia: a randomized controlled trial. East Mediterr "
        "Health J 2014;20(5): no-show 26.3% with an SMS reminder vs 39.8% without (502 "
        "patients), a risk ratio of about 0.66."
    ),
    "merritt2017": (
        "Merritt Hawkins. 2017 Survey of Physician Appointment Wait Times: new-patient wait "
        "averaged 24.1 days across five specialties in 15 large metros; cardiology 21.1 days."
    ),
    "merritt2022": (
        "AMN Healthcare / Merritt Hawkins. 2022 Survey of Physician Appointment Wait Times: "
        "average new-patient wait 26 days across 15 large metros (e.g. San Diego dermatology "
        "22 days, orthopedic surgery 35 days)."
    ),
    "ama2017": (
        "American Medical Association. 2017 Prior Authorization Physician Survey (1,000 "
        "physicians): 64% wait at least one business day for a decision and 30% wait three "
        "business days or longer; 29.1 authorizations per physician per week, 14.6 hours."
    ),
    ASSUMPTION: (
        "No published figure we could read supports this value: it is a plausible guess, to be "
        "replaced with the practice's own data."
    ),
}
"""Citations by key; :attr:`Parameter.source` names one."""


@attrs.frozen
class Parameter:
    """One scenario parameter.

    :ivar path: its dotted key in the scenario file (``patients.answer_morning``); a ``*``
        stands for a name the scenario chooses (a specialty, a queue).
    :ivar default: the value a scenario that leaves it out gets.
    :ivar low: the smallest allowed value.
    :ivar high: the largest allowed value.
    :ivar unit: what the number counts.
    :ivar source: a key of :data:`SOURCES`.
    :ivar meaning: one sentence for the docs.
    """

    path: str
    default: float
    low: float
    high: float
    unit: str
    source: str
    meaning: str


_P = Parameter
_PROB = "probability"

PARAMETERS: Final[tuple[Parameter, ...]] = (
    _P("run.days", 180, 1, 730, "days", ASSUMPTION, "Simulated days, from the first arrival."),
    _P(
        "run.arrival_days",
        180,
        1,
        730,
        "days",
        ASSUMPTION,
        "Days on which referrals arrive (the rest of the run lets them play out).",
    ),
    _P(
        "arrivals.per_day",
        10,
        0,
        5000,
        "referrals per business day",
        ASSUMPTION,
        "Mean referrals received per business day (Poisson).",
    ),
    _P(
        "arrivals.specialty.*",
        1,
        0,
        1,
        "share",
        ASSUMPTION,
        "Share of arrivals per specialty (normalised to sum to 1).",
    ),
    _P(
        "arrivals.urgent_share",
        0.1,
        0,
        1,
        "share",
        ASSUMPTION,
        "Share of arrivals that are urgent; the rest are routine.",
    ),
    _P(
        "patients.answer_morning",
        0.35,
        0,
        1,
        _PROB,
        ASSUMPTION,
        "A patient answers an outbound call placed before noon (local time).",
    ),
    _P(
        "patients.answer_afternoon",
        0.30,
        0,
        1,
        _PROB,
        ASSUMPTION,
        "A patient answers an outbound call placed from noon to 17:00.",
    ),
    _P(
        "patients.answer_evening",
        0.45,
        0,
        1,
        _PROB,
        ASSUMPTION,
        "A patient answers an outbound call placed from 17:00.",
    ),
    _P(
        "patients.wrong_number",
        0.05,
        0,
        1,
        _PROB,
        ASSUMPTION,
        "The phone number on the referral is wrong (drawn once per patient).",
    ),
    _P(
        "patients.sms_reply",
        0.30,
        0,
        1,
        _PROB,
        ASSUMPTION,
        "A patient replies to a scheduling text.",
    ),
    _P(
        "patients.book_after_contact",
        0.70,
        0,
        1,
        _PROB,
        ASSUMPTION,
        "A patient reached by phone, or who replied to a text, books then (Forrest 2007 found "
        "practice-scheduled appointments complete more often; it gives no such rate).",
    ),
    _P(
        "patients.self_book",
        0.71,
        0,
        1,
        _PROB,
        "weiner2010",
        "A patient books on their own, with no outreach (fitted: Weiner 2010, 71% scheduled).",
    ),
    _P(
        "patients.self_book_days",
        14,
        0.1,
        180,
        "days (mean)",
        ASSUMPTION,
        "Mean delay before a patient who books on their own calls (exponential).",
    ),
    _P(
        "authorization.required_share",
        0.15,
        0,
        1,
        "share",
        ASSUMPTION,
        "Share of referrals whose payer requires prior authorization.",
    ),
    _P(
        "authorization.turnaround_min",
        0,
        0,
        60,
        "business days",
        "ama2017",
        "Shortest payer turnaround (AMA 2017: 36% decided within a business day).",
    ),
    _P(
        "authorization.turnaround_mode",
        1,
        0,
        60,
        "business days",
        "ama2017",
        "Most common payer turnaround (AMA 2017: 64% wait at least one business day).",
    ),
    _P(
        "authorization.turnaround_max",
        5,
        0,
        90,
        "business days",
        "ama2017",
        "Longest payer turnaround (AMA 2017: 30% wait three business days or more).",
    ),
    _P(
        "authorization.denial_rate",
        0.07,
        0,
        1,
        _PROB,
        ASSUMPTION,
        "The payer denies a submitted authorization.",
    ),
    _P(
        "authorization.appeal_rate",
        0.5,
        0,
        1,
        _PROB,
        ASSUMPTION,
        "Staff appeal a denial (otherwise the referral is cancelled).",
    ),
    _P("authorization.appeal_success", 0.5, 0, 1, _PROB, ASSUMPTION, "An appeal is approved."),
    _P(
        "capacity.wait_days",
        24.1,
        0,
        365,
        "days (mean)",
        "merritt2017",
        "Mean wait to the first open slot for specialties not listed (Merritt Hawkins 2017).",
    ),
    _P(
        "capacity.specialty.*",
        24.1,
        0,
        365,
        "days (mean)",
        "merritt2017",
        "Mean wait to the first slot for one specialty (Merritt Hawkins 2017: cardiology 21.1).",
    ),
    _P(
        "no_show.base",
        0.30,
        0,
        1,
        _PROB,
        "weiner2010",
        "No-show without reminders at a zero wait (fitted: Weiner 2010, 70% of appointments "
        "kept).",
    ),
    _P(
        "no_show.per_week_wait",
        0.005,
        0,
        0.2,
        "probability per week",
        ASSUMPTION,
        "How much the no-show probability rises per week of waiting.",
    ),
    _P(
        "no_show.sms_reminder",
        0.66,
        0,
        1,
        "risk ratio",
        "youssef2014",
        "No-show risk ratio once a reminder text was delivered (Youssef 2014: 26.3% vs 39.8%).",
    ),
    _P(
        "no_show.call_reminder",
        0.75,
        0,
        1,
        "risk ratio",
        ASSUMPTION,
        "No-show risk ratio once an automated reminder call was answered.",
    ),
    _P(
        "no_show.staff_reminder",
        0.60,
        0,
        1,
        "risk ratio",
        ASSUMPTION,
        "No-show risk ratio once a staff member made a reminder call (a reminder task).",
    ),
    _P(
        "records.request_share",
        0.0,
        0,
        1,
        "share",
        ASSUMPTION,
        "Share of accepted referrals for which records are requested from the referrer.",
    ),
    _P(
        "records.return_probability",
        0.8,
        0,
        1,
        _PROB,
        ASSUMPTION,
        "The referring practice sends the requested records.",
    ),
    _P(
        "records.return_days",
        3,
        0,
        90,
        "days (mean)",
        ASSUMPTION,
        "Mean delay before requested records come back.",
    ),
    _P(
        "report.return_probability",
        0.9,
        0,
        1,
        _PROB,
        ASSUMPTION,
        "The specialist's consult report is sent back after the visit.",
    ),
    _P(
        "report.return_days",
        3,
        0,
        90,
        "days (mean)",
        ASSUMPTION,
        "Mean delay from the visit to the consult report being sent.",
    ),
    _P(
        "staff.*.hours_per_day",
        8,
        0,
        1000,
        "staff hours per business day",
        ASSUMPTION,
        "Staff time for one queue each business day (triage, authorizations, or an engine "
        "queue; default covers the rest).",
    ),
    _P(
        "staff.*.minutes_per_task",
        10,
        0.1,
        480,
        "minutes",
        "ama2017",
        "Staff minutes per item of the queue (AMA 2017: 14.6 hours for 29.1 authorizations, "
        "about 30 minutes each).",
    ),
)
"""The scenario parameters, in the order the docs list them."""

_BY_PATH: Final = {p.path: p for p in PARAMETERS}


def parameter(path: str) -> Parameter:
    """Return the parameter at *path* (a ``*`` path for named entries).

    :raises KeyError: no such parameter.
    """
    return _BY_PATH[path]
