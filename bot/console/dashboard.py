"""The console's dashboard (every role): respondents by group, municipality and channel, each
survey's funnel, each workshop's registrations and attendance, activity over the last weeks,
each characteristic's scores by group, and the change from a first round to a second. The
figures go to the page as JSON; Chart.js (vendored in bot/static) draws them, so Thai labels
are shaped by the browser, and each chart downloads as PNG."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from statistics import fmean
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from bot.console.accounts import allowed
from bot.console.blueprint import blueprint
from bot.console.labels import characteristic_choices, profile_labels, survey_titles
from bot.console.roles import ROLES
from bot.console.sign_in import console_language
from bot.runtime import runtime
from bot.text_cut import cut_graphemes
from bot.thai_dates import format_day_month, format_thai_date
from storage import dashboard
from storage.models import Workshop
from survey_flows.scoring import BANDS

#: How many days the activity chart covers.
ACTIVITY_DAYS = 30
#: Characters of a workshop's title beside its bar.
WORKSHOP_LABEL = 24
#: The registration statuses the workshop chart stacks, in order.
SEAT_STATUSES = ("attended", "no_show", "registered", "waitlisted", "cancelled")


@blueprint.get("/dashboard")
@allowed(*ROLES)
def dashboard_page() -> str:
    """The charts, with their figures in the page for the script that draws them."""
    with runtime().db() as db:
        charts = [
            *_people_charts(db),
            _funnel_chart(db),
            _workshop_chart(db),
            _activity_chart(db),
            *_score_charts(db),
        ]
    return render_template("console/dashboard.html", charts=charts)


def _people_charts(db) -> list[dict[str, Any]]:
    """Respondents by group, by municipality, by channel."""
    labels = profile_labels(db)
    charts = []
    for field in ("group", "municipality"):
        counts = dashboard.respondents_by(db, field)
        shown = sorted(counts.items(), key=lambda item: -item[1])
        charts.append(
            _chart(
                f"by-{field}",
                _(f"console.dashboard.by_{field}"),
                "bar",
                [labels.get((field, code), _("console.dashboard.not_yet")) for code, _n in shown],
                [(_("console.dashboard.people"), [n for _code, n in shown])],
            )
        )
    channels = dashboard.respondents_by_channel(db)
    charts.append(
        _chart(
            "by-channel",
            _("console.dashboard.by_channel"),
            "doughnut",
            [_(f"console.channel.{name}") for name in channels],
            [(_("console.dashboard.people"), list(channels.values()))],
        )
    )
    return charts


def _funnel_chart(db) -> dict[str, Any]:
    """Consented → started → completed, for each survey."""
    consented, funnel = dashboard.consented(db), dashboard.survey_funnel(db)
    surveys = survey_titles(db)
    return _chart(
        "funnel",
        _("console.dashboard.funnel"),
        "bar",
        [title for _form, title in surveys],
        [
            (_("console.dashboard.consented"), [consented for _s in surveys]),
            (_("console.dashboard.started"), [funnel.get(f, (0, 0))[0] for f, _t in surveys]),
            (_("console.dashboard.completed"), [funnel.get(f, (0, 0))[1] for f, _t in surveys]),
        ],
    )


def _workshop_chart(db) -> dict[str, Any]:
    """Each workshop's registrations by status, stacked, in date order."""
    language = console_language()
    workshops = db.scalars(
        select(Workshop).options(joinedload(Workshop.course)).order_by(Workshop.starts_at)
    ).all()
    counts = dashboard.registrations_by_workshop(db)
    tz = runtime().tz

    def name(w: Workshop) -> list[str]:
        # two short lines (the date, then the title cut at a grapheme), so the axis keeps both
        title = w.course.title_th if language == "th" else w.course.title_en or w.course.title_th
        day = format_day_month(w.starts_at.astimezone(tz).date(), language)
        return [day, cut_graphemes(title, WORKSHOP_LABEL)]

    return _chart(
        "workshops",
        _("console.dashboard.workshops"),
        "bar",
        [name(w) for w in workshops],
        [
            (
                _(f"console.status.{status}"),
                [counts.get(w.id, {}).get(status, 0) for w in workshops],
            )
            for status in SEAT_STATUSES
        ],
        stacked=True,
        horizontal=True,
    )


