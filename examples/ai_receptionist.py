"""An AI receptionist takes a new-referral call turn by turn, then answers a status call.

Run: ``python examples/ai_receptionist.py``. The "speech" is a script of caller turns: each turn
is what a speech-to-text and language model layer extracted from the caller's words. The desk's
``IntakeSession`` validates each turn, says what is still missing and what to ask next, and
flags what needs a human. Only field paths, codes and questions are printed: never the values.
"""

from __future__ import annotations

from datetime import UTC, datetime

from referralkit import Actor, ActorKind, ManualClock, ReferralDesk, Role
from referralkit.metrics import MetricsBuilder, MetricsConfig
from referralkit.timeline import format_timeline, referral_timeline

AI = Actor(kind=ActorKind.AI, id="ai-receptionist", role=Role.INTAKE)

# What the caller (a referring practice's coordinator) says, one extracted payload per turn.
NEW_REFERRAL_TURNS = [
    {"referring_practice": {"name": "Lakeside Family Medicine"}, "specialty": "Cardiology"},
    {"patient": {"given_name": "Ana", "family_name": "Rivera", "birth_date": "2061-07-04"}},
    {"patient.birth_date": "07/04/1961", "patient.phones": "(312) 555-0147"},
    {
        "reason": {
            "text": "Palpitations, needs to be seen soon as possible",
            "icd10_codes": "R00.2",
        }
    },
]


def main() -> None:
    clock = ManualClock(datetime(2026, 3, 2, 14, tzinfo=UTC))
    with ReferralDesk.open("memory://", clock=clock) as desk:
        call = desk.start_intake("new_referral", language="en")
        print("AI: Thank you for calling. Who is referring, and to which specialty?")
        for turn, payload in enumerate(NEW_REFERRAL_TURNS, start=1):
            clock.advance(seconds=40)  # a turn of speech
            result = call.update(payload)
            print(f"turn {turn}: captured {', '.join(result.captured) or '-'}")
            for issue in result.issues:
                print(f"  rejected {issue.path} ({issue.code}): {issue.message}")
            for flag in result.flags:
                print(f"  flag {flag.code} -> human queue {flag.queue}")
            if result.next_question is not None:
                print(f"AI: {result.next_question.text}")
        outcome = desk.submit_intake(call, actor=AI)
        referral = outcome.referral
        assert referral is not None
        print(f"AI: Thank you, the referral is recorded ({referral.status.value}).")
        print(format_timeline(referral_timeline(desk.store, referral.id)), end="")

        # A second call: the patient asks where the referral stands.
        clock.advance(hours=3)
        status_call = desk.start_intake("status_inquiry")
        status_call.update(
            {
                "caller": {"role": "patient"},
                "patient": {"family_name": "Rivera", "birth_date": "1961-07-04"},
            }
        )
        answer = desk.answer_status(status_call)
        print(f"status call: verified as {answer.audience}; owner {answer.owner}")
        print(f"AI: {answer.text}")

        # Call resolution time per call type, for the monthly report.
        march = MetricsConfig(
            since=datetime(2026, 3, 1, tzinfo=UTC), until=datetime(2026, 4, 1, tzinfo=UTC)
        )
        builder = MetricsBuilder(march)
        builder.add_call(outcome.call)
        for call_type, stats in builder.build().call_resolution.items():
            print(f"{call_type}: resolved in {stats.median_seconds:.0f} s")


if __name__ == "__main__":
    main()
