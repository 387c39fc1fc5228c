"""The shared state machine: firing triggers, creation and amendments as changes."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Generic, TypeVar, final

import attrs
from pydantic import BaseModel, ValidationError
from transitions import Machine, MachineError

from referralkit.errors import (
    AmendmentError,
    InvalidTransitionError,
    InvalidTriggerError,
    PermissionDeniedError,
    TransitionBlockedError,
    TriggerDataError,
)
from referralkit.events import GENESIS_HASH, Event, make_event
from referralkit.lifecycle.effects import trigger_effects
from referralkit.lifecycle.outbound_effects import outbound_effects
from referralkit.lifecycle.outbound_table import (
    OUTBOUND_ROLE_TRIGGERS,
    OUTBOUND_TRANSITIONS,
    OUTBOUND_TRIGGER_SOURCES,
    OutboundToken,
    allowed_outbound_triggers,
)
from referralkit.lifecycle.outbound_triggers import (
    OUTBOUND_TRIGGER_DATA,
    OUTBOUND_TRIGGERS,
    OutboundTrigger,
)
from referralkit.lifecycle.table import (
    ROLE_TRIGGERS,
    TRANSITIONS,
    TRIGGER_SOURCES,
    GuardEvent,
    S,
    Token,
    allowed_triggers,
)
from referralkit.lifecycle.triggers import (
    EMPTY_DATA,
    NO_NOTE,
    TRIGGER_DATA,
    TRIGGERS,
    NoteData,
    Trigger,
    TriggerData,
)
from referralkit.model import (
    Actor,
    OutboundStatus,
    Referral,
    ReferralSide,
    ReferralStatus,
)
from referralkit.model.types import copy_with, unstorable_text

__all__ = [
    "UNRECORDED_FIELDS",
    "Change",
    "Guard",
    "Lifecycle",
    "OutboundLifecycle",
    "Route",
    "amended",
    "compile_machine",
    "compile_table",
    "created",
    "initial_fields",
    "shared_lifecycle",
    "shared_outbound_lifecycle",
]

# -- The machine --------------------------------------------------------------------------


@attrs.frozen
class Change:
    """A committed-to-be change: the new referral and the event that records it."""

    referral: Referral
    event: Event


def created(referral: Referral, actor: Actor, now: datetime) -> Change:
    """Stamp a new referral as version 1 and build its ``created`` event.

    :raises InvalidTransitionError: if the referral does not start in ``intake`` or
        ``received``, or starts in ``received`` with required fields missing.
    """
    if referral.side is ReferralSide.SENT and (
        referral.status is not S.INTAKE
        or referral.outbound is None
        or referral.outbound.status is not OutboundStatus.DRAFT
    ):
        raise InvalidTransitionError(
            "create",
            referral.status.value,
            [],
            detail="a referral we send starts as a draft (outbound status draft, status intake)",
        )
    if referral.status not in (S.INTAKE, S.RECEIVED):
        raise InvalidTransitionError(
            "create",
            referral.status.value,
            [],
            detail="a new referral starts in intake or received",
        )
    if referral.status is S.RECEIVED and referral.missing_fields():
        raise TransitionBlockedError(
            "create",
            referral.status.value,
            [],
            guard="intake_complete",
            reason="missing " + ", ".join(referral.missing_fields()),
        )
    created_at = referral.created_at or now
    event = make_event(
        referral_id=referral.id,
        seq=1,
        at=now,
        actor=actor,
        kind="created",
        from_state=None,
        to_state=referral.status,
        data={},
        prev_hash=GENESIS_HASH,
        changes=initial_fields(referral, created_at),
    )
    stamped = referral.model_copy(
        update={
            "version": 1,
            "created_at": created_at,
            "updated_at": now,
            "history_hash": event.hash,
        }
    )
    return Change(stamped, event)


# Set by the chain itself (version, head, last change time) or by the outreach plan
# (next_action_at, moved without an event): never part of an event's recorded changes.
UNRECORDED_FIELDS: Final = frozenset({"version", "history_hash", "updated_at", "next_action_at"})
"""Referral fields no event records (see :func:`initial_fields`)."""


def initial_fields(referral: Referral, created_at: datetime) -> dict[str, Any]:
    """Return what a ``created`` event records of a new referral: every field but the chain's.

    Fields at their default are left out (validation restores them); the result is
    JSON-compatible and may hold PHI.

    .. versionadded:: 0.2
    """
    dumped = referral.model_dump(mode="json", exclude=set(UNRECORDED_FIELDS))
    dumped["created_at"] = created_at.isoformat()
    return dumped


_PROTECTED_FIELDS: Final = frozenset(
    {
        "id",
        "status",
        "version",
        "history_hash",
        "created_at",
        "updated_at",
        "hold_from",
        "lost_from",
    }
)


def amended(
    referral: Referral,
    kind: str,
    *,
    actor: Actor,
    now: datetime,
    update: Mapping[str, Any],
    data: Mapping[str, Any] | None = None,
) -> Change:
    """Record a change that is not a state transition (a task opened, an interaction logged).

    The status stays; the referral gets a new version and an event of *kind* whose ``data`` is
    *data* (JSON-compatible; field paths and codes, not PHI, where you can).

    :param update: new values for fields of the referral, validated like any referral.
    :raises InvalidTransitionError: the referral was entered in error (it is void).
    :raises ValueError: *kind* is a trigger or ``"created"``, or *update* touches the status,
        version, id or history (those change only through triggers).
    :raises AmendmentError: the updated referral is invalid (a :class:`ValueError`; its
        ``.errors()`` hold locations and types, never values).

    .. versionchanged:: 0.2
       Raises :class:`~referralkit.errors.AmendmentError` instead of pydantic's error.
    """
    if kind in TRIGGER_DATA or kind in OUTBOUND_TRIGGER_DATA or kind == "created" or not kind:
        # The kind is the caller's text: not echoed.
        raise ValueError("an amendment kind must not be empty or a lifecycle trigger")
    return _recorded(referral, kind, actor=actor, now=now, update=update, data=data)


def _recorded(
    referral: Referral,
    kind: str,
    *,
    actor: Actor,
    now: datetime,
    update: Mapping[str, Any],
    data: Mapping[str, Any] | None,
) -> Change:
    # The shared core of an amendment and a sending-side transition: validate, then record.
    outbound = referral.outbound
    if referral.status is S.ENTERED_IN_ERROR or (
        outbound is not None and outbound.status is OutboundStatus.ENTERED_IN_ERROR
    ):
        raise InvalidTransitionError(
            kind, referral.status.value, [], detail="a referral entered in error is void"
        )
    protected = _PROTECTED_FIELDS.intersection(update)
    if protected:
        raise ValueError(f"fields {sorted(protected)} change only through lifecycle triggers")
    if unstorable_text(_json_strings(data)):
        raise AmendmentError(
            [
                {
                    "loc": ("data",),
                    "type": "invalid_text",
                    "msg": "text must not contain NUL characters or lone surrogates",
                }
            ]
        )
    fields = dict(referral)
    fields.update(update)
    fields.update(version=referral.version + 1, updated_at=now)
    problems: list[Any] = []
    try:
        changed = Referral.model_validate(fields)
    except ValidationError as exc:
        problems = exc.errors(include_input=False)
    if problems:
        # Raised outside the handler: the pydantic error (inputs in its .errors(), PHI) is
        # then neither the cause nor the context.
        raise AmendmentError(problems)
    recorded = sorted(set(update) - UNRECORDED_FIELDS)
    event = make_event(
        referral_id=referral.id,
        seq=referral.version + 1,
        at=now,
        actor=actor,
        kind=kind,
        from_state=referral.status,
        to_state=referral.status,
        data=dict(data or {}),
        prev_hash=referral.history_hash,
        # The new values as stored, so a replay of the events rebuilds the referral.
        changes=changed.model_dump(mode="json", include=set(recorded)),
    )
    return Change(copy_with(changed, {"history_hash": event.hash}), event)


Guard = Callable[[GuardEvent], "bool | None"]
"""A guard as the compiled table holds it: the machine's own condition function."""


