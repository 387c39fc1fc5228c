"""What a SQL store last filed in its indexes, so a save that changes no index row skips it."""

from __future__ import annotations

import threading
from collections import OrderedDict

import attrs

from referralkit.model import HumanTask, Patient, Referral
from referralkit.patient_index import IndexKey, referral_keys
from referralkit.tasks.index import TaskRow, files_no_tasks, task_rows

__all__ = ["FiledIndexes"]

# version, patient, referral number, index keys, tasks, void, task rows
_Entry = tuple[
    int,
    Patient | None,
    str | None,
    frozenset[IndexKey],
    tuple[HumanTask, ...],
    bool,
    list[TaskRow],
]


@attrs.define
class FiledIndexes:
    """What a store last filed for each referral version: its index keys and its task rows.

    Most saves (a transition, an outreach step) leave the patient, the phones, the number and
    the tasks as they were: their patient-index and task-index rows stay as they are, the keys
    need no hashing and the task rows no rewriting. A save whose referral shares the very
    patient record (or task tuple) of the filed version, a copy with other fields updated, is
    recognised without deriving keys (or rows). An entry counts only for the exact version it
    was filed with, so a version another process wrote is filed again. Bounded (least recently
    used first out): a miss only means filing again.
    """

    size: int = 4096
    # Keyed by the id's integer: a UUID hashes and compares in Python code, an int does not.
    _seen: OrderedDict[int, _Entry] = attrs.field(init=False, factory=OrderedDict)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)

    def changes(
        self, referral: Referral, filed_version: int
    ) -> tuple[frozenset[IndexKey] | None, list[TaskRow] | None]:
        """Return *referral*'s index keys and task rows, each ``None`` if filed at *filed_version*.

        :returns: ``(keys, rows)``: what to file in each index, or ``None`` to leave its rows.
        """
        # No lock: one dict read is atomic, and a stale or missing entry only means filing again.
        entry = self._seen.get(referral.id.int)
        if entry is None or entry[0] != filed_version:
            return referral_keys(referral), task_rows(referral)
        _, patient, number, filed_keys, tasks, void, filed_rows = entry
        keys: frozenset[IndexKey] | None = None
        if patient is not referral.patient or number != referral.referral_number:
            keys = referral_keys(referral)
            if keys == filed_keys:
                keys = None
        rows: list[TaskRow] | None = None
        if tasks is not referral.tasks or void is not files_no_tasks(referral):
            rows = task_rows(referral)
            if rows == filed_rows:
                rows = None
        return keys, rows

    def remember(
        self,
        referral: Referral,
        keys: frozenset[IndexKey] | None,
        rows: list[TaskRow] | None,
    ) -> None:
        """Record that *referral*'s version is filed (``None``: the previous keys or rows)."""
        key = referral.id.int
        with self._lock:
            previous = self._seen.pop(key, None)
            if keys is None or rows is None:
                if previous is None:
                    return  # nothing known to stand for what was left as it was
                keys = previous[3] if keys is None else keys
                rows = previous[6] if rows is None else rows
            self._seen[key] = (
                referral.version,
                referral.patient,
                referral.referral_number,
                keys,
                referral.tasks,
                files_no_tasks(referral),
                rows,
            )
            if len(self._seen) > self.size:
                self._seen.popitem(last=False)
