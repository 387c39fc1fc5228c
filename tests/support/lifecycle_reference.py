"""Reference tables the lifecycle tests check the code against, written out by hand.

They restate DESIGN.md on purpose instead of reading the code's tables, so a change to the code
that the design does not sanction fails a test.
"""

from collections.abc import Mapping

from referralkit import Role

# Who may fire what (DESIGN.md: roles referrer, intake, clinician, scheduler, system).
ROLES: Mapping[Role, frozenset[str]] = {
    Role.REFERRER: frozenset({"complete_intake", "hold", "resume", "cancel", "mark_error"}),
    Role.INTAKE: frozenset({
        "complete_intake", "request_info", "require_auth", "clear", "authorize", "schedule",
        "reschedule", "cancel_appointment", "hold", "resume", "cancel", "mark_error",
    }),
    Role.CLINICIAN: frozenset({
        "accept", "decline", "redirect", "request_info", "require_auth", "clear",
        "complete_visit", "close_loop", "hold", "resume", "cancel", "mark_error",
    }),
    Role.SCHEDULER: frozenset({
        "require_auth", "clear", "authorize", "schedule", "reschedule", "no_show",
        "cancel_appointment", "complete_visit", "mark_lost", "reopen", "hold", "resume",
        "cancel", "mark_error",
    }),
    Role.SYSTEM: frozenset({
        "complete_intake", "accept", "require_auth", "clear", "authorize", "schedule",
        "reschedule", "no_show", "cancel_appointment", "complete_visit", "close_loop",
        "mark_lost", "hold", "resume",
    }),
}  # fmt: skip
