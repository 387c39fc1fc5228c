"""The authorization workflow: a sub-status moved by amendments beside the lifecycle.

::

    required --submit(payer ref)--> submitted --pend--> pended --submit--> submitted
    submitted | pended --approve--> approved / modified   (fires ``authorize``)
    submitted | pended --deny(reason)--> denied --appeal(payer ref)--> submitted
    approved | modified --expire--> expired --submit--> submitted

Only the approval is a lifecycle trigger (``authorize``: pending_auth -> ready_to_schedule);
every other step is an amendment (``authorization_submitted``, ``authorization_pended``,
``authorization_denied``, ``authorization_appealed``, ``authorization_expired``), so the
lifecycle's states and triggers are unchanged. Visits are counted by ``complete_visit``, and
booking is refused outside the validity or once the visits are used up (the lifecycle's
``authorization_covers_appointment`` guard). An approval past its last day expires by itself
at the next routing sweep (:func:`expire_lapsed`, driven by ``next_routing_at``). Staff alerts
come from the routing rules (expiring soon, ends before the visit), the outreach planner
(:class:`~referralkit.outreach.AuthRules`: needed, pending too long, visits used up) and the
expiry itself (renew it).

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any, Final
from uuid import UUID, uuid5

import attrs

from referralkit.clock import Clock
from referralkit.desk.unit_of_work import Batch, UnitOfWork
from referralkit.errors import InvalidTransitionError
from referralkit.model import (
    Actor,
    ActorKind,
    AuthorizationStatus,
    HumanTask,
    Referral,
    ReferralStatus,
    Role,
    TaskPriority,
)

__all__ = ["AUTHORIZATION_ACTOR", "AuthorizationService", "expire_lapsed"]

A = AuthorizationStatus
_SUBMITTABLE = frozenset({A.REQUIRED, A.PENDED, A.EXPIRED})
_WITH_PAYER = frozenset({A.SUBMITTED, A.PENDED})


def _step(
    batch: Batch,
    kind: str,
    allowed: Collection[AuthorizationStatus],
    actor: Actor,
    update: dict[str, Any],
    data: dict[str, Any] | None = None,
) -> None:
    auth = batch.referral.authorization
    if auth.status not in allowed:
        raise InvalidTransitionError(
            kind,
            auth.status.value,
            [],
            detail=f"{kind} is not allowed while authorization is {auth.status.value}",
        )
    batch.amend(
        kind,
        actor=actor,
        update={"authorization": auth.model_copy(update=update)},
        data={"from": auth.status.value, **(data or {})},
    )


@attrs.define
class AuthorizationService:
    """Submits, pends, approves, denies, appeals and expires a referral's authorization."""

    uow: UnitOfWork
    clock: Clock

    def submit(self, referral_id: UUID, *, payer_reference: str, actor: Actor) -> Referral:
        """Record that the request went to the payer (from required, pended or expired).

        :raises InvalidTransitionError: the authorization is in another sub-status.
        """
        return self.uow.commit(
            referral_id,
            lambda b: _step(
                b,
                "authorization_submitted",
                _SUBMITTABLE,
                actor,
                {"status": A.SUBMITTED, "payer_reference": payer_reference, "submitted_at": b.now},
            ),
        )

    def pend(self, referral_id: UUID, *, actor: Actor) -> Referral:
        """Record that the payer asked for more information (from submitted).

        :raises InvalidTransitionError: the authorization is not submitted.
        """
        return self.uow.commit(
            referral_id,
            lambda b: _step(b, "authorization_pended", {A.SUBMITTED}, actor, {"status": A.PENDED}),
        )

    def approve(
        self,
        referral_id: UUID,
        *,
        number: str,
        valid_from: date,
        valid_to: date,
        actor: Actor,
        authorized_visits: int | None = None,
        modified: bool = False,
    ) -> Referral:
        """Record the payer's approval (``modified``: with changes) and fire ``authorize``.

        :raises InvalidTransitionError: the authorization is not with the payer, or the
            referral is not pending authorization.
        :raises TriggerDataError: the dates or visits are invalid.
        """

        def decide(batch: Batch) -> None:
            before = batch.referral.authorization
            if before.status not in _WITH_PAYER:
                raise InvalidTransitionError(
                    "authorize",
                    before.status.value,
                    [],
                    detail="authorization is not with the payer",
                )
            data = {
                "number": number,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "authorized_visits": authorized_visits,
                "modified": modified,
            }
            if batch.referral.status is not ReferralStatus.PENDING_AUTH:
                # A renewal for a referral already past authorization (booked, say): the
                # sub-status changes, the lifecycle state does not.
                if valid_to < valid_from:
                    raise ValueError("valid_to is before valid_from")
                _step(
                    batch,
                    "authorization_approved",
                    _WITH_PAYER,
                    actor,
                    {
                        "status": A.MODIFIED if modified else A.APPROVED,
                        "number": number,
                        "valid_from": valid_from,
                        "valid_to": valid_to,
                        "authorized_visits": authorized_visits,
                    },
                )
                return
            batch.fire("authorize", actor=actor, data=data)
            # ``authorize`` rebuilds the authorization from its data: keep the payer's trail.
            batch.amend(
                "authorization_trail_kept",
                actor=actor,
                update={
                    "authorization": batch.referral.authorization.model_copy(
                        update={
                            "payer_reference": before.payer_reference,
                            "submitted_at": before.submitted_at,
                            "appeals": before.appeals,
                        }
                    )
                },
            )

        return self.uow.commit(referral_id, decide)

    def deny(self, referral_id: UUID, *, reason: str, actor: Actor) -> Referral:
        """Record the payer's denial with its coded *reason* (from submitted or pended).

        The referral stays pending authorization: staff appeal, or end it (``cancel``).

        :raises InvalidTransitionError: the authorization is not with the payer.
        """
        return self.uow.commit(
            referral_id,
            lambda b: _step(
                b,
                "authorization_denied",
                _WITH_PAYER,
                actor,
                {"status": A.DENIED, "denial_reason": reason},
                {"reason": reason},
            ),
        )

    def appeal(self, referral_id: UUID, *, payer_reference: str, actor: Actor) -> Referral:
        """Appeal a denial: the authorization is submitted again, under *payer_reference*.

        :raises InvalidTransitionError: the authorization is not denied.
        """

        def decide(batch: Batch) -> None:
            appeals = batch.referral.authorization.appeals + 1
            _step(
                batch,
                "authorization_appealed",
                {A.DENIED},
                actor,
                {
                    "status": A.SUBMITTED,
                    "payer_reference": payer_reference,
                    "submitted_at": batch.now,
                    "appeals": appeals,
                },
                {"appeal": appeals},
            )

        return self.uow.commit(referral_id, decide)

    def expire(self, referral_id: UUID, *, actor: Actor) -> Referral:
        """Record that an approval lapsed; a referral not yet booked needs it renewed.

        A routing sweep does this by itself once the validity ends (:func:`expire_lapsed`);
        this is for an approval the payer withdrew early.

        :raises InvalidTransitionError: the authorization is not approved.
        """
        return self.uow.commit(referral_id, lambda batch: _expire(batch, actor))


