"""Inbound events: call outcomes, SMS replies and faxes reported by the backends.

Each report is recorded once (its interaction id derives from the provider's reference), so a
backend that reports twice changes nothing the second time.

.. versionadded:: 0.2
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import UUID, uuid5

import attrs

from referralkit.desk.consent import ConsentService
from referralkit.desk.unit_of_work import Batch, UnitOfWork
from referralkit.model import (
    Actor,
    ActorKind,
    Channel,
    Direction,
    Interaction,
    RecordsRequestStatus,
    Referral,
    Role,
)
from referralkit.outreach.consent import is_opt_out
from referralkit.ports import CallOutcome, InboundFax, SmsReply
from referralkit.store import Store

__all__ = ["INBOUND_ACTOR", "Inbound"]

INBOUND_ACTOR: Final = Actor(
    kind=ActorKind.INTEGRATION, id="referralkit.inbound", role=Role.SYSTEM
)
"""The actor inbound reports are recorded under."""

_INBOUND_NS: Final = UUID("5b0f3c39-8a4e-4d0e-9d55-6f8f2b8f1a11")


def _reported(
    kind: str,
    provider_ref: str,
    at: datetime,
    channel: Channel,
    direction: Direction,
    outcome: str,
    summary: str | None = None,
) -> Interaction:
    # The id derives from the provider's reference: a report seen twice is one interaction.
    return Interaction(
        id=uuid5(_INBOUND_NS, f"{kind}:{provider_ref}"),
        at=at,
        channel=channel,
        direction=direction,
        outcome=outcome,
        summary=summary,
        actor_id=INBOUND_ACTOR.id,
    )


def _with_interaction(interaction: Interaction) -> Any:
    def update(referral: Referral) -> dict[str, Any]:
        return {"interactions": (*referral.interactions, interaction)}

    return update


@attrs.define
class Inbound:
    """Records what backends report: call outcomes, SMS replies (STOP included), faxes."""

    uow: UnitOfWork
    store: Store
    consent: ConsentService

    def _seen(self, referral_id: UUID, interaction_id: UUID) -> Referral | None:
        current = self.store.get(referral_id)
        return current if any(i.id == interaction_id for i in current.interactions) else None

    def _log(
        self,
        referral_id: UUID,
        interaction: Interaction,
        kind: str,
        data: dict[str, Any],
        update: Any = None,
    ) -> Referral:
        # Every report is recorded once: its interaction id derives from the provider's ref.
        seen = self._seen(referral_id, interaction.id)
        if seen is not None:
            return seen
        return self.uow.amend(
            referral_id,
            kind,
            actor=INBOUND_ACTOR,
            update=update or _with_interaction(interaction),
            data={"interaction_id": str(interaction.id), **data},
        )

    def record_call_outcome(self, outcome: CallOutcome) -> Referral:
        """Log the outcome of a call as an interaction; a repeated report changes nothing."""
        interaction = _reported(
            "call",
            outcome.provider_ref,
            outcome.at,
            Channel.VOICE,
            Direction.OUTBOUND,
            outcome.outcome,
            outcome.summary,
        )
        return self._log(
            outcome.referral_id,
            interaction,
            "call_outcome_recorded",
            {"outcome": outcome.outcome},
        )

    def record_sms_reply(self, reply: SmsReply) -> Referral:
        """Log an SMS reply; ``STOP`` (and synonyms) stops texts to the number it came from."""
        interaction = _reported(
            "sms",
            reply.provider_ref,
            reply.at,
            Channel.SMS,
            Direction.INBOUND,
            "reply",
            reply.body,
        )
        data = {"interaction_id": str(interaction.id), "channel": Channel.SMS.value}
        if not is_opt_out(reply.body):  # any case or punctuation; English and Spanish
            return self._log(
                reply.referral_id, interaction, "sms_reply_received", {"channel": "sms"}
            )
        seen = self._seen(reply.referral_id, interaction.id)
        if seen is not None:
            return seen

        def record(batch: Batch) -> None:
            batch.amend(
                "sms_reply_received",
                actor=INBOUND_ACTOR,
                update=_with_interaction(interaction),
                data=data,
            )

        # The number said stop, not this referral: texts to it stop everywhere.
        return self.consent.stop_number(
            reply.from_number, actor=INBOUND_ACTOR, source=reply.referral_id, decide=record
        )

    def receive_fax(self, fax: InboundFax) -> Referral:
        """Log an inbound fax; if it answers a records request, mark that request received."""
        interaction = _reported(
            "fax", fax.provider_ref, fax.received_at, Channel.FAX, Direction.INBOUND, "received"
        )

        def update(referral: Referral) -> dict[str, Any]:
            requests = tuple(
                r.model_copy(
                    update={
                        "status": RecordsRequestStatus.RECEIVED,
                        "documents": (*r.documents, fax.document.document_id),
                    }
                )
                if r.id == fax.records_request_id
                else r
                for r in referral.records_requests
            )
            return {
                "interactions": (*referral.interactions, interaction),
                "records_requests": requests,
            }

        return self._log(
            fax.referral_id,
            interaction,
            "fax_received",
            {
                "document_id": fax.document.document_id,
                "records_request_id": (
                    str(fax.records_request_id) if fax.records_request_id else None
                ),
            },
            update,
        )
