"""referralkit: keep specialist referrals from getting lost.

The public API is re-exported here; see ``docs/`` for concepts and references.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # the names as type checkers and IDEs see them; at run time: __getattr__
    from referralkit._version import __version__ as __version__
    from referralkit.adapters.memory import (
        MemoryStore as MemoryStore,
    )
    from referralkit.adapters.postgres import (
        PostgresStore as PostgresStore,
    )
    from referralkit.adapters.sqlite import (
        SQLiteStore as SQLiteStore,
    )
    from referralkit.calendar import (
        BusinessCalendar as BusinessCalendar,
    )
    from referralkit.calendar import (
        UsBusinessCalendar as UsBusinessCalendar,
    )
    from referralkit.calendar import (
        WeekdayCalendar as WeekdayCalendar,
    )
    from referralkit.calls import (
        TOOLS_VERSION as TOOLS_VERSION,
    )
    from referralkit.calls import (
        CallLogged as CallLogged,
    )
    from referralkit.calls import (
        CallTools as CallTools,
    )
    from referralkit.calls import (
        Conversation as Conversation,
    )
    from referralkit.calls import (
        HandOff as HandOff,
    )
    from referralkit.calls import (
        ScriptedCaller as ScriptedCaller,
    )
    from referralkit.calls import (
        ToolDefinition as ToolDefinition,
    )
    from referralkit.calls import (
        ToolSet as ToolSet,
    )
    from referralkit.calls import (
        VisitContent as VisitContent,
    )
    from referralkit.calls import (
        VisitGuide as VisitGuide,
    )
    from referralkit.calls import (
        VisitPrepAnswer as VisitPrepAnswer,
    )
    from referralkit.calls import (
        VisitText as VisitText,
    )
    from referralkit.calls import (
        answer_visit_preparation as answer_visit_preparation,
    )
    from referralkit.calls import (
        phrase as phrase,
    )
    from referralkit.calls import (
        read_back as read_back,
    )
    from referralkit.calls import (
        tool_definitions as tool_definitions,
    )
    from referralkit.clock import (
        Clock as Clock,
    )
    from referralkit.clock import (
        ManualClock as ManualClock,
    )
    from referralkit.clock import (
        SystemClock as SystemClock,
    )
    from referralkit.desk import (
        ReferralDesk as ReferralDesk,
    )
    from referralkit.desk import (
        open_store as open_store,
    )
    from referralkit.desk.unit_of_work import (
        Batch as Batch,
    )
    from referralkit.desk.unit_of_work import (
        UnitOfWork as UnitOfWork,
    )
    from referralkit.directory import (
        Directory as Directory,
    )
    from referralkit.directory import (
        Receiver as Receiver,
    )
    from referralkit.directory import (
        SentReferralFacts as SentReferralFacts,
    )
    from referralkit.directory import (
        TrackRecord as TrackRecord,
    )
    from referralkit.directory import (
        rank_receivers as rank_receivers,
    )
    from referralkit.directory import (
        track_records as track_records,
    )
    from referralkit.errors import (
        AdapterError as AdapterError,
    )
    from referralkit.errors import (
        AmendmentError as AmendmentError,
    )
    from referralkit.errors import (
        ConfigError as ConfigError,
    )
    from referralkit.errors import (
        ConflictError as ConflictError,
    )
    from referralkit.errors import (
        ContentError as ContentError,
    )
    from referralkit.errors import (
        CorruptRecordError as CorruptRecordError,
    )
    from referralkit.errors import (
        DirectoryError as DirectoryError,
    )
    from referralkit.errors import (
        DuplicateReferralError as DuplicateReferralError,
    )
    from referralkit.errors import (
        FhirResourceError as FhirResourceError,
    )
    from referralkit.errors import (
        HandoffNotAllowedError as HandoffNotAllowedError,
    )
    from referralkit.errors import (
        HistoryTamperedError as HistoryTamperedError,
    )
    from referralkit.errors import (
        Hl7MessageError as Hl7MessageError,
    )
    from referralkit.errors import (
        IntakeError as IntakeError,
    )
    from referralkit.errors import (
        InteropError as InteropError,
    )
    from referralkit.errors import (
        InvalidReferralNumberError as InvalidReferralNumberError,
    )
    from referralkit.errors import (
        InvalidTenantError as InvalidTenantError,
    )
    from referralkit.errors import (
        InvalidTransitionError as InvalidTransitionError,
    )
    from referralkit.errors import (
        InvalidTriggerError as InvalidTriggerError,
    )
    from referralkit.errors import (
        NoBackendError as NoBackendError,
    )
    from referralkit.errors import (
        NotAReferralkitDatabaseError as NotAReferralkitDatabaseError,
    )
    from referralkit.errors import (
        PermanentAdapterError as PermanentAdapterError,
    )
    from referralkit.errors import (
        PermissionDeniedError as PermissionDeniedError,
    )
    from referralkit.errors import (
        PolicyError as PolicyError,
    )
    from referralkit.errors import (
        ReferralKitError as ReferralKitError,
    )
    from referralkit.errors import (
        ReferralNotFoundError as ReferralNotFoundError,
    )
    from referralkit.errors import (
        RoutingError as RoutingError,
    )
    from referralkit.errors import (
        RuleLoadError as RuleLoadError,
    )
    from referralkit.errors import (
        ScenarioError as ScenarioError,
    )
    from referralkit.errors import (
        SendRefusedError as SendRefusedError,
    )
    from referralkit.errors import (
        SmsTooLongError as SmsTooLongError,
    )
    from referralkit.errors import (
        StoreError as StoreError,
    )
    from referralkit.errors import (
        StoreURLError as StoreURLError,
    )
    from referralkit.errors import (
        TaskError as TaskError,
    )
    from referralkit.errors import (
        TaskNotFoundError as TaskNotFoundError,
    )
    from referralkit.errors import (
        TaskStateError as TaskStateError,
    )
    from referralkit.errors import (
        ToolArgumentsError as ToolArgumentsError,
    )
    from referralkit.errors import (
        ToolError as ToolError,
    )
    from referralkit.errors import (
        ToolNotPermittedError as ToolNotPermittedError,
    )
    from referralkit.errors import (
        TransientAdapterError as TransientAdapterError,
    )
    from referralkit.errors import (
        TransitionBlockedError as TransitionBlockedError,
    )
    from referralkit.errors import (
        TriggerDataError as TriggerDataError,
    )
    from referralkit.errors import (
        UnknownCallError as UnknownCallError,
    )
    from referralkit.errors import (
        WebhookSignatureError as WebhookSignatureError,
    )
    from referralkit.errors import (
        scrub_errors as scrub_errors,
    )
    from referralkit.events import (
        Event as Event,
    )
    from referralkit.events import (
        encode_event as encode_event,
    )
    from referralkit.events import (
        verify_history as verify_history,
    )
    from referralkit.intake import (
        CallRecord as CallRecord,
    )
    from referralkit.intake import (
        CallType as CallType,
    )
    from referralkit.intake import (
        CallTypeSpec as CallTypeSpec,
    )
    from referralkit.intake import (
        DuplicateMatch as DuplicateMatch,
    )
    from referralkit.intake import (
        FieldIssue as FieldIssue,
    )
    from referralkit.intake import (
        IntakeConfig as IntakeConfig,
    )
    from referralkit.intake import (
        IntakeFlag as IntakeFlag,
    )
    from referralkit.intake import (
        IntakeOutcome as IntakeOutcome,
    )
    from referralkit.intake import (
        IntakeResult as IntakeResult,
    )
    from referralkit.intake import (
        IntakeSession as IntakeSession,
    )
    from referralkit.intake import (
        StatusAnswer as StatusAnswer,
    )
    from referralkit.intake import (
        validate_intake as validate_intake,
    )
    from referralkit.intake.patterns import (
        BoundedPattern as BoundedPattern,
    )
    from referralkit.integrity import (
        Keyring as Keyring,
    )
    from referralkit.integrity import (
        Seal as Seal,
    )
    from referralkit.integrity import (
        StoredEvent as StoredEvent,
    )
    from referralkit.integrity import (
        StoredRecord as StoredRecord,
    )
    from referralkit.integrity import (
        TamperReport as TamperReport,
    )
    from referralkit.integrity import (
        VerifiableStore as VerifiableStore,
    )
    from referralkit.integrity import (
        verify_all as verify_all,
    )
    from referralkit.integrity import (
        verify_referral as verify_referral,
    )
    from referralkit.lifecycle import (
        TRIGGERS as TRIGGERS,
    )
    from referralkit.lifecycle import (
        BusinessStatus as BusinessStatus,
    )
    from referralkit.lifecycle import (
        Change as Change,
    )
    from referralkit.lifecycle import (
        Lifecycle as Lifecycle,
    )
    from referralkit.lifecycle import (
        NextStep as NextStep,
    )
    from referralkit.lifecycle import (
        StatusCodes as StatusCodes,
    )
    from referralkit.lifecycle import (
        SubStatus as SubStatus,
    )
    from referralkit.lifecycle import (
        Trigger as Trigger,
    )
    from referralkit.lifecycle import (
        allowed_triggers as allowed_triggers,
    )
    from referralkit.lifecycle import (
        amended as amended,
    )
    from referralkit.lifecycle import (
        created as created,
    )
    from referralkit.lifecycle import (
        crosswalk as crosswalk,
    )
    from referralkit.lifecycle import (
        crosswalk_referral as crosswalk_referral,
    )
    from referralkit.lifecycle import (
        next_step as next_step,
    )
    from referralkit.lifecycle import (
        next_step_for as next_step_for,
    )
    from referralkit.lifecycle import (
        shared_lifecycle as shared_lifecycle,
    )
    from referralkit.lifecycle.replay import (
        replay as replay,
    )
    from referralkit.metrics import (
        REPORT_JSON_SCHEMA as REPORT_JSON_SCHEMA,
    )
    from referralkit.metrics import (
        Cms50Period as Cms50Period,
    )
    from referralkit.metrics import (
        Cms50Result as Cms50Result,
    )
    from referralkit.metrics import (
        GroupMetrics as GroupMetrics,
    )
    from referralkit.metrics import (
        MetricsConfig as MetricsConfig,
    )
    from referralkit.metrics import (
        MetricsReport as MetricsReport,
    )
    from referralkit.metrics import (
        compute_metrics as compute_metrics,
    )
    from referralkit.model import (
        SAFE_ALPHABET as SAFE_ALPHABET,
    )
    from referralkit.model import (
        Actor as Actor,
    )
    from referralkit.model import (
        ActorKind as ActorKind,
    )
    from referralkit.model import (
        Address as Address,
    )
    from referralkit.model import (
        Appointment as Appointment,
    )
    from referralkit.model import (
        AppointmentStatus as AppointmentStatus,
    )
    from referralkit.model import (
        Authorization as Authorization,
    )
    from referralkit.model import (
        AuthorizationStatus as AuthorizationStatus,
    )
    from referralkit.model import (
        CancelReason as CancelReason,
    )
    from referralkit.model import (
        Channel as Channel,
    )
    from referralkit.model import (
        ConsultReport as ConsultReport,
    )
    from referralkit.model import (
        ContactConsent as ContactConsent,
    )
    from referralkit.model import (
        Coverage as Coverage,
    )
    from referralkit.model import (
        DeclineReason as DeclineReason,
    )
    from referralkit.model import (
        Direction as Direction,
    )
    from referralkit.model import (
        Disclosure as Disclosure,
    )
    from referralkit.model import (
        HumanTask as HumanTask,
    )
    from referralkit.model import (
        Interaction as Interaction,
    )
    from referralkit.model import (
        LostReason as LostReason,
    )
    from referralkit.model import (
        NoShowReason as NoShowReason,
    )
    from referralkit.model import (
        OutboundStatus as OutboundStatus,
    )
    from referralkit.model import (
        Patient as Patient,
    )
    from referralkit.model import (
        PhoneContact as PhoneContact,
    )
    from referralkit.model import (
        PhoneExtension as PhoneExtension,
    )
    from referralkit.model import (
        PhoneKind as PhoneKind,
    )
    from referralkit.model import (
        Practice as Practice,
    )
    from referralkit.model import (
        Priority as Priority,
    )
    from referralkit.model import (
        Provider as Provider,
    )
    from referralkit.model import (
        ReasonForReferral as ReasonForReferral,
    )
    from referralkit.model import (
        ReceivedDocument as ReceivedDocument,
    )
    from referralkit.model import (
        RecordsChannel as RecordsChannel,
    )
    from referralkit.model import (
        RecordsRequest as RecordsRequest,
    )
    from referralkit.model import (
        RecordsRequestStatus as RecordsRequestStatus,
    )
    from referralkit.model import (
        RecordsSource as RecordsSource,
    )
    from referralkit.model import (
        Referral as Referral,
    )
    from referralkit.model import (
        ReferralDocument as ReferralDocument,
    )
    from referralkit.model import (
        ReferralNumberFormat as ReferralNumberFormat,
    )
    from referralkit.model import (
        ReferralPackage as ReferralPackage,
    )
    from referralkit.model import (
        ReferralSide as ReferralSide,
    )
    from referralkit.model import (
        ReferralStatus as ReferralStatus,
    )
    from referralkit.model import (
        ReportDeliveryStatus as ReportDeliveryStatus,
    )
    from referralkit.model import (
        ReportDisposition as ReportDisposition,
    )
    from referralkit.model import (
        Role as Role,
    )
    from referralkit.model import (
        StatusReason as StatusReason,
    )
    from referralkit.model import (
        TaskChange as TaskChange,
    )
    from referralkit.model import (
        TaskPriority as TaskPriority,
    )
    from referralkit.model import (
        TaskStatus as TaskStatus,
    )
    from referralkit.model import (
        same_person as same_person,
    )
    from referralkit.outbox import (
        DispatchOutcome as DispatchOutcome,
    )
    from referralkit.outbox import (
        DispatchStatus as DispatchStatus,
    )
    from referralkit.outbox import (
        RetryPolicy as RetryPolicy,
    )
    from referralkit.outreach.dispatch import (
        OutreachSettings as OutreachSettings,
    )
    from referralkit.outreach.dispatch import (
        SweepReport as SweepReport,
    )
    from referralkit.outreach.guard import (
        contact_refusal as contact_refusal,
    )
    from referralkit.outreach.ledger import (
        OutboxEntry as OutboxEntry,
    )
    from referralkit.outreach.policy import (
        MILESTONES as MILESTONES,
    )
    from referralkit.outreach.policy import (
        Policy as OutreachPolicy,  # noqa: F401 - re-exported under this name (__all__)
    )
    from referralkit.outreach.policy import (
        PracticeUpdates as PracticeUpdates,
    )
    from referralkit.outreach.policy import (
        RecordsRules as RecordsRules,
    )
    from referralkit.plugins import (
        PROJECT_NAME as PROJECT_NAME,
    )
    from referralkit.plugins import (
        Hooks as Hooks,
    )
    from referralkit.plugins import (
        PluginLoadError as PluginLoadError,
    )
    from referralkit.plugins import (
        hookimpl as hookimpl,
    )
    from referralkit.plugins import (
        hookspec as hookspec,
    )
    from referralkit.plugins import (
        make_plugin_manager as make_plugin_manager,
    )
    from referralkit.ports import (
        PORT_OPERATIONS as PORT_OPERATIONS,
    )
    from referralkit.ports import (
        EhrAdapter as EhrAdapter,
    )
    from referralkit.ports import (
        EhrWorkMirror as EhrWorkMirror,
    )
    from referralkit.ports import (
        FaxAdapter as FaxAdapter,
    )
    from referralkit.ports import (
        InteractionMirrorRequest as InteractionMirrorRequest,
    )
    from referralkit.ports import (
        NotificationAdapter as NotificationAdapter,
    )
    from referralkit.ports import (
        Slot as Slot,
    )
    from referralkit.ports import (
        SlotList as SlotList,
    )
    from referralkit.ports import (
        SlotsRequest as SlotsRequest,
    )
    from referralkit.ports import (
        TaskMirrorRequest as TaskMirrorRequest,
    )
    from referralkit.ports import (
        TelephonyAdapter as TelephonyAdapter,
    )
    from referralkit.ports import (
        idempotency_key as idempotency_key,
    )
    from referralkit.ports import (
        supported_operations as supported_operations,
    )
    from referralkit.routing import (
        RoutingReport as RoutingReport,
    )
    from referralkit.routing import (
        RoutingSweepReport as RoutingSweepReport,
    )
    from referralkit.routing import (
        RuleExplanation as RuleExplanation,
    )
    from referralkit.routing import (
        RuleRegistry as RuleRegistry,
    )
    from referralkit.routing import (
        RuleSet as RuleSet,
    )
    from referralkit.routing import (
        default_rules as default_rules,
    )
    from referralkit.routing import (
        next_routing_at as next_routing_at,
    )
    from referralkit.store import (
        Backlog as Backlog,
    )
    from referralkit.store import (
        IndexedStore as IndexedStore,
    )
    from referralkit.store import (
        LeasingStore as LeasingStore,
    )
    from referralkit.store import (
        NumberedStore as NumberedStore,
    )
    from referralkit.store import (
        RoutingStore as RoutingStore,
    )
    from referralkit.store import (
        Store as Store,
    )
    from referralkit.store import (
        TenantStore as TenantStore,
    )
    from referralkit.store import (
        WorkerStore as WorkerStore,
    )
    from referralkit.tasks import (
        Continuity as Continuity,
    )
    from referralkit.tasks import (
        MirrorReport as MirrorReport,
    )
    from referralkit.tasks import (
        MirrorSettings as MirrorSettings,
    )
    from referralkit.tasks import (
        MootPolicy as MootPolicy,
    )
    from referralkit.tasks import (
        QueueCounts as QueueCounts,
    )
    from referralkit.tasks import (
        TaskCursor as TaskCursor,
    )
    from referralkit.tasks import (
        TaskIndex as TaskIndex,
    )
    from referralkit.tasks import (
        TaskQuery as TaskQuery,
    )
    from referralkit.tasks import (
        TaskRow as TaskRow,
    )
    from referralkit.tasks import (
        TaskService as TaskService,
    )
    from referralkit.tasks import (
        TaskSweepReport as TaskSweepReport,
    )
    from referralkit.tasks import (
        moot_closures as moot_closures,
    )
    from referralkit.tenancy import (
        DEFAULT_TENANT as DEFAULT_TENANT,
    )
    from referralkit.timeline import (
        TimelineEntry as TimelineEntry,
    )
    from referralkit.timeline import (
        referral_timeline as referral_timeline,
    )
    from referralkit.timeline import (
        timeline as timeline,
    )

_EXPORTS: Final[dict[str, str]] = {
    "DEFAULT_TENANT": "referralkit.tenancy",
    "IndexedStore": "referralkit.store",
    "InvalidTenantError": "referralkit.errors",
    "TenantStore": "referralkit.store",
    "Actor": "referralkit.model",
    "ActorKind": "referralkit.model",
    "AdapterError": "referralkit.errors",
    "Address": "referralkit.model",
    "AmendmentError": "referralkit.errors",
    "Appointment": "referralkit.model",
    "AppointmentStatus": "referralkit.model",
    "Authorization": "referralkit.model",
    "AuthorizationStatus": "referralkit.model",
    "Backlog": "referralkit.store",
    "Batch": "referralkit.desk.unit_of_work",
    "BoundedPattern": "referralkit.intake.patterns",
    "BusinessCalendar": "referralkit.calendar",
    "BusinessStatus": "referralkit.lifecycle",
    "CallLogged": "referralkit.calls",
    "CallRecord": "referralkit.intake",
    "CallTools": "referralkit.calls",
    "CallType": "referralkit.intake",
    "CallTypeSpec": "referralkit.intake",
    "CancelReason": "referralkit.model",
    "Change": "referralkit.lifecycle",
    "Channel": "referralkit.model",
    "Clock": "referralkit.clock",
    "Cms50Period": "referralkit.metrics",
    "Cms50Result": "referralkit.metrics",
    "ConfigError": "referralkit.errors",
    "ConflictError": "referralkit.errors",
    "ConsultReport": "referralkit.model",
    "ContactConsent": "referralkit.model",
    "ContentError": "referralkit.errors",
    "Continuity": "referralkit.tasks",
    "Conversation": "referralkit.calls",
    "CorruptRecordError": "referralkit.errors",
    "Coverage": "referralkit.model",
    "DeclineReason": "referralkit.model",
    "Direction": "referralkit.model",
    "Directory": "referralkit.directory",
    "DirectoryError": "referralkit.errors",
    "Disclosure": "referralkit.model",
    "DispatchOutcome": "referralkit.outbox",
    "DispatchStatus": "referralkit.outbox",
    "DuplicateMatch": "referralkit.intake",
    "DuplicateReferralError": "referralkit.errors",
    "EhrAdapter": "referralkit.ports",
    "EhrWorkMirror": "referralkit.ports",
    "Event": "referralkit.events",
    "FaxAdapter": "referralkit.ports",
    "FhirResourceError": "referralkit.errors",
    "FieldIssue": "referralkit.intake",
    "GroupMetrics": "referralkit.metrics",
    "HandOff": "referralkit.calls",
    "HandoffNotAllowedError": "referralkit.errors",
    "HistoryTamperedError": "referralkit.errors",
    "Hl7MessageError": "referralkit.errors",
    "Hooks": "referralkit.plugins",
    "HumanTask": "referralkit.model",
    "IntakeConfig": "referralkit.intake",
    "IntakeError": "referralkit.errors",
    "IntakeFlag": "referralkit.intake",
    "IntakeOutcome": "referralkit.intake",
    "IntakeResult": "referralkit.intake",
    "IntakeSession": "referralkit.intake",
    "Interaction": "referralkit.model",
    "InteractionMirrorRequest": "referralkit.ports",
    "InteropError": "referralkit.errors",
    "InvalidReferralNumberError": "referralkit.errors",
    "InvalidTransitionError": "referralkit.errors",
    "InvalidTriggerError": "referralkit.errors",
    "Keyring": "referralkit.integrity",
    "LeasingStore": "referralkit.store",
    "Lifecycle": "referralkit.lifecycle",
    "LostReason": "referralkit.model",
    "MILESTONES": "referralkit.outreach.policy",
    "ManualClock": "referralkit.clock",
    "MemoryStore": "referralkit.adapters.memory",
    "MetricsConfig": "referralkit.metrics",
    "MetricsReport": "referralkit.metrics",
    "MirrorReport": "referralkit.tasks",
    "MirrorSettings": "referralkit.tasks",
    "MootPolicy": "referralkit.tasks",
    "NextStep": "referralkit.lifecycle",
    "NoBackendError": "referralkit.errors",
    "NoShowReason": "referralkit.model",
    "NotAReferralkitDatabaseError": "referralkit.errors",
    "NotificationAdapter": "referralkit.ports",
    "NumberedStore": "referralkit.store",
    "OutboxEntry": "referralkit.outreach.ledger",
    "OutreachPolicy": "referralkit.outreach.policy:Policy",
    "OutreachSettings": "referralkit.outreach.dispatch",
    "PORT_OPERATIONS": "referralkit.ports",
    "PROJECT_NAME": "referralkit.plugins",
    "Patient": "referralkit.model",
    "PermanentAdapterError": "referralkit.errors",
    "PermissionDeniedError": "referralkit.errors",
    "PhoneContact": "referralkit.model",
    "PhoneExtension": "referralkit.model",
    "PhoneKind": "referralkit.model",
    "PluginLoadError": "referralkit.plugins",
    "PolicyError": "referralkit.errors",
    "PostgresStore": "referralkit.adapters.postgres",
    "Practice": "referralkit.model",
    "PracticeUpdates": "referralkit.outreach.policy",
    "Priority": "referralkit.model",
    "Provider": "referralkit.model",
    "QueueCounts": "referralkit.tasks",
    "REPORT_JSON_SCHEMA": "referralkit.metrics",
    "ReasonForReferral": "referralkit.model",
    "ReceivedDocument": "referralkit.model",
    "Receiver": "referralkit.directory",
    "RecordsChannel": "referralkit.model",
    "RecordsRequest": "referralkit.model",
    "RecordsRequestStatus": "referralkit.model",
    "RecordsRules": "referralkit.outreach.policy",
    "RecordsSource": "referralkit.model",
    "Referral": "referralkit.model",
    "ReferralDesk": "referralkit.desk",
    "ReferralDocument": "referralkit.model",
    "OutboundStatus": "referralkit.model",
    "ReferralSide": "referralkit.model",
    "ReferralPackage": "referralkit.model",
    "ReportDisposition": "referralkit.model",
    "ReferralKitError": "referralkit.errors",
    "ReferralNotFoundError": "referralkit.errors",
    "ReferralNumberFormat": "referralkit.model",
    "ReferralStatus": "referralkit.model",
    "ReportDeliveryStatus": "referralkit.model",
    "RetryPolicy": "referralkit.outbox",
    "Role": "referralkit.model",
    "RoutingError": "referralkit.errors",
    "RoutingReport": "referralkit.routing",
    "RoutingStore": "referralkit.store",
    "RoutingSweepReport": "referralkit.routing",
    "RuleExplanation": "referralkit.routing",
    "RuleLoadError": "referralkit.errors",
    "ScenarioError": "referralkit.errors",
    "RuleRegistry": "referralkit.routing",
    "RuleSet": "referralkit.routing",
    "SAFE_ALPHABET": "referralkit.model",
    "SQLiteStore": "referralkit.adapters.sqlite",
    "ScriptedCaller": "referralkit.calls",
    "Seal": "referralkit.integrity",
    "SendRefusedError": "referralkit.errors",
    "SentReferralFacts": "referralkit.directory",
    "Slot": "referralkit.ports",
    "SlotList": "referralkit.ports",
    "SlotsRequest": "referralkit.ports",
    "SmsTooLongError": "referralkit.errors",
    "StatusAnswer": "referralkit.intake",
    "StatusCodes": "referralkit.lifecycle",
    "StatusReason": "referralkit.model",
    "Store": "referralkit.store",
    "StoreError": "referralkit.errors",
    "StoreURLError": "referralkit.errors",
    "StoredEvent": "referralkit.integrity",
    "StoredRecord": "referralkit.integrity",
    "SubStatus": "referralkit.lifecycle",
    "SweepReport": "referralkit.outreach.dispatch",
    "SystemClock": "referralkit.clock",
    "TOOLS_VERSION": "referralkit.calls",
    "TRIGGERS": "referralkit.lifecycle",
    "TamperReport": "referralkit.integrity",
    "TaskChange": "referralkit.model",
    "TaskCursor": "referralkit.tasks",
    "TaskError": "referralkit.errors",
    "TaskIndex": "referralkit.tasks",
    "TaskMirrorRequest": "referralkit.ports",
    "TaskNotFoundError": "referralkit.errors",
    "TaskPriority": "referralkit.model",
    "TaskQuery": "referralkit.tasks",
    "TaskRow": "referralkit.tasks",
    "TaskService": "referralkit.tasks",
    "TaskStateError": "referralkit.errors",
    "TaskStatus": "referralkit.model",
    "TaskSweepReport": "referralkit.tasks",
    "TelephonyAdapter": "referralkit.ports",
    "TimelineEntry": "referralkit.timeline",
    "ToolArgumentsError": "referralkit.errors",
    "ToolDefinition": "referralkit.calls",
    "ToolError": "referralkit.errors",
    "ToolNotPermittedError": "referralkit.errors",
    "ToolSet": "referralkit.calls",
    "TrackRecord": "referralkit.directory",
    "TransientAdapterError": "referralkit.errors",
    "TransitionBlockedError": "referralkit.errors",
    "Trigger": "referralkit.lifecycle",
    "TriggerDataError": "referralkit.errors",
    "UnitOfWork": "referralkit.desk.unit_of_work",
    "UnknownCallError": "referralkit.errors",
    "UsBusinessCalendar": "referralkit.calendar",
    "VerifiableStore": "referralkit.integrity",
    "VisitContent": "referralkit.calls",
    "VisitGuide": "referralkit.calls",
    "VisitPrepAnswer": "referralkit.calls",
    "VisitText": "referralkit.calls",
    "WebhookSignatureError": "referralkit.errors",
    "WeekdayCalendar": "referralkit.calendar",
    "WorkerStore": "referralkit.store",
    "allowed_triggers": "referralkit.lifecycle",
    "amended": "referralkit.lifecycle",
    "answer_visit_preparation": "referralkit.calls",
    "compute_metrics": "referralkit.metrics",
    "contact_refusal": "referralkit.outreach.guard",
    "created": "referralkit.lifecycle",
    "crosswalk": "referralkit.lifecycle",
    "crosswalk_referral": "referralkit.lifecycle",
    "default_rules": "referralkit.routing",
    "encode_event": "referralkit.events",
    "hookimpl": "referralkit.plugins",
    "hookspec": "referralkit.plugins",
    "idempotency_key": "referralkit.ports",
    "make_plugin_manager": "referralkit.plugins",
    "moot_closures": "referralkit.tasks",
    "next_routing_at": "referralkit.routing",
    "next_step": "referralkit.lifecycle",
    "next_step_for": "referralkit.lifecycle",
    "open_store": "referralkit.desk",
    "phrase": "referralkit.calls",
    "rank_receivers": "referralkit.directory",
    "read_back": "referralkit.calls",
    "referral_timeline": "referralkit.timeline",
    "replay": "referralkit.lifecycle.replay",
    "same_person": "referralkit.model",
    "scrub_errors": "referralkit.errors",
    "shared_lifecycle": "referralkit.lifecycle",
    "supported_operations": "referralkit.ports",
    "timeline": "referralkit.timeline",
    "tool_definitions": "referralkit.calls",
    "track_records": "referralkit.directory",
    "validate_intake": "referralkit.intake",
    "verify_all": "referralkit.integrity",
    "verify_history": "referralkit.events",
    "verify_referral": "referralkit.integrity",
}
"""The one export table: where each public name lives (``module`` or ``module:original``).

``__all__`` is built from it, and ``tests/test_package.py`` checks that the imports type
checkers see above name exactly these names from exactly these modules."""

__all__ = sorted([*_EXPORTS, "__version__"])

if not TYPE_CHECKING:  # hidden from type checkers: a misspelled name must be an error there

    def __getattr__(name: str) -> Any:
        # Lazy, as pluggy does for its version: referralkit's pytest plugin (``pytest11``) loads
        # this package into every pytest session wherever referralkit is installed, so importing
        # it must not build the whole API; each name is imported when first used, then cached.
        if name == "__version__":
            from referralkit._version import __version__

            return __version__
        where = _EXPORTS.get(name)
        if where is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        module, _, attribute = where.partition(":")  # "module:attribute" where renamed
        value = getattr(importlib.import_module(module), attribute or name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
