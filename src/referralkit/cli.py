"""The ``referralkit`` command: thin; it parses arguments, calls the library and prints.

Built on click; tables and progress bars use rich when the ``cli`` extra is installed, and the
same text without it. Heavy modules are imported inside each command so ``referralkit
--help`` starts fast. ``docs/cli.md`` documents every command, the config file, the ``--json``
schema and the exit codes (:data:`EXIT_CODES`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

if TYPE_CHECKING:
    from referralkit.config import Settings
    from referralkit.desk import ReferralDesk
    from referralkit.model import Referral
    from referralkit.store import Store

__all__ = ["EXIT_CODES", "main"]

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_CONFIG: Final = 3
EXIT_NOT_FOUND: Final = 4
EXIT_VERIFY_FAILED: Final = 5
EXIT_INTERRUPTED: Final = 130
EXIT_CODES: Final = {
    EXIT_OK: "success",
    EXIT_ERROR: "referralkit reported an error (store, adapter, lifecycle); the message says why",
    EXIT_USAGE: "usage error: unknown command, bad option or argument",
    EXIT_CONFIG: "the configuration file is missing or invalid",
    EXIT_NOT_FOUND: "no such referral",
    EXIT_VERIFY_FAILED: "verify found a referral whose history fails verification",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}
"""Every exit status the command uses, and what it means."""


# -- output ------------------------------------------------------------------------------------


def _rich_console(stderr: bool = False) -> Any | None:
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(highlight=False, soft_wrap=True, stderr=stderr)


def _writer() -> Callable[[str], None]:
    # With the ``cli`` extra (rich) installed, headings are set in bold on a terminal; the text
    # is the same either way, so scripts reading the output see no difference.
    console = _rich_console()
    if console is None:
        return print

    def write(line: str) -> None:
        heading = line.startswith(("\nREF-", "\nDatabase:"))
        console.print(line, style="bold" if heading else None, markup=False)

    return write


def _print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    console = _rich_console()
    if console is not None and console.is_terminal:
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for index, header in enumerate(headers):
            table.add_column(header, justify="left" if index == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    # Plain, aligned text: the same content, for pipes and for hosts without rich.
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    click.echo(title)
    for line in (headers, *rows):
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        click.echo("  " + "  ".join(cells).rstrip())
    click.echo()


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int, int | None], None]]:
    """Yield a progress callback: a rich bar on a terminal's stderr, else nothing."""
    console = _rich_console(stderr=True) if enabled else None
    if console is None or not console.is_terminal:
        yield lambda _done, _total: None
        return
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


# -- context: config, store and desk, built on demand ----------------------------------------


class _State:
    def __init__(
        self, config: Path | None, store_url: str | None, show_phi: bool, tenant: str
    ) -> None:
        self.config = config
        self.store_url = store_url
        self.show_phi = show_phi
        self.tenant = tenant
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from referralkit.config import load_settings

            self._settings = load_settings(self.config)
        return self._settings

    def url(self) -> str:
        return self.store_url or self.settings.store_url

    def open_store(self) -> Store:
        from referralkit.desk.stores import open_store
        from referralkit.errors import InvalidTenantError

        try:
            return open_store(self.url(), tenant=self.tenant)
        except InvalidTenantError as exc:
            raise click.UsageError(f"--tenant: {exc}") from None
        except ValueError as exc:
            raise click.UsageError(
                f"{exc} (set [store] url in the config or pass --store)"
            ) from None

    def open_desk(self, *, plugins: bool = True) -> ReferralDesk:
        from referralkit.desk import ReferralDesk
        from referralkit.plugins import Hooks, make_plugin_manager

        settings = self.settings
        desk = ReferralDesk(
            store=self.open_store(),
            hooks=Hooks(make_plugin_manager(load_entrypoints=plugins)),
            outreach=self.outreach_settings(),
        )
        if settings.rules is not None:
            desk.routing_rules.load_path(settings.rules)
        return desk

    def outreach_settings(self) -> Any:
        settings = self.settings
        if not settings.outreach_enabled:
            return None
        from referralkit.outreach.dispatch import OutreachSettings

        if settings.outreach_policy is None:
            return OutreachSettings()
        from referralkit.config import read_toml
        from referralkit.outreach import policy_from_mapping

        return OutreachSettings(policy=policy_from_mapping(read_toml(settings.outreach_policy)))


