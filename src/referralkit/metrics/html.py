"""Render a :class:`~referralkit.metrics.MetricsReport` as one self-contained HTML page.

No network: the styles are inline, the charts are inline SVG (readable without JavaScript, each
with a ``<title>``, a description and a table holding the same numbers), and the page prints on
paper. Every figure carries a ``data-metric`` attribute naming its path in the ``--json``
output, so a test can check the page against the JSON.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Final

from referralkit.metrics.report import GroupMetrics, MetricsReport
from referralkit.metrics.stats import DurationStats

__all__ = ["format_duration", "format_rate", "render_comparison_html", "render_html"]

_STYLE: Final = """
:root { --ink: #1b1f24; --muted: #4a5561; --bar: #2f6f9f; --leak: #a4442f; --line: #c9d1d9; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 2rem auto; max-width: 64rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem;
     margin-top: 2rem; }
.window { color: var(--muted); margin-top: 0; }
dl.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr));
          gap: .75rem; }
dl.kpis div { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; }
dl.kpis dt { color: var(--muted); font-size: .85rem; }
dl.kpis dd { margin: 0; font-size: 1.4rem; font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding-bottom: .3rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg text { font: 12px system-ui, sans-serif; fill: var(--ink); }
.note { color: var(--muted); font-size: .9rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  section { break-inside: avoid; }
  dl.kpis div { border-color: #888; }
}
"""


def format_rate(value: float | None) -> str:
    """Return a rate as a percentage with one decimal, or an em dash when undefined."""
    return "\u2014" if value is None else f"{value * 100:.1f}%"


def format_duration(seconds: float | None) -> str:
    """Return seconds as days (one decimal) or hours under a day; an em dash when none."""
    if seconds is None:
        return "\u2014"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    return f"{seconds / 3600:.1f} h"


def _metric(path: str, text: str) -> str:
    return f'<span data-metric="{escape(path)}">{escape(text)}</span>'


def _bars(
    title: str, description: str, rows: Sequence[tuple[str, int]], colour: str = "var(--bar)"
) -> str:
    # A horizontal bar chart in SVG: one bar per row, labelled with its count.
    width, label_w, bar_h, gap = 640, 170, 22, 8
    height = max(1, len(rows)) * (bar_h + gap) + gap
    top = max((count for _, count in rows), default=0) or 1
    ident = "".join(c if c.isalnum() else "-" for c in title.lower())
    parts = [
        f'<svg role="img" aria-labelledby="t-{ident} d-{ident}" width="100%" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="t-{ident}">{escape(title)}</title>',
        f'<desc id="d-{ident}">{escape(description)}</desc>',
    ]
    for index, (label, count) in enumerate(rows):
        y = gap + index * (bar_h + gap)
        length = (width - label_w - 60) * count / top
        parts.append(
            f'<text x="0" y="{y + 15}">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" '
            f'fill="{colour}"></rect>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + 15}">{count}</text>'
        )
    if not rows:
        parts.append('<text x="0" y="20">No data in this window</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = []
    for row in rows:
        first, *rest = row
        cells = "".join(f"<td>{cell}</td>" for cell in rest)
        body.append(f'<tr><th scope="row">{first}</th>{cells}</tr>')
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}">None in this window</td></tr>')
    return (
        f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _kpis(m: GroupMetrics, has_revenue: bool) -> str:
    items = [
        ("Referrals received", _metric("overall.received", str(m.received))),
        ("Booked", _metric("overall.booking_rate", format_rate(m.booking_rate))),
        ("Seen", _metric("overall.completion_rate", format_rate(m.completion_rate))),
        ("Leakage", _metric("overall.leakage_rate", format_rate(m.leakage_rate))),
        (
            "Median days to appointment",
            _metric(
                "overall.time_to_booked.median_seconds",
                format_duration(m.time_to_booked.median_seconds),
            ),
        ),
        ("Loop closure", _metric("overall.loop_closure_rate", format_rate(m.loop_closure_rate))),
        ("No-show rate", _metric("overall.no_show_rate", format_rate(m.no_show_rate))),
    ]
    if has_revenue:
        items.append(("Estimated revenue", _metric("overall.revenue", str(m.revenue))))
    cells = "".join(f"<div><dt>{escape(k)}</dt><dd>{v}</dd></div>" for k, v in items)
    return f'<dl class="kpis">{cells}</dl>'


def _duration_row(name: str, path: str, stats: DurationStats) -> list[str]:
    return [
        escape(name),
        _metric(f"overall.{path}.count", str(stats.count)),
        _metric(f"overall.{path}.median_seconds", format_duration(stats.median_seconds)),
        _metric(f"overall.{path}.p90_seconds", format_duration(stats.p90_seconds)),
    ]


def _group_table(dimension: str, title: str, groups: Mapping[str, GroupMetrics]) -> str:
    rows = [
        [
            escape(value),
            _metric(f"groups.{dimension}.{value}.received", str(m.received)),
            format_rate(m.booking_rate),
            format_rate(m.completion_rate),
            format_rate(m.leakage_rate),
            format_duration(m.time_to_booked.median_seconds),
            format_rate(m.loop_closure_rate),
        ]
        for value, m in groups.items()
    ]
    headers = ["", "Received", "Booked", "Seen", "Leakage", "Median to booking", "Loop closed"]
    return _table(title, headers, rows)


def render_html(report: MetricsReport, *, title: str = "Referral report") -> str:
    """Return the report as one self-contained HTML document (no scripts, no network)."""
    m = report.overall
    config = report.config
    window = f"{config.since:%Y-%m-%d %H:%M %Z} to {config.until:%Y-%m-%d %H:%M %Z}"
    funnel = [("Received", m.received), ("Booked", m.booked), ("Seen", m.seen),
              ("Report sent back", m.closed)]  # fmt: skip
    funnel_table = _table(
        "Funnel (referrals)",
        ["Stage", "Referrals"],
        [
            [escape(label), _metric(f"overall.{key}", str(count))]
            for (label, count), key in zip(
                funnel, ("received", "booked", "seen", "closed"), strict=True
            )
        ],
    )
    buckets = list(m.booked_within.items())
    leaks = sorted(m.leak_reasons.items(), key=lambda item: (-item[1], item[0]))
    sections = [
        f'<header><h1>{escape(title)}</h1><p class="window">Referrals received {window}; '
        f"outcomes as of the end of the window. Entered-in-error referrals excluded: "
        f"{_metric('excluded_entered_in_error', str(report.excluded_entered_in_error))}.</p>"
        "</header>",
        "<main>",
        '<section aria-labelledby="h-summary"><h2 id="h-summary">Summary</h2>'
        f"{_kpis(m, m.revenue is not None)}</section>",
        '<section aria-labelledby="h-funnel"><h2 id="h-funnel">Funnel</h2>'
        + _bars("Referral funnel", "Referrals received, booked, seen and closed.", funnel)
        + funnel_table
        + "</section>",
        '<section aria-labelledby="h-times"><h2 id="h-times">Time to appointment</h2>'
        + _bars(
            "Time from receipt to booking",
            "How many booked referrals were booked within each range of days.",
            buckets,
        )
        + _table(
            "Times (median and 90th percentile)",
            ["", "Referrals", "Median", "90th percentile"],
            [
                _duration_row("Received to booked", "time_to_booked", m.time_to_booked),
                _duration_row("Received to seen", "time_to_seen", m.time_to_seen),
                _duration_row(
                    "Received to first outreach",
                    "time_to_first_outreach",
                    m.time_to_first_outreach,
                ),
                _duration_row("Seen to report sent", "loop_closure_time", m.loop_closure_time),
                _duration_row("Authorization turnaround", "auth_turnaround", m.auth_turnaround),
            ],
        )
        + "</section>",
        '<section aria-labelledby="h-leak"><h2 id="h-leak">Leakage</h2>'
        f"<p>{_metric('overall.leaked', str(m.leaked))} of {m.received} referrals leaked "
        f"({format_rate(m.leakage_rate)}).</p>"
        + _bars("Leakage reasons", "Leaked referrals by reason.", leaks, "var(--leak)")
        + _table(
            "Leakage reasons",
            ["Reason", "Referrals"],
            [
                [escape(reason), _metric(f"overall.leak_reasons.{reason}", str(count))]
                for reason, count in leaks
            ],
        )
        + "</section>",
        _cms50_section(report),
    ]
    for dimension, heading in (("practice", "By referring practice"),
                               ("specialty", "By specialty")):  # fmt: skip
        if dimension in report.groups:
            sections.append(
                f'<section aria-labelledby="h-{dimension}"><h2 id="h-{dimension}">{heading}</h2>'
                + _group_table(dimension, heading, report.groups[dimension])
                + "</section>"
            )
    queue_rows = [
        [
            escape(name),
            _metric(f"queues.{name}.opened", str(q.opened)),
            _metric(f"queues.{name}.open", str(q.open)),
            _metric(f"queues.{name}.overdue", str(q.overdue)),
            str(q.sla_breaches),
            str(q.escalations),
            format_duration(q.age.median_seconds),
            format_duration(q.time_to_close.median_seconds),
        ]
        for name, q in report.queues.items()
    ]
    sections.append(
        '<section aria-labelledby="h-queues"><h2 id="h-queues">Queue health</h2>'
        + _table(
            "Tasks opened in the window, by queue",
            [
                "Queue",
                "Opened",
                "Still open",
                "Overdue",
                "SLA breaches",
                "Escalations",
                "Median age (open)",
                "Median time to close",
            ],
            queue_rows,
        )
        + '<p class="note">Ages are of tasks still open at the end of the window.</p></section>'
    )
    sections.append("</main>")
    body = "".join(sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _cms50_section(report: MetricsReport) -> str:
    heading = (
        '<section aria-labelledby="h-cms50"><h2 id="h-cms50">Loop closure and CMS50</h2>'
        f"<p>Loop closed for {_metric('overall.closed', str(report.overall.closed))} of "
        f"{report.overall.seen} referrals seen "
        f"({_metric('overall.loop_closure_rate', format_rate(report.overall.loop_closure_rate))})"
        ".</p>"
    )
    cms50 = report.cms50
    if cms50 is None:
        return heading + '<p class="note">CMS50 was not computed for this report.</p></section>'
    return (
        heading + "<p>CMS50 (MIPS 374), Closing the Referral Loop: "
        f"{_metric('cms50.numerator', str(cms50.numerator))} of "
        f"{_metric('cms50.denominator', str(cms50.denominator))} patients "
        f"({_metric('cms50.rate', format_rate(cms50.rate))}); first referral per patient made "
        f"before {cms50.period.cutoff:%Y-%m-%d}, report received by "
        f"{cms50.period.end:%Y-%m-%d}.</p>"
        + _table(
            "CMS50 by referring practice",
            ["Practice", "Numerator", "Denominator"],
            [[escape(p), str(n), str(d)] for p, (n, d) in cms50.by_practice().items()],
        )
        + "</section>"
    )


def _interval_bars(
    title: str,
    description: str,
    stages: Sequence[str],
    series: Sequence[tuple[str, Sequence[tuple[float | None, float | None, float | None]]]],
) -> str:
    # Grouped horizontal bars, one group per stage and one bar per series, each with a whisker
    # for its interval; values are shares (0..1).
    palette = ("#2f6f9f", "#c07a2c", "#4f8a3c", "#8a4f9f", "#a4442f", "#5a6b7b")
    width, label_w, bar_h, gap = 640, 170, 16, 12
    per_group = len(series) * bar_h + gap
    height = max(1, len(stages)) * per_group + gap + 18 * len(series)
    span = width - label_w - 90
    ident = "".join(c if c.isalnum() else "-" for c in title.lower())
    parts = [
        f'<svg role="img" aria-labelledby="t-{ident} d-{ident}" width="100%" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="t-{ident}">{escape(title)}</title>',
        f'<desc id="d-{ident}">{escape(description)}</desc>',
    ]
    for g, stage in enumerate(stages):
        top = gap + g * per_group
        parts.append(f'<text x="0" y="{top + 12}">{escape(stage)}</text>')
        for s, (_name, values) in enumerate(series):
            mean, low, high = values[g]
            y = top + s * bar_h
            colour = palette[s % len(palette)]
            length = span * (mean or 0.0)
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h - 3}" '
                f'fill="{colour}"></rect>'
                f'<text x="{label_w + length + 8:.1f}" y="{y + 11}">{format_rate(mean)}</text>'
            )
            if low is not None and high is not None:
                x1, x2 = label_w + span * low, label_w + span * high
                mid = y + (bar_h - 3) / 2
                parts.append(
                    f'<line x1="{x1:.1f}" y1="{mid:.1f}" x2="{x2:.1f}" y2="{mid:.1f}" '
                    'stroke="#1b1f24" stroke-width="1.5"></line>'
                )
    legend_top = gap + len(stages) * per_group
    for s, (name, _values) in enumerate(series):
        y = legend_top + 18 * s
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="12" height="12" '
            f'fill="{palette[s % len(palette)]}"></rect>'
            f'<text x="{label_w + 18}" y="{y + 11}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_comparison_html(
    *,
    title: str,
    subtitle: str,
    scenarios: Sequence[str],
    funnel: Sequence[tuple[str, Sequence[tuple[float | None, float | None, float | None]]]],
    figures: Sequence[tuple[str, Sequence[str]]],
    notes: Sequence[str] = (),
) -> str:
    """Return a self-contained HTML page comparing several simulated scenarios.

    :param scenarios: the scenario names, one column each.
    :param funnel: per stage (``Booked``...), each scenario's share as ``(mean, low, high)``;
        drawn side by side with the interval as a whisker, and tabled.
    :param figures: per figure, its label and each scenario's formatted value.
    :param notes: sentences printed under the tables.

    .. versionadded:: 0.4
    """
    stages = [stage for stage, _ in funnel]
    series = [(name, [values[i] for _stage, values in funnel]) for i, name in enumerate(scenarios)]
    funnel_rows = [
        [escape(stage)]
        + [
            escape(
                format_rate(mean)
                + (f" [{format_rate(low)}, {format_rate(high)}]" if low is not None else "")
            )
            for mean, low, high in values
        ]
        for stage, values in funnel
    ]
    body = "".join(
        [
            f'<header><h1>{escape(title)}</h1><p class="window">{escape(subtitle)}</p></header>',
            "<main>",
            '<section aria-labelledby="h-funnel"><h2 id="h-funnel">Funnel</h2>',
            _interval_bars(
                "Referral funnel by scenario",
                "Share of referrals reaching each stage, per scenario, with 95% intervals.",
                stages,
                series,
            ),
            _table(
                "Funnel (share of referrals, 95% interval)", ["Stage", *scenarios], funnel_rows
            ),
            "</section>",
            '<section aria-labelledby="h-figures"><h2 id="h-figures">Figures</h2>',
            _table(
                "Mean over replications [95% interval]",
                ["Figure", *scenarios],
                [[escape(label), *(escape(v) for v in values)] for label, values in figures],
            ),
            "".join(f'<p class="note">{escape(n)}</p>' for n in notes),
            "</section></main>",
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
