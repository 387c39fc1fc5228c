"""What submitting a finished intake produced: the call record, and the referral it touched.

.. versionadded:: 0.1
"""

from __future__ import annotations

import attrs

from referralkit.intake.duplicates import DuplicateMatch
from referralkit.intake.results import CallRecord
from referralkit.intake.status import StatusAnswer
from referralkit.model import Referral

__all__ = ["IntakeOutcome"]


@attrs.frozen(repr=False)
class IntakeOutcome:
    """The result of :meth:`~referralkit.desk.ReferralDesk.submit_intake`.

    :ivar call: the resolved call record (the host keeps it in its call log).
    :ivar referral: the referral created, linked or looked up, if any.
    :ivar created: whether a new referral was stored.
    :ivar duplicate: the open referral the call was linked to instead of creating one.
    :ivar answer: the status answer, for status and authorization calls.
    """

    call: CallRecord
    referral: Referral | None = None
    created: bool = False
    duplicate: DuplicateMatch | None = None
    answer: StatusAnswer | None = None

    def __repr__(self) -> str:
        referral_id = self.referral.id if self.referral is not None else None
        return (
            f"IntakeOutcome(call_type={self.call.call_type!r}, outcome={self.call.outcome!r}, "
            f"referral_id={referral_id}, created={self.created}, "
            f"linked={self.duplicate is not None})"
        )

    @property
    def message(self) -> str | None:
        """What to tell the caller or staff about a linked duplicate, if there was one."""
        return self.duplicate.message if self.duplicate is not None else None