def _state(ctx: click.Context) -> _State:
    state = ctx.find_object(_State)
    assert state is not None  # noqa: S101 - the group always sets it
    return state


class _Group(click.Group):
    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            choices = ", ".join(self.list_commands(ctx))
            raise click.UsageError(f"invalid choice: {name!r} (choose from {choices})", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="REFERRALKIT_CONFIG",
    help="Config file (default: ./referralkit.toml when it exists).",
)
@click.option(
    "--store",
    "store_url",
    envvar="REFERRALKIT_STORE",
    help="Store URL, overriding the config (sqlite:///x.db, postgresql://..., memory://).",
)
@click.option(
    "--show-phi", is_flag=True, help="Show patient details and free text (masked by default)."
)
@click.option(
    "--tenant",
    envvar="REFERRALKIT_TENANT",
    default="default",
    show_default=True,
    help="The practice (tenant) whose referrals every command reads and writes.",
)
@click.pass_context
def app(
    ctx: click.Context, config: Path | None, store_url: str | None, show_phi: bool, tenant: str
) -> None:
    """Referral management: keep referred patients from getting lost."""
    ctx.obj = _State(config, store_url, show_phi, tenant)


# -- commands that need no store --------------------------------------------------------------


@app.command()
@click.argument("path", required=False, type=click.Path(path_type=Path, dir_okay=False))
def demo(path: Path | None) -> int:
    """Run four demo referrals through the lifecycle on a SQLite file."""
    import tempfile

    from referralkit.demo import run_demo

    write = _writer()
    if path is not None:
        run_demo(path, write=write)
    else:
        with tempfile.TemporaryDirectory(prefix="referralkit-demo-") as tmp:
            run_demo(Path(tmp) / "demo.db", write=write)
    return EXIT_OK


@app.command()
def version() -> int:
    """Print the installed version."""
    from referralkit._version import __version__

    click.echo(__version__)
    return EXIT_OK


@app.command()
def lifecycle() -> int:
    """Print the lifecycle state and trigger tables."""
    from referralkit.reference import lifecycle_tables

    click.echo(lifecycle_tables(), nl=False)
    return EXIT_OK


# -- status and list ----------------------------------------------------------------------------


def _find(store: Store, ref: str) -> Referral:
    from uuid import UUID

    from referralkit.errors import ReferralNotFoundError
    from referralkit.model import ReferralStatus

    try:
        return store.get(UUID(ref))
    except ValueError:
        pass
    after = None
    while True:
        page = store.list_by_status(list(ReferralStatus), limit=500, after=after)
        for referral in page:
            if referral.referral_number == ref:
                return referral
        if len(page) < 500:
            raise ReferralNotFoundError(ref)  # type: ignore[arg-type]
        after = page[-1].id


def _patient_label(referral: Referral, show_phi: bool) -> str:
    patient = referral.patient
    if patient is None:
        return "-"
    if not show_phi:
        return "[withheld]"
    born = f", born {patient.birth_date}" if patient.birth_date else ""
    return f"{patient.given_name} {patient.family_name}{born}"


@app.command()
@click.argument("referral")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def status(ctx: click.Context, referral: str, as_json: bool) -> int:
    """Show a referral's state, owner, next step and timeline (by id or referral number)."""
    import json

    from referralkit.lifecycle import allowed_triggers
    from referralkit.model import TaskStatus
    from referralkit.timeline import referral_timeline

    state = _state(ctx)
    store = state.open_store()
    try:
        found = _find(store, referral)
        entries = referral_timeline(store, found.id, show_phi=state.show_phi)
    finally:
        store.close()
    open_tasks = [t for t in found.tasks if t.status is TaskStatus.OPEN]
    owner = ", ".join(sorted({t.queue for t in open_tasks})) or "-"
    next_at = found.next_action_at.isoformat() if found.next_action_at else None
    triggers = list(allowed_triggers(found))
    if as_json:
        payload = {
            "id": str(found.id),
            "referral_number": found.referral_number,
            "status": found.state,
            "specialty": found.specialty,
            "priority": found.priority.value,
            "owner_queues": sorted({t.queue for t in open_tasks}),
            "next_action_at": next_at,
            "allowed_triggers": triggers,
            "timeline": [e.as_json() for e in entries],
        }
        if state.show_phi:
            payload["patient"] = _patient_label(found, True)
        click.echo(json.dumps(payload, indent=2))
        return EXIT_OK
    click.echo(f"{found.referral_number or found.id}  {found.state}")
    click.echo(f"  id:         {found.id}")
    click.echo(f"  patient:    {_patient_label(found, state.show_phi)}")
    click.echo(f"  specialty:  {found.specialty or '-'}, priority {found.priority.value}")
    click.echo(
        f"  owner:      {owner}" + (f" ({len(open_tasks)} open tasks)" if open_tasks else "")
    )
    click.echo(
        f"  next step:  {next_at or 'none scheduled'}; may now: {', '.join(triggers) or '-'}"
    )
    click.echo("  timeline:")
    for entry in entries:
        click.echo(f"    {entry.line()}")
    return EXIT_OK