StateT = TypeVar("StateT", bound=enum.Enum)


@attrs.frozen
class Route(Generic[StateT]):
    """One candidate move of a ``(state, trigger)`` pair in the compiled dispatch table.

    :ivar dest: where the referral goes when every guard passes.
    :ivar guards: the machine's condition functions with the result each must return
        (``True`` for ``conditions``, ``False`` for ``unless``), checked in order.
    """

    dest: StateT
    guards: tuple[tuple[Guard, bool], ...]


class _Probe:
    # What the compiled path hands a guard instead of transitions' EventData: the two
    # attributes guards read (GuardEvent), without EventData's eight fields and the partial.
    __slots__ = ("kwargs", "model")

    def __init__(self, model: Token | OutboundToken, kwargs: dict[str, Any]) -> None:
        self.model = model
        self.kwargs = kwargs


def compile_machine(
    machine: Machine,
) -> dict[tuple[ReferralStatus, str], tuple[Route[ReferralStatus], ...]]:
    """Compile the receiving lifecycle's machine: :func:`compile_table` over its states."""
    return compile_table(machine, ReferralStatus)


def compile_table(
    machine: Machine, state_type: type[StateT]
) -> dict[tuple[StateT, str], tuple[Route[StateT], ...]]:
    """Read ``(state, trigger) -> candidate routes`` out of a built :class:`transitions.Machine`.

    The table is derived from the machine, never written by hand, so the machine stays the one
    definition. Candidates keep the machine's order (the first whose guards pass wins, as
    ``Event._process`` does).

    :raises RuntimeError: the machine uses something the table cannot reproduce (callbacks,
        guards named by string, a queued machine, internal transitions); keep the table in
        step with the machine rather than let the two paths drift apart.
    """

    def state_of(name: str) -> StateT:
        value = machine.get_state(name).value
        if not isinstance(value, state_type):
            raise TypeError(f"state {name!r} is not a {state_type.__name__}")
        return value

    unsupported = [
        name
        for name in (
            "before_state_change",
            "after_state_change",
            "prepare_event",
            "finalize_event",
            "on_exception",
            "on_final",
        )
        if getattr(machine, name)
    ]
    if machine.has_queue:
        unsupported.append("queued")
    unsupported.extend(
        f"{name}.on_enter/on_exit"
        for name, state in machine.states.items()
        if state.on_enter or state.on_exit
    )
    table: dict[tuple[StateT, str], tuple[Route[StateT], ...]] = {}
    for trigger, event in machine.events.items():
        for source, candidates in event.transitions.items():
            routes: list[Route[StateT]] = []
            for transition in candidates:
                if transition.prepare or transition.before or transition.after:
                    unsupported.append(f"{trigger} callbacks")
                if transition.dest is None:
                    unsupported.append(f"{trigger} internal transition")
                    continue
                guards: list[tuple[Guard, bool]] = []
                for condition in transition.conditions:
                    func = condition.func
                    if isinstance(func, str):
                        unsupported.append(f"{trigger} guard named {func!r}")
                        continue
                    guards.append((func, condition.target))
                routes.append(Route(state_of(transition.dest), tuple(guards)))
            table[(state_of(source), trigger)] = tuple(routes)
    if unsupported:
        raise RuntimeError(
            "the lifecycle machine uses what the compiled table does not run: "
            + ", ".join(unsupported)
        )
    return table


