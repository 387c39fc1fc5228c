"""How lifecycle states map onto other code systems (FHIR R4 Task and ServiceRequest)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import attrs

from referralkit.model import (
    ReferralStatus,
)

if TYPE_CHECKING:  # exists only in transitions' .pyi stubs: importing it at runtime fails
    pass

S = ReferralStatus

__all__ = ["StatusCodes", "crosswalk"]

# -- Crosswalk to other code systems ---------------------------------------------------------


@attrs.frozen
class StatusCodes:
    """How a lifecycle state is expressed in other code systems."""

    task_status: str
    """FHIR R4 ``Task.status``."""
    task_business_status: str | None
    """FHIR ``Task.businessStatus`` text, where the status alone is ambiguous."""
    service_request_status: str
    """FHIR R4 ``ServiceRequest.status``."""


_CROSSWALK: Final[Mapping[ReferralStatus, StatusCodes]] = {
    S.INTAKE: StatusCodes("draft", None, "draft"),
    S.RECEIVED: StatusCodes("requested", None, "active"),
    S.ACCEPTED: StatusCodes("accepted", None, "active"),
    S.PENDING_AUTH: StatusCodes("accepted", "awaiting-authorization", "active"),
    S.READY_TO_SCHEDULE: StatusCodes("ready", None, "active"),
    S.SCHEDULED: StatusCodes("in-progress", "visit-scheduled", "active"),
    S.VISIT_COMPLETED: StatusCodes("in-progress", "visit-complete", "active"),
    S.CLOSED: StatusCodes("completed", None, "completed"),
    S.DECLINED: StatusCodes("rejected", None, "revoked"),
    S.CANCELLED: StatusCodes("cancelled", None, "revoked"),
    S.LOST: StatusCodes("failed", None, "revoked"),
    S.ON_HOLD: StatusCodes("on-hold", None, "on-hold"),
    S.ENTERED_IN_ERROR: StatusCodes("entered-in-error", None, "entered-in-error"),
}


def crosswalk(status: ReferralStatus) -> StatusCodes:
    """Return the FHIR Task and ServiceRequest codes for a lifecycle state."""
    return _CROSSWALK[status]