@app.command(name="list")
@click.option("--status", "statuses", multiple=True, help="Only these statuses (repeatable).")
@click.option("--specialty", help="Only this specialty.")
@click.option("--practice", help="Only this referring practice (id or name).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def list_(
    ctx: click.Context,
    statuses: tuple[str, ...],
    specialty: str | None,
    practice: str | None,
    limit: int,
    as_json: bool,
) -> int:
    """List referrals, filtered by status, specialty and referring practice."""
    import json

    from referralkit.metrics import group_value
    from referralkit.model import ReferralStatus

    try:
        wanted = [ReferralStatus(s) for s in statuses] or list(ReferralStatus)
    except ValueError as exc:
        known = ", ".join(s.value for s in ReferralStatus)
        raise click.BadParameter(
            f"{exc}; known statuses: {known}", param_hint="--status"
        ) from None
    state = _state(ctx)
    store = state.open_store()
    found: list[Referral] = []
    after = None
    try:
        while len(found) < limit:
            page = store.list_by_status(wanted, limit=500, after=after)
            found += [
                r
                for r in page
                if (specialty is None or r.specialty == specialty)
                and (
                    practice is None
                    or group_value(r, "practice") == practice
                    or (r.referring_practice is not None and r.referring_practice.name == practice)
                )
            ]
            if len(page) < 500:
                break
            after = page[-1].id
    finally:
        store.close()
    found = found[:limit]
    rows = [
        {
            "id": str(r.id),
            "referral_number": r.referral_number,
            "status": r.state,
            "specialty": r.specialty,
            "priority": r.priority.value,
            "practice": group_value(r, "practice"),
            "next_action_at": r.next_action_at.isoformat() if r.next_action_at else None,
            **({"patient": _patient_label(r, True)} if state.show_phi else {}),
        }
        for r in found
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return EXIT_OK
    headers = ["Referral", "Status", "Specialty", "Priority", "Practice", "Next action"]
    table: list[list[str]] = [
        [str(r["referral_number"] or r["id"]), str(r["status"]), str(r["specialty"] or "-"),
         str(r["priority"]), str(r["practice"]), str(r["next_action_at"] or "-")]
        for r in rows
    ]  # fmt: skip
    if state.show_phi:
        headers.append("Patient")
        for line, r in zip(table, rows, strict=True):
            line.append(str(r["patient"]))
    _print_table(f"{len(rows)} referrals", headers, table)
    return EXIT_OK


# -- tasks and queues ---------------------------------------------------------------------------


@app.command()
@click.option("--queue", help="Only this queue (e.g. scheduling).")
@click.option("--assignee", help="Only tasks this staff member holds ('my work').")
@click.option("--limit", default=50, show_default=True, help="At most this many tasks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def tasks(
    ctx: click.Context, queue: str | None, assignee: str | None, limit: int, as_json: bool
) -> int:
    """List open work, most urgent first, then by due time."""
    import json

    state = _state(ctx)
    with state.open_desk(plugins=False) as desk:
        rows = desk.tasks(queue=queue, assignee=assignee, limit=limit)
    found = [
        {
            "task_id": str(r.task_id),
            "referral_id": str(r.referral_id),
            "queue": r.queue,
            "status": r.status.value,
            "priority": r.priority.value,
            "due_at": r.due_at.isoformat(),
            "title": r.title,
            "assignee": r.assignee,
            "moot": r.moot,
        }
        for r in rows
    ]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return EXIT_OK
    table = [
        [str(r["queue"]), str(r["priority"]), str(r["status"]), str(r["due_at"]),
         str(r["title"]), str(r["assignee"] or "-")]
        for r in found
    ]  # fmt: skip
    headers = ["Queue", "Priority", "Status", "Due", "Task", "Assignee"]
    _print_table(f"{len(found)} tasks", headers, table)
    return EXIT_OK


@app.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def queues(ctx: click.Context, as_json: bool) -> int:
    """Show each queue's open, overdue and due-today counts and its oldest task."""
    import json

    state = _state(ctx)
    with state.open_desk(plugins=False) as desk:
        counts = desk.queue_counts()
    found = [
        {
            "queue": c.queue,
            "open": c.open,
            "overdue": c.overdue,
            "due_today": c.due_today,
            "oldest": c.oldest.isoformat() if c.oldest else None,
        }
        for c in sorted(counts.values(), key=lambda c: c.queue)
    ]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return EXIT_OK
    table = [
        [str(c["queue"]), str(c["open"]), str(c["overdue"]), str(c["due_today"]),
         str(c["oldest"] or "-")]
        for c in found
    ]  # fmt: skip
    _print_table("Queues", ["Queue", "Open", "Overdue", "Due today", "Oldest"], table)
    return EXIT_OK


# -- sweep --------------------------------------------------------------------------------------


def _instant(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            "use an ISO date or date-time, e.g. 2026-03-01 or 2026-03-01T09:00+00:00",
            param_hint=option,
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@app.command()
@click.option("--at", "at_text", help="Sweep as of this instant (ISO; default: now).")
@click.option("--dry-run", is_flag=True, help="Show what is due; change and send nothing.")
@click.option("--routing/--no-routing", default=True, show_default=True, help="Also run routing.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on a terminal.")
@click.pass_context
def sweep(
    ctx: click.Context, at_text: str | None, dry_run: bool, routing: bool, progress: bool
) -> int:
    """Run due routing and outreach work (call it from cron or a scheduler)."""
    from referralkit.clock import SystemClock

    state = _state(ctx)
    at = _instant(at_text, "--at") or SystemClock().now()
    if dry_run:
        return _dry_run(state, at)
    with state.open_desk() as desk:
        routed = desk.sweep_routing(at) if routing else None
        with _progress("Outreach sweep", progress) as report_progress:
            report = desk.sweep(at, routing=False, progress=report_progress)
    rows = [[name, str(count)] for name, count in report.summary().items()]
    if routed is not None:
        rows += [["routing: examined", str(routed.examined)],
                 ["routing: decisions applied", str(routed.decisions)],
                 ["routing: failures", str(routed.failures)]]  # fmt: skip
    if desk.outreach is None:
        rows.append(["outreach", "off (enable [outreach] in the config)"])
    _print_table(f"Sweep at {at.isoformat()}", ["", "count"], rows)
    return EXIT_OK


def _dry_run(state: _State, at: datetime) -> int:
    from referralkit.outreach.planner import plan

    settings = state.outreach_settings()
    if settings is None:
        click.echo("outreach is off (enable [outreach] in the config): nothing would be sent")
        return EXIT_OK
    store = state.open_store()
    rows: list[list[str]] = []
    after: tuple[datetime, Any] | None = None
    try:
        while True:
            page = store.due(at, limit=200, after=after)
            for referral in page:
                planned = plan(referral, store.events(referral.id), settings.policy,
                               settings.calendar, at)  # fmt: skip
                for action in planned.due(at):
                    channel = action.channel.value if action.channel else "-"
                    rows.append([referral.referral_number or str(referral.id), action.action,
                                 channel, action.key])  # fmt: skip
            if len(page) < 200:
                break
            last = page[-1]
            assert last.next_action_at is not None  # noqa: S101 - due() returns only these
            after = (last.next_action_at, last.id)
    finally:
        store.close()
    _print_table(f"Dry run at {at.isoformat()}: {len(rows)} due actions (nothing sent)",
                 ["Referral", "Action", "Channel", "Step"], rows)  # fmt: skip
    return EXIT_OK


# -- report -------------------------------------------------------------------------------------


def _day_or_instant(value: str, option: str) -> datetime:
    parsed = _instant(value, option)
    assert parsed is not None  # noqa: S101 - value is required
    return parsed


@app.command()
@click.option("--since", required=True, help="First day (or instant) of the window, included.")
@click.option("--until", required=True, help="End of the window, excluded (e.g. 2026-04-01).")
@click.option(
    "--by",
    "dimensions",
    multiple=True,
    type=click.Choice(["practice", "specialty", "priority", "payer", "channel", "call_type"]),
    help="Group by (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (docs/cli.md).")
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a self-contained HTML report to this file.")  # fmt: skip
@click.option("--progress/--no-progress", default=True, help="Progress bar on a terminal.")
@click.pass_context
def report(
    ctx: click.Context,
    since: str,
    until: str,
    dimensions: tuple[str, ...],
    as_json: bool,
    html_path: Path | None,
    progress: bool,
) -> int:
    """Compute the metrics for referrals received in a window (docs/metrics.md)."""
    import json

    from referralkit.metrics import Cms50Period, MetricsConfig, compute_metrics

    state = _state(ctx)
    start, end = _day_or_instant(since, "--since"), _day_or_instant(until, "--until")
    if end <= start:
        raise click.BadParameter("must be after --since", param_hint="--until")
    settings = state.settings
    config = MetricsConfig(start, end, unbooked_sla=settings.unbooked_sla,
                           value_per_visit=settings.value_per_visit)  # fmt: skip
    by = list(dict.fromkeys(dimensions))
    if html_path is not None:
        by += [d for d in ("practice", "specialty") if d not in by]
    period = Cms50Period(start, end)
    store = state.open_store()
    try:
        with _progress("Reading events", progress and not as_json) as update:
            result = compute_metrics(
                store,
                config,
                by=by,  # type: ignore[arg-type]
                cms50=period if period.cutoff > start else None,
                progress=update,
            )
    finally:
        store.close()
    if html_path is not None:
        from referralkit.metrics.html import render_html

        html_path.write_text(render_html(result), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2, sort_keys=True))
        return EXIT_OK
    _print_report(result)
    if html_path is not None:
        click.echo(f"HTML report written to {html_path}")
    return EXIT_OK


def _print_report(result: Any) -> None:
    from referralkit.metrics.html import format_duration, format_rate

    m = result.overall
    _print_table(
        f"Referrals received {result.config.since:%Y-%m-%d} to {result.config.until:%Y-%m-%d}",
        ["Metric", "Value"],
        [
            ["received", str(m.received)],
            ["booked", f"{m.booked} ({format_rate(m.booking_rate)})"],
            ["seen", f"{m.seen} ({format_rate(m.completion_rate)})"],
            ["leaked", f"{m.leaked} ({format_rate(m.leakage_rate)})"],
            ["loop closed", f"{m.closed} ({format_rate(m.loop_closure_rate)} of seen)"],
            ["median to booking", format_duration(m.time_to_booked.median_seconds)],
            ["p90 to booking", format_duration(m.time_to_booked.p90_seconds)],
            ["median to first outreach", format_duration(m.time_to_first_outreach.median_seconds)],
            ["no-show rate", format_rate(m.no_show_rate)],
            [
                "attempts per booking",
                "-" if m.attempts_per_booking is None else f"{m.attempts_per_booking:.2f}",
            ],
            ["entered in error (excluded)", str(result.excluded_entered_in_error)],
        ],
    )
    if m.leak_reasons:
        _print_table("Leakage reasons", ["Reason", "Referrals"],
                     [[k, str(v)] for k, v in m.leak_reasons.items()])  # fmt: skip
    for dimension, groups in result.groups.items():
        _print_table(
            f"By {dimension}",
            [dimension, "received", "booked", "seen", "leakage"],
            [[value, str(g.received), format_rate(g.booking_rate),
              format_rate(g.completion_rate), format_rate(g.leakage_rate)]
             for value, g in groups.items()],
        )  # fmt: skip
    if result.queues:
        _print_table(
            "Queues",
            ["queue", "opened", "overdue", "SLA breaches", "escalations"],
            [[name, str(q.opened), str(q.overdue), str(q.sla_breaches), str(q.escalations)]
             for name, q in result.queues.items()],
        )  # fmt: skip
    cms50 = result.cms50
    if cms50 is not None:
        click.echo(
            f"CMS50 (MIPS 374): {cms50.numerator}/{cms50.denominator} "
            f"({format_rate(cms50.rate)}); referral cut-off {cms50.period.cutoff:%Y-%m-%d}"
        )


# -- verify and migrate --------------------------------------------------------------------------


@app.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on a terminal.")
@click.pass_context
def verify(ctx: click.Context, as_json: bool, progress: bool) -> int:
    """Verify every referral's hash-chained history, streamed referral by referral."""
    import json

    from referralkit.errors import HistoryTamperedError
    from referralkit.events import verify_history
    from referralkit.model import ReferralStatus

    state = _state(ctx)
    store = state.open_store()
    failures: list[dict[str, Any]] = []
    checked = 0
    try:
        total = sum(store.count_by_status().values())
        with _progress("Verifying histories", progress and not as_json) as update:
            after = None
            while True:
                page = store.list_by_status(list(ReferralStatus), limit=500, after=after)
                for referral in page:
                    try:
                        verify_history(store.events(referral.id), expected_count=referral.version,
                                       expected_head=referral.history_hash)  # fmt: skip
                    except HistoryTamperedError as exc:
                        failures.append(
                            {"id": str(referral.id), "seq": exc.seq, "reason": exc.reason}
                        )
                    checked += 1
                    update(checked, total)
                if len(page) < 500:
                    break
                after = page[-1].id
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"checked": checked, "failures": failures}, indent=2))
    else:
        for failure in failures:
            click.echo(f"TAMPERED {failure['id']} at event {failure['seq']}: {failure['reason']}")
        click.echo(f"{checked} referrals checked, {len(failures)} failed verification")
    return EXIT_VERIFY_FAILED if failures else EXIT_OK