class _CompiledLifecycle(Generic[StateT]):
    # What both lifecycles share: the transitions machine is the definition, and firing runs
    # the table compiled from it when the lifecycle is built.

    def __init__(
        self, states: type[StateT], transitions: Sequence[Mapping[str, Any]], initial: StateT
    ) -> None:
        self._machine = Machine(
            model=None,
            states=states,
            transitions=transitions,
            initial=initial,
            auto_transitions=False,
            send_event=True,
        )
        self._table = compile_table(self._machine, states)

    @property
    def machine(self) -> Machine:
        """The :class:`transitions.Machine` the dispatch table was compiled from."""
        return self._machine

    @property
    def table(self) -> Mapping[tuple[StateT, str], tuple[Route[StateT], ...]]:
        """The compiled dispatch table: ``(state, trigger) -> candidate routes``."""
        return self._table


@final
class Lifecycle(_CompiledLifecycle[ReferralStatus]):
    """The referral state machine: one per process, shared by every referral.

    :class:`transitions.Machine` is the single definition of the lifecycle (states, moves,
    guards); it stays available as :attr:`machine` for introspection and diagrams. Firing
    goes through a dispatch table compiled from that machine when the lifecycle is built
    (:func:`compile_machine`): the same destinations and the same guard functions in the same
    order, without transitions' per-fire bookkeeping. :meth:`fire_with_machine` fires through
    the machine itself and returns the same result (the tests prove it).

    .. versionchanged:: 0.1
       :meth:`fire` dispatches through the compiled table.
    """

    def __init__(self) -> None:
        super().__init__(ReferralStatus, TRANSITIONS, ReferralStatus.INTAKE)

    def fire(
        self,
        referral: Referral,
        trigger: Trigger,
        *,
        actor: Actor,
        now: datetime,
        data: Mapping[str, Any] | BaseModel | None = None,
    ) -> Change:
        """Apply *trigger* to *referral* and return the new referral with its event.

        :param data: the trigger's data, as a mapping or as its model in :data:`TRIGGER_DATA`.
        :raises InvalidTriggerError: *trigger* is not a trigger.
        :raises InvalidTransitionError: not allowed from the current status.
        :raises PermissionDeniedError: the actor's role may not fire it.
        :raises TriggerDataError: the data is invalid for this trigger.
        :raises TransitionBlockedError: a guard refused; names the guard and why.
        """
        source, checked = self._admit(referral, trigger, actor, data)
        token = Token(source)
        probe = _Probe(token, {"referral": referral, "actor": actor, "data": checked})
        for route in self._table[(source, trigger)]:
            for guard, target in route.guards:
                if guard(probe) != target:
                    break
            else:
                return self._changed(referral, trigger, actor, now, checked, route.dest)
        raise self._blocked(referral, trigger, actor, token)

    def fire_with_machine(
        self,
        referral: Referral,
        trigger: Trigger,
        *,
        actor: Actor,
        now: datetime,
        data: Mapping[str, Any] | BaseModel | None = None,
    ) -> Change:
        """Do what :meth:`fire` does, through :class:`transitions.Machine` itself.

        The reference path the compiled table is proven against; slower, same result and same
        errors.
        """
        source, checked = self._admit(referral, trigger, actor, data)
        # Fire on a throwaway token, never add_model(): add_model costs ~350 us and ~28 KB
        # per call, an event trigger on an unregistered token ~8 us (PERFORMANCE.md).
        token = Token(source)
        try:
            moved = self._machine.events[trigger].trigger(
                token, referral=referral, actor=actor, data=checked
            )
        except (
            MachineError
        ) as exc:  # pragma: no cover - TRIGGER_SOURCES mirrors the machine's table
            raise InvalidTransitionError(
                trigger, source.value, allowed_triggers(referral, actor)
            ) from exc
        if not moved:
            raise self._blocked(referral, trigger, actor, token)
        dest: ReferralStatus = token.state
        return self._changed(referral, trigger, actor, now, checked, dest)

    @staticmethod
    def _admit(
        referral: Referral,
        trigger: Trigger,
        actor: Actor,
        data: Mapping[str, Any] | BaseModel | None,
    ) -> tuple[ReferralStatus, TriggerData]:
        # What both paths check before any guard: trigger, state, role, data (in that order).
        model_type = TRIGGER_DATA.get(trigger)
        if model_type is None:
            raise InvalidTriggerError(str(trigger), TRIGGERS)
        source = referral.status
        if referral.outbound is not None:
            raise InvalidTransitionError(
                trigger,
                source.value,
                (),
                detail="a referral we sent moves only by the sending-side triggers "
                "(OutboundLifecycle)",
            )
        if trigger not in TRIGGER_SOURCES[source]:
            raise InvalidTransitionError(trigger, source.value, allowed_triggers(referral, actor))
        if trigger not in ROLE_TRIGGERS[actor.role]:
            raise PermissionDeniedError(
                trigger, source.value, allowed_triggers(referral, actor), actor.role.value
            )
        return source, _validate_data(trigger, model_type, data)

    @staticmethod
    def _blocked(
        referral: Referral, trigger: Trigger, actor: Actor, token: Token
    ) -> TransitionBlockedError:
        guard, reason = token.blocked or ("unknown", "refused")
        return TransitionBlockedError(
            trigger, referral.status.value, allowed_triggers(referral, actor), guard, reason
        )

    @staticmethod
    def _changed(
        referral: Referral,
        trigger: Trigger,
        actor: Actor,
        now: datetime,
        checked: TriggerData,
        dest: ReferralStatus,
    ) -> Change:
        source = referral.status
        event = make_event(
            referral_id=referral.id,
            seq=referral.version + 1,
            at=now,
            actor=actor,
            kind=trigger,
            from_state=source,
            to_state=dest,
            data=EMPTY_DATA
            if checked is NO_NOTE
            else checked.model_dump(mode="json", exclude_none=True),
            prev_hash=referral.history_hash,
        )
        update = trigger_effects(referral, trigger, checked, source)
        update["status"] = dest
        update["version"] = referral.version + 1
        update["updated_at"] = now
        update["history_hash"] = event.hash
        # Not validated (as model_copy): every value above is already typed.
        return Change(copy_with(referral, update), event)


