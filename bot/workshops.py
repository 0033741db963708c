"""The shell's side of workshops: what the engine is shown, and carrying out what it asks for."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.i18n import render_part
from storage import workshops
from storage.courses import record_interest
from storage.models import Feedback, Registration, Respondent, Workshop
from storage.outbox import enqueue
from storage.reminders import cancel_reminders, schedule_reminders
from survey_flows.session import (
    ActionRequested,
    Input,
    Msg,
    MyWorkshop,
    TextInput,
    WorkshopOffer,
)

#: A reminder this long or more before the start is "the day before"; a later one is "soon".
_ONE_DAY_ISH = timedelta(hours=12)

#: Check-in code words are short; longer text is an answer, not a code.
MAX_CODE_WORD = 40

#: Where links to the bot's own pages (calendar files) point; set PUBLIC_BASE_URL in production.
DEFAULT_BASE_URL = "http://127.0.0.1:5000"


def map_link(base_url: str, workshop_id: int, map_url: str) -> str:
    """The chat's short link to a workshop's map (served by bot.maps), or "" without a map."""
    return f"{base_url.rstrip('/')}/map/{workshop_id}" if map_url else ""


def offers(
    session: Session, profile_group: str, now: datetime, tz: ZoneInfo, base_url: str
) -> tuple:
    """Upcoming workshops as the engine sees them, those for the respondent's group first."""
    return tuple(
        WorkshopOffer(
            id=view.id,
            course_code=view.course_code,
            title={"th": view.title_th, "en": view.title_en},
            starts_at=view.starts_at.astimezone(tz),
            ends_at=view.ends_at.astimezone(tz),
            venue=view.venue,
            map_url=map_link(base_url, view.id, view.map_url),
            seats_left=view.seats_left,
            deadline=view.registration_deadline.astimezone(tz),
        )
        for view in workshops.upcoming_workshops(session, now, group=profile_group or None)
    )


def mine(session: Session, respondent_id: int, now: datetime, tz: ZoneInfo) -> tuple:
    """The respondent's registrations still ahead, as the engine sees them."""
    return tuple(
        MyWorkshop(
            id=item.id,
            title={"th": item.workshop.title_th, "en": item.workshop.title_en},
            starts_at=item.workshop.starts_at.astimezone(tz),
            status=item.status,
            position=item.position,
        )
        for item in workshops.my_registrations(session, respondent_id, now)
    )


