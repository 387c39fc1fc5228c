"""A hand-off: a call, or one question in it, passed to a named human queue.

.. versionadded:: 0.1
"""

from __future__ import annotations

import attrs

__all__ = ["HandOff"]


@attrs.frozen
class HandOff:
    """A question or call handed to a human queue, with the caller's question for the record.

    The desk records it as a task on the referral when one was found
    (:meth:`referralkit.calls.CallTools.invoke`'s ``hand_off``); otherwise the host records it
    from the tool result or the call log.

    :ivar queue: the human queue (a name from :data:`referralkit.routing.DEFAULT_QUEUES`).
    :ivar reason: a code: ``"question_outside_content"``, ``"no_content"``,
        ``"caller_not_verified"``, ``"referral_not_found"``, ``"caller_asked_for_person"``...
    :ivar question: the caller's question in their words, for the person who answers; PHI
        (kept out of repr and logs).

    .. versionadded:: 0.1
    """

    queue: str
    reason: str
    call_type: str
    topic: str | None = None
    question: str | None = attrs.field(default=None, repr=False)

    def as_dict(self) -> dict[str, str | None]:
        """Return the hand-off as JSON-compatible data (the question included)."""
        return {
            "queue": self.queue,
            "reason": self.reason,
            "call_type": self.call_type,
            "topic": self.topic,
            "question": self.question,
        }