@app.command()
@click.option(
    "--jobs", is_flag=True, help="Also create the worker's job tables (PostgreSQL, worker extra)."
)
@click.pass_context
def migrate(ctx: click.Context, jobs: bool) -> int:
    """Bring the store's schema up to this release (opening a store migrates it).

    On PostgreSQL the migration holds an advisory lock: two migrators never race.
    """
    state = _state(ctx)
    store = state.open_store()
    try:
        schema = getattr(store, "schema_version", None)
        store_schema = getattr(store, "schema", None)
    finally:
        store.close()
    if schema is None:
        click.echo(f"{type(store).__name__} keeps no schema: nothing to migrate")
    else:
        click.echo(f"{type(store).__name__}: schema version {schema} (up to date)")
    if jobs:
        if not state.url().startswith(("postgresql://", "postgres://")):
            raise click.UsageError("--jobs needs a PostgreSQL store (the job tables live there)")
        from referralkit.worker.engine import WorkerSettings, apply_job_schema

        made = apply_job_schema(WorkerSettings(state.url(), schema=store_schema))
        click.echo("job tables created" if made else "job tables present (up to date)")
    return EXIT_OK


@app.command()
@click.option(
    "--concurrency", default=1, show_default=True, help="Jobs this process runs at once."
)
@click.option(
    "--schedule-every", default=10, show_default=True, help="Seconds between schedule ticks."
)
@click.option(
    "--routing-every", default=30, show_default=True, help="Seconds between routing sweeps."
)
@click.option("--name", help="This worker's name in the job tables (default: generated).")
@click.option("--serve-tenant", "serve", multiple=True,
              help="Serve only this tenant (repeatable; default: every tenant).")  # fmt: skip