class WorkshopDesk:
    """Carries out the engine's workshop requests in the caller's transaction."""

    def __init__(
        self,
        session: Session,
        now: datetime,
        tz: ZoneInfo,
        base_url: str,
        self_delivering: frozenset[str] = frozenset(),
    ):
        self.session, self.now, self.tz, self.base_url = session, now, tz, base_url
        #: The channels whose clients read their own messages (stored as sent).
        self.self_delivering = self_delivering

    def check_in(self, respondent: Respondent, given: Input) -> list[dict] | None:
        """The code word shown at the venue, typed on the day: checked in. None if it is not."""
        if not isinstance(given, TextInput) or len(given.text) > MAX_CODE_WORD:
            return None
        if workshops.check_in(self.session, respondent.id, given.text, self.now, self.tz) is None:
            return None
        return [self._text("checkin.done", respondent.language)]

    def carry_out(self, respondent: Respondent, action: ActionRequested) -> list[dict]:
        """Do what was asked; return the messages for the respondent that say how it went."""
        params = action.params
        if action.action == "course_interest":
            record_interest(self.session, respondent.id, params["course"], self.now)
            return []
        if action.action == "register":
            return self._register(respondent, int(params["workshop"]))
        if action.action == "cancel_registration":
            return self._cancel(respondent, int(params["registration"]))
        if action.action == "feedback":
            self.session.add(
                Feedback(
                    workshop_id=int(params["workshop"]),
                    respondent_id=respondent.id,
                    rating=int(params["rating"]),
                    comment=params.get("comment", ""),
                    given_at=self.now,
                )
            )
        return []

    def _register(self, respondent: Respondent, workshop_id: int) -> list[dict]:
        result = workshops.register(self.session, workshop_id, respondent.id, self.now)
        language = respondent.language
        outcome = workshops.Outcome
        if result.outcome is outcome.REGISTERED and result.registration_id:
            self._schedule(respondent, result.registration_id)
            return [
                self._text(
                    "register.done",
                    language,
                    **self._about(result.workshop, result.registration_id, language),
                )
            ]
        if result.outcome is outcome.WAITLISTED:
            return [self._text("register.waitlisted", language, position=result.position)]
        key = {
            outcome.ALREADY: "register.already",
            outcome.DEADLINE_PASSED: "register.deadline",
            outcome.CANCELLED: "register.cancelled",
            outcome.STARTED: "register.started",
        }.get(result.outcome, "register.cancelled")
        return [self._text(key, language)]

    def give_up_seats(self, respondent: Respondent) -> None:
        """Cancel every seat and waitlist place the respondent holds (before an erasure),
        telling whoever moves up from the waitlist."""
        held = self.session.scalars(
            select(Registration.id).where(
                Registration.respondent_id == respondent.id,
                Registration.status.in_(("registered", "waitlisted")),
            )
        ).all()
        for registration_id in held:
            self._cancel(respondent, registration_id)

    def _cancel(self, respondent: Respondent, registration_id: int) -> list[dict]:
        result = workshops.cancel_registration(
            self.session, registration_id, respondent.id, self.now
        )
        if not result.cancelled:
            return [self._text("cancel.not_found", respondent.language)]
        cancel_reminders(self.session, registration_id)
        if result.promoted_respondent_id and result.promoted_registration_id:
            self.tell_promoted(
                result.promoted_respondent_id, result.promoted_registration_id, result.workshop
            )
        workshop = result.workshop
        title = workshop.title_en if respondent.language == "en" else workshop.title_th
        when = workshop.starts_at.astimezone(self.tz)
        return [self._text("cancel.done", respondent.language, title=title, when=when)]

    def tell_promoted(self, respondent_id: int, registration_id: int, workshop) -> None:
        """Someone moved up from the waitlist to a seat: their reminders, and the good news."""
        promoted = self.session.get(Respondent, respondent_id)
        if promoted is None:
            return
        self._schedule(promoted, registration_id)
        notice = self._text(
            "notice.promoted",
            promoted.language,
            **self._about(workshop, registration_id, promoted.language),
        )
        enqueue(
            self.session,
            promoted,
            [notice],
            self.now,
            delivered=promoted.channel in self.self_delivering,
            kind="notice",
        )

    def _schedule(self, respondent: Respondent, registration_id: int) -> None:
        registration = self.session.get(workshops.Registration, registration_id)
        schedule_reminders(
            self.session,
            registration,
            respondent,
            self.now,
            self.tz,
            self.reminder_renderer(respondent.language),
        )

    def reminder_renderer(self, language: str):
        """How a reminder reads: the day before, or shortly before the start."""

        def render(workshop: Workshop, due_at: datetime) -> dict:
            key = (
                "reminder.day_before"
                if workshop.starts_at - due_at > _ONE_DAY_ISH
                else "reminder.soon"
            )
            return self._text(
                key,
                language,
                title=workshop.course.title_th if language == "th" else workshop.course.title_en,
                when=workshop.starts_at.astimezone(self.tz),
                venue=workshop.venue,
                map=map_link(self.base_url, workshop.id, workshop.map_url),
            )

        return render

    def notice(self, key: str, workshop: Workshop, language: str) -> dict:
        """A notice about a workshop (moved, cancelled), in the registrant's language."""
        title = workshop.course.title_th if language == "th" else workshop.course.title_en
        when = workshop.starts_at.astimezone(self.tz)
        return self._text(key, language, title=title, when=when, venue=workshop.venue)

    def _about(self, workshop, registration_id: int, language: str) -> dict:
        registration = self.session.get(workshops.Registration, registration_id)
        return {
            "title": workshop.title_th if language == "th" else workshop.title_en,
            "when": workshop.starts_at.astimezone(self.tz),
            "venue": workshop.venue,
            "calendar": f"{self.base_url.rstrip('/')}/calendar/{registration.calendar_token}.ics",
        }

    @staticmethod
    def _text(key: str, language: str, **params: object) -> dict:
        return {"text": render_part(Msg(key, params), language), "buttons": []}
