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
from referralkit.desk.records import attach_documents, match_fax
from referralkit.desk.unit_of_work import Batch, UnitOfWork
from referralkit.model import (
    Actor,
    ActorKind,
    Channel,
    Direction,
    Interaction,
    ReceivedDocument,
    RecordsChannel,
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
        """Log an inbound fax; if it answers an open records request, attach it there.

        The request the host named wins; else the fax is matched to the referral's one open
        request, or to the one whose sender's fax number it came from. The request becomes
        ``received`` once every kind asked for is in, else ``partially_received``.
        """
        interaction = _reported(
            "fax", fax.provider_ref, fax.received_at, Channel.FAX, Direction.INBOUND, "received"
        )

        seen = self._seen(fax.referral_id, interaction.id)
        if seen is not None:
            return seen

        def decide(batch: Batch) -> None:
            matched = match_fax(batch.referral, fax.records_request_id, fax.from_number)
            batch.amend(
                "fax_received",
                actor=INBOUND_ACTOR,
                update=_with_interaction(interaction),
                data={
                    "interaction_id": str(interaction.id),
                    "document_id": fax.document.document_id,
                    "records_request_id": str(matched) if matched else None,
                },
            )
            if matched is not None and any(
                r.id == matched for r in batch.referral.records_requests
            ):
                document = ReceivedDocument(
                    document_id=fax.document.document_id,
                    kind=fax.document.kind,
                    received_at=fax.received_at,
                    via=RecordsChannel.FAX,
                )
                attach_documents(batch, matched, (document,), INBOUND_ACTOR)

        return self.uow.commit(fax.referral_id, decide)