@final
class OutboundLifecycle(_CompiledLifecycle[OutboundStatus]):
    """The sending lifecycle: a referral we sent, from draft until its report is reviewed.

    Built like :class:`Lifecycle`: one :class:`transitions.Machine` over
    :data:`~referralkit.lifecycle.outbound_table.OUTBOUND_TRANSITIONS` is the definition (kept
    as :attr:`machine` for introspection and diagrams), and :meth:`fire` runs the table
    compiled from it. The state lives in ``Referral.outbound.status``; the receiving
    ``status`` of a sent referral stays as created. Each firing is one event of the trigger's
    name on the referral's one hash chain; its data carries ``from`` and ``to`` (the sending
    states) and its recorded changes rebuild the referral on replay.

    .. versionadded:: 0.4
    """

    def __init__(self) -> None:
        super().__init__(OutboundStatus, OUTBOUND_TRANSITIONS, OutboundStatus.DRAFT)

    def fire(
        self,
        referral: Referral,
        trigger: OutboundTrigger,
        *,
        actor: Actor,
        now: datetime,
        data: Mapping[str, Any] | BaseModel | None = None,
    ) -> Change:
        """Apply sending-side *trigger* to *referral*; checks in the order :class:`Lifecycle`'s do.

        :raises InvalidTriggerError: *trigger* is not a sending-side trigger.
        :raises InvalidTransitionError: the referral is not one we sent, or the trigger is not
            allowed from its sending state.
        :raises PermissionDeniedError: the actor's role may not fire it.
        :raises TriggerDataError: the data is invalid for this trigger.
        :raises TransitionBlockedError: a guard refused; names the guard and why.
        """
        source, checked = self._admit(referral, trigger, actor, data)
        token = OutboundToken(source)
        probe = _Probe(token, {"referral": referral, "actor": actor, "data": checked})
        for route in self._table[(source, trigger)]:
            for guard, target in route.guards:
                if guard(probe) != target:
                    break
            else:
                return self._changed(referral, trigger, actor, now, checked, source, route.dest)
        name, reason = token.blocked or ("unknown", "refused")
        raise TransitionBlockedError(
            trigger, source.value, allowed_outbound_triggers(referral, actor), name, reason
        )

    def fire_with_machine(
        self,
        referral: Referral,
        trigger: OutboundTrigger,
        *,
        actor: Actor,
        now: datetime,
        data: Mapping[str, Any] | BaseModel | None = None,
    ) -> Change:
        """Do what :meth:`fire` does, through :class:`transitions.Machine` itself."""
        source, checked = self._admit(referral, trigger, actor, data)
        token = OutboundToken(source)
        moved = self._machine.events[trigger].trigger(
            token, referral=referral, actor=actor, data=checked
        )
        if not moved:
            guard, reason = token.blocked or ("unknown", "refused")
            raise TransitionBlockedError(
                trigger, source.value, allowed_outbound_triggers(referral, actor), guard, reason
            )
        dest: OutboundStatus = token.state
        return self._changed(referral, trigger, actor, now, checked, source, dest)

    @staticmethod
    def _admit(
        referral: Referral,
        trigger: OutboundTrigger,
        actor: Actor,
        data: Mapping[str, Any] | BaseModel | None,
    ) -> tuple[OutboundStatus, TriggerData]:
        model_type = OUTBOUND_TRIGGER_DATA.get(trigger)
        if model_type is None:
            raise InvalidTriggerError(str(trigger), OUTBOUND_TRIGGERS)
        if referral.side is not ReferralSide.SENT or referral.outbound is None:
            raise InvalidTransitionError(
                trigger,
                referral.status.value,
                [],
                detail="sending-side triggers apply only to a referral we sent",
            )
        source = referral.outbound.status
        if trigger not in OUTBOUND_TRIGGER_SOURCES[source]:
            raise InvalidTransitionError(
                trigger, source.value, allowed_outbound_triggers(referral, actor)
            )
        if trigger not in OUTBOUND_ROLE_TRIGGERS[actor.role]:
            raise PermissionDeniedError(
                trigger, source.value, allowed_outbound_triggers(referral, actor), actor.role.value
            )
        return source, _validate_data(trigger, model_type, data)

    @staticmethod
    def _changed(
        referral: Referral,
        trigger: OutboundTrigger,
        actor: Actor,
        now: datetime,
        checked: TriggerData,
        source: OutboundStatus,
        dest: OutboundStatus,
    ) -> Change:
        recorded = {"from": source.value, "to": dest.value}
        recorded.update(checked.model_dump(mode="json", exclude_none=True))
        update = outbound_effects(referral, trigger, checked, dest, now)
        return _recorded(referral, trigger, actor=actor, now=now, update=update, data=recorded)


