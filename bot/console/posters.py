"""Posters from the console: a survey's or a workshop's A4 PNG, in Thai, with a QR code for each
channel that can open its chat."""

from __future__ import annotations

import logging

from flask import Response, abort
from sqlalchemy.orm import joinedload

from bot.console.accounts import allowed
from bot.console.blueprint import blueprint
from bot.console.downloads import download
from bot.console.roles import RUNS_WORKSHOPS
from bot.i18n import translate
from bot.posters import ChatLink, poster_png
from bot.runtime import Runtime, runtime
from bot.thai_dates import format_thai_datetime
from storage.models import Workshop
from storage.surveys import latest_versions

log = logging.getLogger(__name__)
#: Posters are for respondents, so they are in Thai whatever the console's language.
POSTER_LANGUAGE = "th"


@blueprint.get("/posters/survey/<form_id>.png")
@allowed(*RUNS_WORKSHOPS)
def survey_poster(form_id: str) -> Response:
    """A survey's poster: its title, its keyword, and the QR codes that type it in the chat."""
    rt = runtime()
    with rt.db() as db:
        version = next((v for v in latest_versions(db) if v.form_id == form_id), None)
        if version is None:
            abort(404)
        flow = rt.library.flow(version)
    keyword = flow.keywords.get(POSTER_LANGUAGE) or version.keyword
    png = poster_png(
        translate("poster.heading", POSTER_LANGUAGE),
        flow.title.get(POSTER_LANGUAGE) or form_id,
        [translate("poster.survey", POSTER_LANGUAGE, keyword=keyword)],
        chat_links(rt, keyword, None),
    )
    return download(png, "image/png", f"poster-{form_id}.png")


@blueprint.get("/posters/workshop/<int:workshop_id>.png")
@allowed(*RUNS_WORKSHOPS)
def workshop_poster(workshop_id: int) -> Response:
    """A workshop's poster: the course, the date and the place, and the QR codes to sign up."""
    rt = runtime()
    with rt.db() as db:
        workshop = db.get(Workshop, workshop_id, options=[joinedload(Workshop.course)])
        if workshop is None:
            abort(404)
        title, venue = workshop.course.title_th, workshop.venue
        when = format_thai_datetime(workshop.starts_at.astimezone(rt.tz), POSTER_LANGUAGE)
    png = poster_png(
        translate("poster.heading", POSTER_LANGUAGE),
        title,
        [when, venue, translate("poster.workshop", POSTER_LANGUAGE)],
        chat_links(rt, None, workshop_id),
    )
    return download(png, "image/png", f"poster-workshop-{workshop_id}.png")


def chat_links(rt: Runtime, keyword: str | None, workshop_id: int | None) -> list[ChatLink]:
    """Each connected channel's chat link; one that cannot be made now is left off, and logged."""
    links = []
    for name, connection in rt.channels.items():
        try:
            link = connection.chat_link(keyword, workshop_id)
        except Exception:  # a platform unreachable just now: the poster still has the others
            log.exception("no poster link", extra={"channel": name})
            continue
        if link is not None:
            links.append(link)
    return links
