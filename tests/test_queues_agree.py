"""Intake hands off only to queues routing declares and approves for that call type."""

import pytest

from referralkit.intake import DEFAULT_SPECS
from referralkit.routing.queues import DEFAULT_HANDOFFS, DEFAULT_QUEUES


@pytest.mark.parametrize("call_type", sorted(DEFAULT_SPECS, key=str))
def test_every_intake_escalation_is_an_approved_handoff(call_type):
    spec = DEFAULT_SPECS[call_type]
    name = getattr(call_type, "value", call_type)
    for queue in spec.handoffs:
        assert queue in DEFAULT_QUEUES, f"{name} escalates to undeclared queue {queue!r}"
        assert queue in DEFAULT_HANDOFFS[name], f"{name} may not hand off to {queue!r}"
