"""SMTP email notifications: a :class:`~referralkit.ports.NotificationAdapter` on ``smtplib``.

:class:`SmtpNotification` sends staff alerts, practice updates (to an email destination) and
patient emails as multipart messages with a plain-text and an HTML body. Subject lines never
carry PHI: they are fixed per operation (a patient email's template subject goes into the
body). Each message's ``Message-ID`` is derived from the idempotency key, and a key already
sent returns the first receipt marked ``duplicate`` without a second email. STARTTLS and
login are used when configured. SMTP 4xx replies and connection faults are transient, 5xx
replies permanent.

Letters cannot travel by email: :meth:`SmtpNotification.send_letter` and a practice update
to a fax destination raise :class:`~referralkit.errors.PermanentAdapterError`.

.. versionadded:: 0.1
"""

from __future__ import annotations

import html
import smtplib
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Final

import attrs

from referralkit.clock import Clock, SystemClock
from referralkit.errors import PermanentAdapterError, TransientAdapterError
from referralkit.model import Channel
from referralkit.plugins import hookimpl
from referralkit.ports import (
    LetterRequest,
    NotificationAdapter,
    PatientEmailRequest,
    PracticeUpdateRequest,
    Receipt,
    StaffAlertRequest,
)

__all__ = ["SmtpConfig", "SmtpNotification", "SmtpPlugin"]

_TRANSIENT_CODES: Final = range(400, 500)


@attrs.frozen
class SmtpConfig:
    """Where and how to send.

    :ivar starttls: upgrade the connection with STARTTLS before anything else (ignored with
        *implicit_tls*, which connects over TLS from the start, port 465).
    :ivar username: log in when set (after STARTTLS).
    :ivar staff: queue name to the addresses alerted for it; ``"*"`` is the fallback.
    :ivar domain: the right-hand side of generated ``Message-ID`` headers.

    .. versionadded:: 0.1
    """

    host: str
    sender: str
    port: int = 587
    starttls: bool = True
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    timeout: float = 10.0
    staff: Mapping[str, Sequence[str]] = attrs.field(factory=dict)
    domain: str = "referralkit.invalid"
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, repr=False)


def _message_id(key: str, domain: str) -> str:
    return f"<{key}@{domain}>"


