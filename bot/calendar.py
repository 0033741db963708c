"""A registration's workshop as an iCalendar file, for "add to my calendar" links in the chat."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Blueprint, Response, abort
from icalendar import Alarm, Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from bot.runtime import runtime
from storage.models import Registration, Workshop

blueprint = Blueprint("calendar", __name__)

#: The right-hand side of every event's UID, so the UIDs are unique beyond this app.
UID_DOMAIN = "lampang-creative-citizens"
#: The phone reminds the attendee this long before the workshop starts.
ALARM_BEFORE = timedelta(hours=1)


def calendar_url(token: str) -> str:
    """The path of a registration's calendar file; callers prefix the public base URL."""
    return f"/calendar/{token}.ics"


@blueprint.get("/calendar/<token>.ics")
def registration_calendar(token: str) -> Response:
    """The workshop of the registration with this token, as one event with an alarm."""
    rt = runtime()
    with rt.read_db() as session:
        registration = session.scalars(
            select(Registration)
            .options(joinedload(Registration.workshop).joinedload(Workshop.course))
            .where(Registration.calendar_token == token)
        ).first()
    if registration is None or registration.status == "cancelled":
        abort(404)
    workshop = registration.workshop
    event = Event()
    # Stable per registration, so importing the file again updates the event, not doubles it.
    # Derived from the link's secret rather than the row id, which would tell how many
    # people registered before.
    event.add("uid", f"{uuid.uuid5(uuid.NAMESPACE_URL, token)}@{UID_DOMAIN}")
    event.add("dtstamp", rt.clock())
    event.add("summary", workshop.course.title_th)
    event.add("dtstart", workshop.starts_at.astimezone(rt.tz))
    event.add("dtend", workshop.ends_at.astimezone(rt.tz))
    event.add("location", workshop.venue)
    event.add("status", "TENTATIVE" if registration.status == "waitlisted" else "CONFIRMED")
    if workshop.map_url:
        event.add("url", workshop.map_url)
    event.add("description", "\n".join(filter(None, [workshop.venue, workshop.map_url])))
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", workshop.course.title_th)
    alarm.add("trigger", -ALARM_BEFORE)
    event.add_component(alarm)
    calendar = Calendar()
    calendar.add("prodid", f"-//{UID_DOMAIN}//workshops//TH")
    calendar.add("version", "2.0")
    calendar.add_component(event)
    # A VTIMEZONE for Asia/Bangkok, which some calendar apps need to read TZID times.
    calendar.add_missing_timezones()
    return Response(
        calendar.to_ical(),
        content_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="workshop.ics"'},
    )
