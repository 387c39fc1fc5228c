from __future__ import annotations

import email
import logging
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import attrs
import pytest

from referralkit.adapters.smtp import SmtpConfig, SmtpNotification, SmtpPlugin
from referralkit.clock import ManualClock
from referralkit.errors import PermanentAdapterError, TransientAdapterError
from referralkit.model import Channel, ReferralStatus, TaskPriority
from referralkit.ports import (
    Capability,
    PatientEmailRequest,
    PracticeDigestEntry,
    PracticeUpdateRequest,
    StaffAlertRequest,
    idempotency_key,
)
from referralkit.testing.conformance import PluginConformance

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
aiosmtpd_smtp = pytest.importorskip("aiosmtpd.smtp")

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
RID = UUID("00000000-0000-4000-8000-000000000007")


@attrs.define
class Recorder:
    """An aiosmtpd handler that records messages and fails on demand."""

    messages: list[tuple[str, list[str], Message]] = attrs.field(factory=list)
    logins: list[str] = attrs.field(factory=list)
    fail_next: list[str] = attrs.field(factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.fail_next:
            return self.fail_next.pop(0)
        parsed = email.message_from_bytes(envelope.content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append(auth_data.login.decode())
        ok = auth_data.password == b"s3cret"
        # handled=False: let the server send the 535 itself on a failure.
        return aiosmtpd_smtp.AuthResult(success=ok, handled=False)


@attrs.define
class Server:
    recorder: Recorder
    port: int
    cafile: Path | None


def _free_port() -> int:
    # aiosmtpd's readiness check connects to the configured port, so it cannot be 0.
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def _start(recorder: Recorder, **kwargs: Any) -> tuple[Any, int]:
    # The test server logs whole sessions at DEBUG; the PHI checks are about the adapter.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    port = _free_port()
    controller = aiosmtpd_controller.Controller(
        recorder, hostname="127.0.0.1", port=port, ready_timeout=10, **kwargs
    )
    controller.start()
    return controller, port


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # noqa: S603 - fixed arguments
        [  # noqa: S607 - found on PATH above
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(tls_files: tuple[Path, Path]) -> Iterator[Server]:
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    recorder = Recorder()
    controller, port = _start(
        recorder,
        tls_context=context,
        require_starttls=True,
        authenticator=recorder.authenticate,
        auth_required=True,
    )
    yield Server(recorder, port, cert)
    controller.stop()


@pytest.fixture
def plain_server() -> Iterator[Server]:
    recorder = Recorder()
    controller, port = _start(recorder)
    yield Server(recorder, port, None)
    controller.stop()


def tls_adapter(server: Server, password: str = "s3cret") -> SmtpNotification:  # noqa: S107
    assert server.cafile is not None
    config = SmtpConfig(
        host="127.0.0.1",
        port=server.port,
        sender="referrals@lakeside.example",
        username="clinic",
        password=password,
        ssl_context=ssl.create_default_context(cafile=str(server.cafile)),
        staff={"scheduling": ["desk@lakeside.example"]},
        domain="lakeside.example",
    )
    return SmtpNotification(config, clock=ManualClock(NOW))


def plain_adapter(server: Server) -> SmtpNotification:
    config = SmtpConfig(
        host="127.0.0.1",
        port=server.port,
        sender="referrals@lakeside.example",
        starttls=False,
        staff={"*": ["desk@lakeside.example"]},
    )
    return SmtpNotification(config, clock=ManualClock(NOW))


def patient_email(n: int = 1) -> PatientEmailRequest:
    return PatientEmailRequest(
        idempotency_key=idempotency_key(RID, "email", n),
        referral_id=RID,
        to="maria.oneil@example.org",
        template_id="reminder-email-v1",
        subject="Maria, your cardiology visit",
        body="Dear Maria,\nYour visit with Lakeside Cardiology is on Friday.",
    )


def parts(message: Message) -> dict[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode()
    return found


def test_patient_email_goes_over_starttls_with_login(tls_server: Server):
    adapter = tls_adapter(tls_server)
    receipt = adapter.email_patient(patient_email())
    [(sender, to, message)] = tls_server.recorder.messages
    assert (sender, to) == ("referrals@lakeside.example", ["maria.oneil@example.org"])
    assert tls_server.recorder.logins == ["clinic"]
    assert message["Message-ID"] == receipt.provider_ref
    assert receipt.idempotency_key in receipt.provider_ref
    bodies = parts(message)
    assert "Your visit with Lakeside Cardiology" in bodies["text/plain"]
    assert "Your visit with Lakeside Cardiology" in bodies["text/html"]


def test_subject_lines_hold_no_phi(tls_server: Server):
    adapter = tls_adapter(tls_server)
    adapter.email_patient(patient_email())
    subject = tls_server.recorder.messages[0][2]["Subject"]
    assert "Maria" not in subject
    assert "cardiology" not in subject.lower()
    assert (
        "Maria, your cardiology visit" in parts(tls_server.recorder.messages[0][2])["text/plain"]
    )


def test_wrong_password_is_permanent_and_sends_nothing(tls_server: Server):
    adapter = tls_adapter(tls_server, password="wrong")  # noqa: S106 - a test credential
    with pytest.raises(PermanentAdapterError, match="535"):
        adapter.email_patient(patient_email())
    assert tls_server.recorder.messages == []


def test_repeated_key_sends_one_email(plain_server: Server):
    adapter = plain_adapter(plain_server)
    first = adapter.email_patient(patient_email(2))
    again = adapter.email_patient(patient_email(2))
    assert again.duplicate
    assert again.provider_ref == first.provider_ref
    assert len(plain_server.recorder.messages) == 1


def test_staff_alert_goes_to_the_queue(plain_server: Server):
    adapter = plain_adapter(plain_server)
    request = StaffAlertRequest(
        idempotency_key=idempotency_key(RID, "alert"),
        referral_id=RID,
        task_id=UUID(int=5),
        queue="scheduling",
        title="Call the patient back",
        priority=TaskPriority.HIGH,
        due_at=NOW + timedelta(hours=4),
    )
    adapter.alert_staff(request)
    [(_, to, message)] = plain_server.recorder.messages
    assert to == ["desk@lakeside.example"]
    assert message["Subject"] == "[referralkit] Task waiting in scheduling"
    assert str(UUID(int=5)) in parts(message)["text/plain"]


def test_practice_update_by_email_and_not_by_fax(plain_server: Server):
    adapter = plain_adapter(plain_server)

    def update(channel: Channel, destination: str) -> PracticeUpdateRequest:
        return PracticeUpdateRequest(
            idempotency_key=idempotency_key(RID, f"update-{channel.value}"),
            referral_id=RID,
            practice_name="Maple Family Medicine",
            channel=channel,
            destination=destination,
            referral_number="R-7",
            status=ReferralStatus.SCHEDULED,
            appointment_at=NOW + timedelta(days=2),
        )

    adapter.update_practice(update(Channel.EMAIL, "front@maple.example"))
    assert plain_server.recorder.messages[0][2]["Subject"] == "Referral R-7 status update"
    with pytest.raises(PermanentAdapterError, match="fax"):
        adapter.update_practice(update(Channel.FAX, "+12175550100"))


def test_a_weekly_digest_lists_each_referral_and_its_milestones(plain_server: Server):
    adapter = plain_adapter(plain_server)
    other = UUID(int=9)
    entries = (
        PracticeDigestEntry(
            referral_id=RID,
            referral_number="R-7",
            status=ReferralStatus.CLOSED,
            milestones=("scheduled", "visit_completed"),
        ),
        PracticeDigestEntry(
            referral_id=other, status=ReferralStatus.SCHEDULED, milestones=("scheduled",)
        ),
    )
    adapter.update_practice(
        PracticeUpdateRequest(
            idempotency_key=idempotency_key(RID, "digest"),
            referral_id=RID,
            practice_name="Maple Family Medicine",
            channel=Channel.EMAIL,
            destination="front@maple.example",
            referral_number="R-7",
            status=ReferralStatus.CLOSED,
            milestone="weekly_digest",
            milestones=("scheduled", "visit_completed", "scheduled"),
            referrals=entries,
        )
    )
    [(_, to, message)] = plain_server.recorder.messages
    assert to == ["front@maple.example"]
    assert message["Subject"] == "Weekly referral update"
    text = parts(message)["text/plain"]
    assert "Referral R-7: scheduled, visit_completed (now closed)." in text
    assert f"Referral {other}: scheduled (now scheduled)." in text


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("451 4.3.0 Try again later", TransientAdapterError),
        ("550 5.1.1 No", PermanentAdapterError),
    ],
)
def test_server_replies_are_classified(plain_server: Server, reply: str, error: type[Exception]):
    adapter = plain_adapter(plain_server)
    plain_server.recorder.fail_next.append(reply)
    with pytest.raises(error) as caught:
        adapter.email_patient(patient_email(3))
    assert "maria" not in str(caught.value).lower()
    # Nothing was sent, so the same key may be tried again.
    assert not adapter.email_patient(patient_email(3)).duplicate


def test_unreachable_server_is_transient():
    port = _free_port()
    adapter = SmtpNotification(
        SmtpConfig(host="127.0.0.1", port=port, sender="a@b.example", timeout=2)
    )
    with pytest.raises(TransientAdapterError):
        adapter.email_patient(patient_email())


# -- Conformance ----------------------------------------------------------------------------------


@attrs.define
class SmtpFaults:
    recorder: Recorder

    def inject(self, capability: Capability, kind: Literal["transient", "permanent"]) -> None:
        assert capability == "notification"
        self.recorder.fail_next.append("451 4.3.0 later" if kind == "transient" else "554 5.0.0")


class TestSmtpConforms(PluginConformance):
    @staticmethod
    def _sender(hooks, operation, n=1):
        # SMTP cannot send printed letters, and the kit's practice update goes to a fax
        # number: both are refused (PermanentAdapterError) by design.
        if operation in ("send_letter", "update_practice"):
            pytest.skip(f"smtp does not support {operation} as the kit sends it")
        return PluginConformance._sender(hooks, operation, n)

    @pytest.fixture
    def conformance_server(self) -> Iterator[Server]:
        recorder = Recorder()
        controller, port = _start(recorder)
        yield Server(recorder, port, None)
        controller.stop()

    @pytest.fixture
    def conformance_plugin(self, conformance_server: Server) -> SmtpPlugin:
        return SmtpPlugin(plain_adapter(conformance_server))

    @pytest.fixture
    def conformance_faults(self, conformance_server: Server) -> SmtpFaults:
        return SmtpFaults(conformance_server.recorder)