def _activity_chart(db) -> dict[str, Any]:
    """People joining, surveys started and completed, day by day, over the last weeks."""
    rt, language = runtime(), console_language()
    today = rt.clock().astimezone(rt.tz).date()
    days = [today - timedelta(days=n) for n in reversed(range(ACTIVITY_DAYS))]
    figures = dashboard.activity_by_day(db, today, ACTIVITY_DAYS, rt.tz)
    return _chart(
        "activity",
        _("console.dashboard.activity", since=format_thai_date(days[0], language)),
        "line",
        [format_day_month(day, language) for day in days],
        [
            (_("console.dashboard.joined"), [figures["joined"].get(d, 0) for d in days]),
            (_("console.dashboard.started"), [figures["started"].get(d, 0) for d in days]),
            (_("console.dashboard.completed"), [figures["completed"].get(d, 0) for d in days]),
        ],
    )


def _score_charts(db) -> list[dict[str, Any]]:
    """Per characteristic, each group's respondents by the band of their latest score (low
    under 2.5, middle under 3.5, high); then, for those with a first and a second round, each
    characteristic's mean in both. None before anyone has the figures."""
    labels = profile_labels(db)
    latest: dict[int, tuple[str, dict[str, float]]] = {}
    rounds: dict[int, dict[int, dict[str, float]]] = defaultdict(dict)
    for who, group, round_, scores in dashboard.scored_rounds(db):
        latest[who] = (group, scores)  # oldest first: the last one stays
        rounds[who][round_] = scores
    if not latest:  # no one scored yet: no empty charts
        return []
    groups = sorted({group for group, _scores in latest.values()})
    charts = []
    for characteristic, name in characteristic_choices(db):
        bands: Counter[tuple[str, str]] = Counter()
        for group, scores in latest.values():
            if characteristic in scores:
                bands[(group, _band(scores[characteristic]))] += 1
        charts.append(
            _chart(
                f"bands-{characteristic}",
                _("console.dashboard.bands", name=name),
                "bar",
                [labels.get(("group", g), _("console.dashboard.not_yet")) for g in groups],
                [
                    (_(f"console.dashboard.band_{band}"), [bands[(g, band)] for g in groups])
                    for band, _below in BANDS
                ],
                stacked=True,
            )
        )
    twice = [both for both in rounds.values() if 1 in both and 2 in both]
    if not twice:
        return charts
    names = characteristic_choices(db)
    charts.append(
        _chart(
            "rounds",
            _("console.dashboard.rounds", people=len(twice)),
            "bar",
            [name for _id, name in names],
            [
                (
                    _("console.dashboard.round", round=number),
                    [_mean([both[number].get(c) for both in twice]) for c, _name in names],
                )
                for number in (1, 2)
            ],
        )
    )
    return charts


def _band(score: float) -> str:
    """The band of a 1–5 score, as the results card words it."""
    return next(band for band, below in BANDS if score < below)


def _mean(values: list[float | None]) -> float:
    """The mean of the values given, to two places (0 for none)."""
    given = [value for value in values if value is not None]
    return round(fmean(given), 2) if given else 0


def _chart(
    chart_id: str,
    title: str,
    kind: str,
    labels: list[str] | list[list[str]],
    series: list[tuple[str, list[int]]] | list[tuple[str, list[float]]],
    *,
    stacked: bool = False,
    horizontal: bool = False,
) -> dict[str, Any]:
    """One chart as the page's script takes it."""
    return {
        "id": chart_id,
        "title": title,
        "type": kind,
        "labels": labels,
        "datasets": [{"label": label, "data": data} for label, data in series],
        "stacked": stacked,
        "horizontal": horizontal,
    }