def _validate_data(
    trigger: str,
    model_type: type[TriggerData],
    data: Mapping[str, Any] | BaseModel | None,
) -> TriggerData:
    if isinstance(data, model_type):
        return data
    if not data and model_type is NoteData:
        return NO_NOTE  # most triggers carry no data: skip validating an empty mapping
    if isinstance(data, BaseModel):
        raise TriggerDataError(
            trigger,
            [{"loc": (), "type": "model_type", "msg": f"expected {model_type.__name__}"}],
        )
    problems: list[Any] = []
    try:
        return model_type.model_validate(data or {})
    except ValidationError as exc:
        problems = exc.errors(include_input=False)
    # Raised outside the handler, so the pydantic error (inputs, PHI) is not its context.
    raise TriggerDataError(trigger, problems)


@functools.cache
def shared_lifecycle() -> Lifecycle:
    """Return the process-wide :class:`Lifecycle` (built on first use, then shared)."""
    return Lifecycle()


@functools.cache
def shared_outbound_lifecycle() -> OutboundLifecycle:
    """Return the process-wide :class:`OutboundLifecycle` (built on first use, then shared).

    .. versionadded:: 0.4
    """
    return OutboundLifecycle()


def _json_strings(value: object) -> list[str]:
    # Every string (keys too) in JSON-compatible event data.
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in (*_json_strings(k), *_json_strings(v))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _json_strings(item)]
    return []
