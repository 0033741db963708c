"""Workshops in the chat: the list, one workshop's details, the respondent's registrations, and
the two questions after a workshop. Pure: the shell looks the workshops up and carries out the
actions (register, cancel, feedback) the engine asks for.
"""

from __future__ import annotations

from collections.abc import Sequence

from survey_flows.form import pick
from survey_flows.session import (
    Button,
    DayMonth,
    Message,
    Msg,
    MyWorkshop,
    Part,
    WorkshopOffer,
)

#: Pseudo-questions of the workshop buttons.
SHOW, REGISTER, CANCEL, RATING = "_workshop", "_register", "_cancel", "_rating"
#: The buttons under "cancel this registration?": the registration's id cancels, KEEP keeps it.
CANCEL_NOW, KEEP = "_cancel_now", "keep"

#: How many workshops one message lists: enough to choose from, short enough to read.
MAX_LISTED = 10


def workshop_list(offers: Sequence[WorkshopOffer], language: str) -> Message:
    """Upcoming workshops, numbered, each with a button to see its details."""
    listed = offers[:MAX_LISTED]
    lines: list[Part] = [Msg("workshops.list")]
    buttons = []
    for number, offer in enumerate(listed, start=1):
        title = pick(dict(offer.title), language)
        params = {
            "number": number,
            "title": title,
            "when": offer.starts_at,
            "venue": offer.venue,
            "seats": offer.seats_left,
        }
        full = offer.seats_left <= 0
        lines.append(Msg("workshops.line_full", params) if full else Msg("workshops.line", params))
        # The list says each title; the button says what tells two rounds of a course apart.
        label = Msg(
            "workshops.button",
            {"number": number, "day": DayMonth(offer.starts_at.date()), "venue": offer.venue},
        )
        buttons.append(Button(label, SHOW, str(offer.id)))
    return Message(tuple(lines), tuple(buttons))


def workshop_details(offer: WorkshopOffer, language: str) -> Message:
    """One workshop: when, where, seats left, and the button to register or join the waitlist."""
    details = Msg(
        "workshop.details",
        {
            "title": pick(dict(offer.title), language),
            "when": offer.starts_at,
            "until": offer.ends_at.strftime("%H:%M"),
            "venue": offer.venue,
            "map": offer.map_url,
            "deadline": offer.deadline,
        },
    )
    seats = Msg("workshop.seats", {"seats": offer.seats_left}) if offer.seats_left else None
    action = Msg("button.register") if offer.seats_left else Msg("button.waitlist")
    parts: tuple[Part, ...] = (details, seats or Msg("workshop.full"))
    buttons = (
        Button(action, REGISTER, str(offer.id)),
        Button(Msg("button.other_workshops"), "_command", "workshops"),
    )
    return Message(parts, buttons)


def my_workshops(mine: Sequence[MyWorkshop], language: str) -> Message:
    """The respondent's registrations, each with a cancel button."""
    if not mine:
        return Message((Msg("registrations.none"),))
    lines: list[Part] = [Msg("registrations.list")]
    buttons = []
    for number, item in enumerate(mine, start=1):
        params = {"number": number, "title": pick(dict(item.title), language)}
        params |= {"when": item.starts_at, "position": item.position or 0}
        if item.status == "waitlisted":
            lines.append(Msg("registrations.line_waitlisted", params))
        else:
            lines.append(Msg("registrations.line_registered", params))
        buttons.append(
            Button(Msg("button.cancel_registration", {"number": number}), CANCEL, str(item.id))
        )
    return Message(tuple(lines), tuple(buttons))


def rating_question(title: str) -> Message:
    """The first question after a workshop: a rating from 1 to 5."""
    buttons = tuple(Button(str(score), RATING, str(score)) for score in range(5, 0, -1))
    return Message((Msg("feedback.rating", {"title": title}),), buttons)


def comment_question() -> Message:
    """The second question after a workshop: a comment, which may be skipped."""
    return Message((Msg("feedback.comment"),), (Button(Msg("button.skip"), RATING, "_skip"),))