@click.pass_context
def worker(
    ctx: click.Context,
    concurrency: int,
    schedule_every: int,
    routing_every: int,
    name: str | None,
    serve: tuple[str, ...],
) -> int:
    """Run a worker: outreach and routing as jobs on PostgreSQL, until SIGTERM.

    One fleet serves every tenant in the database. Start as many as the load needs, on one
    machine or several (docs/deployment.md).
    """
    state = _state(ctx)
    url = state.url()
    if not url.startswith(("postgresql://", "postgres://")):
        raise click.UsageError("a worker needs a PostgreSQL store (--store postgresql://...)")
    try:
        from referralkit.worker.engine import WorkerSettings, run_worker
    except ImportError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        settings = WorkerSettings(
            url,
            concurrency=concurrency,
            schedule_every=schedule_every,
            routing_every=routing_every,
            tenants=serve or None,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not state.settings.outreach_enabled:
        click.echo("outreach is off (enable [outreach] in the config): routing only", err=True)
    run_worker(state.open_desk, settings, name=name)
    return EXIT_OK


@app.command()
@click.option("--at", "at_text", help="Measure as of this instant (ISO; default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--all-tenants", is_flag=True,
              help="Admin read: every tenant's figures and their fleet-wide total.")  # fmt: skip
@click.pass_context
def health(ctx: click.Context, at_text: str | None, as_json: bool, all_tenants: bool) -> int:
    """Show the workers' backlog: due referrals, lag, leases, interrupted sends, jobs."""
    import json

    from referralkit.clock import SystemClock
    from referralkit.worker.health import admin_fleet_health, health_by_tenant
    from referralkit.worker.health import health as measure

    state = _state(ctx)
    at = _instant(at_text, "--at") or SystemClock().now()
    store = state.open_store()
    try:
        jobs: dict[str, int] = {}
        if state.url().startswith(("postgresql://", "postgres://")):
            try:
                from referralkit.worker.engine import WorkerSettings, job_counts
            except ImportError:
                pass  # no worker extra: no job tables to count
            else:
                settings = WorkerSettings(state.url(), schema=getattr(store, "schema", None))
                jobs = dict(job_counts(settings))
        try:
            if all_tenants:
                figures = admin_fleet_health(store, at, jobs=jobs)
                each = health_by_tenant(store, at)
            else:
                figures = measure(store, at, jobs=jobs)
                each = {}
        except TypeError as exc:
            raise click.UsageError(str(exc)) from None
    finally:
        store.close()
    values = figures.as_dict()
    if all_tenants:
        values["tenants"] = {tenant: h.as_dict() for tenant, h in each.items()}
    if as_json:
        click.echo(json.dumps(values, indent=2))
        return EXIT_OK
    skip = ("at", "jobs", "tenants")
    rows = [[key, str(value)] for key, value in values.items() if key not in skip]
    rows += [[f"jobs {status}", str(n)] for status, n in figures.jobs.items()]
    title = "All tenants" if all_tenants else "Health"
    _print_table(f"{title} at {at.isoformat()}", ["", "value"], rows)
    if all_tenants:
        per = [
            [t, str(h.backlog.due), str(h.lag.total_seconds()), str(h.backlog.leases_expired),
             str(h.queued_actions)]
            for t, h in each.items()
        ]  # fmt: skip
        _print_table("By tenant", ["tenant", "due", "lag s", "expired", "queued"], per)
    return EXIT_OK


@app.command()
@click.argument("scenarios", nargs=-1, required=True)
@click.option("--runs", default=10, show_default=True, type=click.IntRange(min=1),
              help="Seeded replications per scenario.")  # fmt: skip
@click.option("--seed", default=0, show_default=True, type=int, help="The first seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a self-contained HTML comparison to this file.")  # fmt: skip
@click.option("--progress/--no-progress", default=True, help="Progress on stderr.")
def simulate(
    scenarios: tuple[str, ...],
    runs: int,
    seed: int,
    as_json: bool,
    html_path: Path | None,
    progress: bool,
) -> int:
    """Run what-if SCENARIOS (files or built-in names) and compare them (docs/simulate.md)."""
    import json

    from referralkit.simulate import simulate as run_simulation

    def report(done: int, total: int) -> None:
        if progress:
            click.echo(f"simulate: {done}/{total} replications", err=True)

    comparison = run_simulation(list(scenarios), runs=runs, seed=seed, progress=report)
    if html_path is not None:
        html_path.write_text(comparison.html(), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(comparison.as_json(), indent=2, sort_keys=True))
        return EXIT_OK
    click.echo(comparison.text())
    if html_path is not None:
        click.echo(f"HTML comparison written to {html_path}")
    return EXIT_OK


# -- entry point -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status (see :data:`EXIT_CODES`)."""
    from referralkit.errors import ConfigError, ReferralKitError, ReferralNotFoundError

    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        result = app.main(args=args, prog_name="referralkit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("referralkit: interrupted", err=True)
        return EXIT_INTERRUPTED
    except ConfigError as exc:
        click.echo(f"referralkit: config: {exc}", err=True)
        return EXIT_CONFIG
    except ReferralNotFoundError as exc:
        click.echo(f"referralkit: {exc}; `referralkit list` shows what is stored", err=True)
        return EXIT_NOT_FOUND
    except ReferralKitError as exc:
        click.echo(f"referralkit: {exc}", err=True)
        return EXIT_ERROR
    return result if isinstance(result, int) else EXIT_OK