@attrs.define
class SmtpNotification:
    """Send notifications by email over SMTP.

    .. versionadded:: 0.1
    """

    config: SmtpConfig
    name: str = "smtp"
    clock: Clock = attrs.field(factory=SystemClock)
    connect: Callable[..., smtplib.SMTP] | None = attrs.field(default=None, repr=False)
    """Opens the connection (tests and hosts may wrap it); defaults to :mod:`smtplib`."""
    _sent: dict[str, Receipt] = attrs.field(factory=dict, init=False, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    # -- port methods -------------------------------------------------------------------------

    def alert_staff(self, request: StaffAlertRequest) -> Receipt:
        """Email the queue's staff that a task waits (no PHI: the task id and queue only).

        :raises PermanentAdapterError: no address is configured for the queue.
        """
        recipients = self.config.staff.get(request.queue) or self.config.staff.get("*")
        if not recipients:
            raise PermanentAdapterError(
                "no staff address for the queue", adapter=self.name, operation="alert_staff"
            )
        due = request.due_at.strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            f"A {request.priority.value} task is waiting in the {request.queue} queue.",
            f"Task: {request.title}",
            f"Due: {due}",
            f"Task id: {request.task_id}",
        ]
        return self._send(
            request.idempotency_key,
            "alert_staff",
            list(recipients),
            f"[referralkit] Task waiting in {request.queue}",
            lines,
        )

    def update_practice(self, request: PracticeUpdateRequest) -> Receipt:
        """Email the referring practice where its referral stands.

        :raises PermanentAdapterError: the destination is not an email channel.
        """
        if request.channel is not Channel.EMAIL:
            raise PermanentAdapterError(
                f"smtp cannot deliver to a {request.channel.value} destination",
                adapter=self.name,
                operation="update_practice",
            )
        if request.referrals:
            # A weekly digest: one line per referral, its milestones in order.
            digest = [
                f"Referral {e.referral_number or e.referral_id}: {', '.join(e.milestones)}"
                f" (now {e.status.value})."
                for e in request.referrals
            ]
            return self._send(
                request.idempotency_key,
                "update_practice",
                [request.destination],
                "Weekly referral update",
                [f"This week's referral updates for {request.practice_name}:", *digest],
            )
        number = request.referral_number or str(request.referral_id)
        lines = [
            f"Referral {number} for {request.practice_name}: {request.status.value}.",
        ]
        if request.reason_code:
            lines.append(f"Reason: {request.reason_code}")
        if request.appointment_at is not None:
            lines.append(f"Appointment: {request.appointment_at:%Y-%m-%d %H:%M UTC}")
        return self._send(
            request.idempotency_key,
            "update_practice",
            [request.destination],
            f"Referral {number} status update",
            lines,
        )

    def email_patient(self, request: PatientEmailRequest) -> Receipt:
        """Email the patient; the template's subject heads the body, never the subject line."""
        lines = [request.subject, "", *request.body.splitlines()]
        return self._send(
            request.idempotency_key,
            "email_patient",
            [request.to],
            "A message about your referral",
            lines,
        )

    def send_letter(self, request: LetterRequest) -> Receipt:
        """Refuse: a printed letter cannot be sent by email.

        :raises PermanentAdapterError: always.
        """
        raise PermanentAdapterError(
            "smtp cannot send printed letters", adapter=self.name, operation="send_letter"
        )

    # -- sending ------------------------------------------------------------------------------

    def _send(
        self, key: str, operation: str, to: list[str], subject: str, lines: list[str]
    ) -> Receipt:
        with self._lock:
            first = self._sent.get(key)
            if first is not None:
                return first.model_copy(update={"duplicate": True})
            now = self.clock.now()
            message = EmailMessage()
            message["From"] = self.config.sender
            message["To"] = ", ".join(to)
            message["Subject"] = subject
            message["Date"] = format_datetime(now)
            message["Message-ID"] = _message_id(key, self.config.domain)
            message.set_content("\n".join(lines) + "\n")
            body = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
            message.add_alternative(f"<html><body>{body}</body></html>", subtype="html")
            self._deliver(message, operation)
            receipt = Receipt(
                idempotency_key=key,
                provider_ref=_message_id(key, self.config.domain),
                accepted_at=now,
            )
            self._sent[key] = receipt
            return receipt

    def _open(self) -> smtplib.SMTP:
        cfg = self.config
        if self.connect is not None:
            return self.connect(cfg.host, cfg.port, timeout=cfg.timeout)
        if cfg.implicit_tls:
            context = cfg.ssl_context or ssl.create_default_context()
            return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
        return smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)

    def _deliver(self, message: EmailMessage, operation: str) -> None:
        cfg = self.config
        try:
            with self._open() as smtp:
                if cfg.starttls and not cfg.implicit_tls:
                    smtp.starttls(context=cfg.ssl_context or ssl.create_default_context())
                if cfg.username is not None:
                    smtp.login(cfg.username, cfg.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            kind = (
                TransientAdapterError
                if all(c in _TRANSIENT_CODES for c in codes)
                else PermanentAdapterError
            )
            # The refused addresses are PHI: neither they nor the reply text go in the error.
            raise kind(
                f"the server refused the recipient ({codes[0] if codes else 'no code'})",
                adapter=self.name,
                operation=operation,
            ) from None
        except smtplib.SMTPResponseException as exc:
            kind = (
                TransientAdapterError
                if exc.smtp_code in _TRANSIENT_CODES
                else (PermanentAdapterError)
            )
            raise kind(
                f"the server answered {exc.smtp_code}", adapter=self.name, operation=operation
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientAdapterError(
                f"the mail server could not be reached ({type(exc).__name__})",
                adapter=self.name,
                operation=operation,
            ) from None


@attrs.define
class SmtpPlugin:
    """A plugin providing one :class:`SmtpNotification` through the provider hook.

    .. versionadded:: 0.1
    """

    adapter: SmtpNotification

    @hookimpl
    def referralkit_register_notification_adapters(self) -> Sequence[NotificationAdapter]:
        """Provide the SMTP adapter."""
        return [self.adapter]
