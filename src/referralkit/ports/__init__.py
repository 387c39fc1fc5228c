"""The vendor ports: one :class:`typing.Protocol` per backend, and the data that crosses them.

Plugins provide objects satisfying :class:`TelephonyAdapter`, :class:`EhrAdapter`,
:class:`FaxAdapter` and :class:`NotificationAdapter` through the provider hooks in
:mod:`referralkit.hookspecs`. Every call takes one typed request and returns one typed receipt.

Minimum necessary: a request carries only what its purpose needs. A voice call gets a number, a
script id and a contact window; an SMS gets a number and its rendered text; a fax cover gets
the practice's fax number and document references. No request to telephony, SMS, fax or
notification adapters carries a diagnosis, a referral reason or ICD-10 codes. The fields of a
request that hold PHI are listed in its ``phi_fields`` and masked in ``repr()``.

Idempotency: every outbound request carries an ``idempotency_key`` (see
:func:`idempotency_key`) that is the same on every retry of the same planned action. An adapter
that sees a key again must not contact anyone a second time; it returns the first receipt
(with ``duplicate=True``).

Errors: adapters raise :class:`~referralkit.errors.TransientAdapterError` for faults worth
retrying and :class:`~referralkit.errors.PermanentAdapterError` for the rest. Anything else
they raise is treated as permanent.

Modules: :mod:`~referralkit.ports.common` (keys, the PHI-masking base, receipts),
:mod:`~referralkit.ports.telephony`, :mod:`~referralkit.ports.ehr`, :mod:`~referralkit.ports.fax`,
:mod:`~referralkit.ports.notification`, :mod:`~referralkit.ports.inbound` (data handed to the
desk) and :mod:`~referralkit.ports.contributions` (observer notices and plugin contributions).
Every public name is importable from :mod:`referralkit.ports` itself.

.. versionadded:: 0.1
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from referralkit._lazy import exports

if TYPE_CHECKING:  # the names as type checkers see them; at run time, __getattr__
    from referralkit.ports.common import (
        PORT_OPERATIONS,
        Capability,
        DocumentRef,
        IdempotencyKey,
        OutboundRequest,
        Receipt,
        idempotency_key,
        supported_operations,
    )
    from referralkit.ports.contributions import (
        EventNotice,
        IntakeCheck,
        OutreachTemplate,
        RoutingRule,
        RoutingSuggestion,
    )
    from referralkit.ports.ehr import (
        AppointmentReceipt,
        BookAppointmentRequest,
        CancelAppointmentRequest,
        DocumentList,
        DocumentPushRequest,
        DocumentsRequest,
        EhrAdapter,
        EhrDocumentPush,
        EhrWorkMirror,
        InteractionMirrorRequest,
        PatientLookupRequest,
        PatientRecord,
        Slot,
        SlotList,
        SlotsRequest,
        StatusPushRequest,
        TaskMirrorRequest,
        same_location,
    )
    from referralkit.ports.fax import FaxAdapter, FaxRequest
    from referralkit.ports.inbound import CallOutcome, InboundFax, SmsReply
    from referralkit.ports.notification import (
        LetterRequest,
        NotificationAdapter,
        PatientEmailRequest,
        PracticeDigestEntry,
        PracticeUpdateRequest,
        StaffAlertRequest,
    )
    from referralkit.ports.telephony import CallRequest, SmsRequest, TelephonyAdapter

# Each name is imported when first used, so importing one module of the package (as a
# store or the desk does) does not import all of it.
__getattr__ = exports(
    __name__,
    {
        "AppointmentReceipt": "referralkit.ports.ehr",
        "BookAppointmentRequest": "referralkit.ports.ehr",
        "CallOutcome": "referralkit.ports.inbound",
        "CallRequest": "referralkit.ports.telephony",
        "CancelAppointmentRequest": "referralkit.ports.ehr",
        "Capability": "referralkit.ports.common",
        "DocumentList": "referralkit.ports.ehr",
        "DocumentPushRequest": "referralkit.ports.ehr",
        "DocumentRef": "referralkit.ports.common",
        "DocumentsRequest": "referralkit.ports.ehr",
        "EhrAdapter": "referralkit.ports.ehr",
        "EhrDocumentPush": "referralkit.ports.ehr",
        "EhrWorkMirror": "referralkit.ports.ehr",
        "EventNotice": "referralkit.ports.contributions",
        "FaxAdapter": "referralkit.ports.fax",
        "FaxRequest": "referralkit.ports.fax",
        "IdempotencyKey": "referralkit.ports.common",
        "InboundFax": "referralkit.ports.inbound",
        "IntakeCheck": "referralkit.ports.contributions",
        "InteractionMirrorRequest": "referralkit.ports.ehr",
        "LetterRequest": "referralkit.ports.notification",
        "NotificationAdapter": "referralkit.ports.notification",
        "OutboundRequest": "referralkit.ports.common",
        "OutreachTemplate": "referralkit.ports.contributions",
        "PORT_OPERATIONS": "referralkit.ports.common",
        "PatientEmailRequest": "referralkit.ports.notification",
        "PatientLookupRequest": "referralkit.ports.ehr",
        "PatientRecord": "referralkit.ports.ehr",
        "PracticeDigestEntry": "referralkit.ports.notification",
        "PracticeUpdateRequest": "referralkit.ports.notification",
        "Receipt": "referralkit.ports.common",
        "RoutingRule": "referralkit.ports.contributions",
        "RoutingSuggestion": "referralkit.ports.contributions",
        "Slot": "referralkit.ports.ehr",
        "SlotList": "referralkit.ports.ehr",
        "SlotsRequest": "referralkit.ports.ehr",
        "SmsReply": "referralkit.ports.inbound",
        "SmsRequest": "referralkit.ports.telephony",
        "StaffAlertRequest": "referralkit.ports.notification",
        "StatusPushRequest": "referralkit.ports.ehr",
        "TaskMirrorRequest": "referralkit.ports.ehr",
        "same_location": "referralkit.ports.ehr",
        "TelephonyAdapter": "referralkit.ports.telephony",
        "idempotency_key": "referralkit.ports.common",
        "supported_operations": "referralkit.ports.common",
    },
)

__all__ = [
    "PORT_OPERATIONS",
    "AppointmentReceipt",
    "BookAppointmentRequest",
    "CallOutcome",
    "CallRequest",
    "CancelAppointmentRequest",
    "Capability",
    "DocumentList",
    "DocumentPushRequest",
    "DocumentRef",
    "DocumentsRequest",
    "EhrAdapter",
    "EhrDocumentPush",
    "EhrWorkMirror",
    "EventNotice",
    "FaxAdapter",
    "FaxRequest",
    "IdempotencyKey",
    "InboundFax",
    "IntakeCheck",
    "InteractionMirrorRequest",
    "LetterRequest",
    "NotificationAdapter",
    "OutboundRequest",
    "OutreachTemplate",
    "PatientEmailRequest",
    "PatientLookupRequest",
    "PatientRecord",
    "PracticeDigestEntry",
    "PracticeUpdateRequest",
    "Receipt",
    "RoutingRule",
    "RoutingSuggestion",
    "Slot",
    "SlotList",
    "SlotsRequest",
    "SmsReply",
    "SmsRequest",
    "StaffAlertRequest",
    "StatusPushRequest",
    "TaskMirrorRequest",
    "TelephonyAdapter",
    "idempotency_key",
    "same_location",
    "supported_operations",
]