def _expire(batch: Batch, actor: Actor, data: dict[str, Any] | None = None) -> None:
    _step(
        batch,
        "authorization_expired",
        {A.APPROVED, A.MODIFIED},
        actor,
        {"status": A.EXPIRED},
        data,
    )
    if batch.referral.status is ReferralStatus.READY_TO_SCHEDULE:
        batch.fire("require_auth", actor=actor)


AUTHORIZATION_ACTOR: Final = Actor(
    kind=ActorKind.SYSTEM, id="referralkit.authorization", role=Role.SYSTEM
)
"""The actor an authorization that lapsed by itself is recorded expired under."""

# States in which the referral still needs its authorization: a lapse there is work for staff.
_BEFORE_VISIT: Final = frozenset(
    {
        ReferralStatus.ACCEPTED,
        ReferralStatus.PENDING_AUTH,
        ReferralStatus.READY_TO_SCHEDULE,
        ReferralStatus.SCHEDULED,
        ReferralStatus.ON_HOLD,
    }
)


def expire_lapsed(
    batch: Batch, *, now: datetime | None = None, queue: str = "authorization"
) -> bool:
    """Record the batch's authorization expired if its validity ended by *now*.

    Time-driven: the referral's ``next_routing_at`` is never later than the lapse
    (:attr:`~referralkit.model.Authorization.lapses_at`), so the routing sweep after it calls
    this, whenever it runs. One ``authorization_expired`` event (``automatic: true``): a
    referral ready to schedule goes back to pending authorization, and while the visit is
    still ahead a task in *queue* asks staff to renew it, once per approval.

    :param now: the instant swept (``batch.now`` by default).
    :returns: whether it expired.

    .. versionadded:: 0.3
    """
    auth = batch.referral.authorization
    lapses = auth.lapses_at
    if lapses is None or (now or batch.now) < lapses:
        return False
    needs_renewal = batch.referral.status in _BEFORE_VISIT
    _expire(
        batch,
        AUTHORIZATION_ACTOR,
        {"automatic": True, "valid_to": auth.valid_to.isoformat() if auth.valid_to else None},
    )
    if needs_renewal:
        task = HumanTask(
            id=uuid5(_TASK_NS, f"{batch.referral.id}|{auth.number}|{auth.valid_to}"),
            queue=queue,
            title="Authorization expired: renew it with the payer",
            reason="authorization_expired",
            priority=TaskPriority.HIGH,
            created_at=batch.now,
            due_at=batch.now + timedelta(days=1),
            rule_id="authorization_expired",
        )
        if all(t.id != task.id for t in batch.referral.tasks):
            batch.amend(
                "authorization_task_opened",
                actor=AUTHORIZATION_ACTOR,
                update={"tasks": (*batch.referral.tasks, task)},
                data={"task_id": str(task.id), "queue": queue, "reason": task.reason},
            )
    return True


_TASK_NS: Final = UUID("5b3f4c1e-6a0d-4f43-9a57-2f0e7c9d1b11")
