"""The conversation engine: resume(state, input, context) -> Step, and nothing impure.

A respondent goes NEW -> CONSENT -> (profile flow) -> the survey they asked for -> IDLE.
Commands (back, restart, help, stop, language) work at every point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from survey_flows import answer_checks
from survey_flows.expressions import Scope
from survey_flows.form import Flow, Item, Kind, pick
from survey_flows.questions import (
    DONE,
    SKIP,
    Rejected,
    answers_scope,
    check_constraint,
    choice_label,
    is_relevant,
    is_required,
    question_message,
    read_typed,
    visible_choices,
)
from survey_flows.results import (
    COURSE,
    course_list,
    course_offer,
    recommend,
    results_card,
)
from survey_flows.scoring import Scores, score
from survey_flows.session import (
    ActionRequested,
    AnswerRecorded,
    AnswerRejected,
    Button,
    ConsentDeclined,
    ConsentGiven,
    ConsentWithdrawn,
    Context,
    Event,
    FeedbackInput,
    HelloInput,
    Input,
    LanguageChanged,
    Message,
    Msg,
    MyData,
    OtherInput,
    Part,
    ScoresComputed,
    Stage,
    State,
    Step,
    SurveyCompleted,
    SurveyStarted,
    TapInput,
    TextInput,
)
from survey_flows.workshop_chat import (
    CANCEL,
    CANCEL_NOW,
    KEEP,
    RATING,
    REGISTER,
    SHOW,
    comment_question,
    my_workshops,
    rating_question,
    workshop_details,
    workshop_list,
)

#: Words that work as commands at any point, in Thai and English (compared after normalize_text).
COMMANDS = {
    "ย้อนกลับ": "back",
    "back": "back",
    "เริ่มใหม่": "restart",
    "restart": "restart",
    "ช่วยเหลือ": "help",
    "help": "help",
    "/help": "help",
    "หยุด": "stop",
    "stop": "stop",
    "ภาษา": "language",
    "language": "language",
    "ทำต่อ": "continue",
    "continue": "continue",
    "ผลของฉัน": "results",
    "my results": "results",
    "อบรม": "workshops",
    "workshops": "workshops",
    "courses": "workshops",
    "การลงทะเบียนของฉัน": "registrations",
    "my registrations": "registrations",
    "ลบข้อมูลของฉัน": "erase",
    "ลบข้อมูล": "erase",
    "delete my data": "erase",
    "ถอนความยินยอม": "withdraw",
    "withdraw consent": "withdraw",
    "ข้อมูลของฉัน": "my_data",
    "my data": "my_data",
    "แก้ข้อมูลส่วนตัว": "edit_profile",
    "edit profile": "edit_profile",
}

#: Pseudo-questions for buttons that are not survey questions.
CONSENT, COMMAND, START = "_consent", "_command", "_start"
#: The buttons under "erase everything about me?": ERASE_NOW erases, anything else keeps it.
ERASE, ERASE_NOW = "_erase", "now"
#: The buttons under "take back your consent?": WITHDRAW_NOW does, anything else keeps it.
WITHDRAW, WITHDRAW_NOW = "_withdraw", "now"
#: The buttons under "start this survey again?": RESTART_NOW does, anything else carries on.
RESTART, RESTART_NOW = "_restart", "now"


def start(context: Context) -> Step:
    """Greet a new respondent and ask for consent."""
    return resume(State(), HelloInput(), context)


#: The parts of the context that only some turns use, so the shell can skip looking them up.
WORKSHOPS, RESULTS, MY_DATA = "workshops", "results", "my_data"


def needs(state: State, given: Input, flows: Mapping[str, Flow]) -> frozenset[str]:
    """Which optional context this turn may use: WORKSHOPS (courses, workshops, registrations)
    and RESULTS (previous scores). Everything else is always given."""
    command = _command_of(given)
    in_scored_flow = state.flow in flows and flows[state.flow].scoring is not None
    wanted = set()
    tapped = given.question if isinstance(given, TapInput) else ""
    picking = bool(state.browsing) and isinstance(given, TextInput)  # a number from a list
    workshop_taps = (SHOW, REGISTER, CANCEL, CANCEL_NOW, COURSE)
    if command in ("workshops", "registrations") or tapped in workshop_taps:
        wanted.add(WORKSHOPS)
    if picking:
        wanted.add(WORKSHOPS)
    if in_scored_flow:  # it may end this turn, with a card and the courses that fit
        wanted |= {WORKSHOPS, RESULTS}
    if command == "results":
        wanted.add(RESULTS)
    if command == "my_data":
        wanted |= {WORKSHOPS, RESULTS, MY_DATA}
    return frozenset(wanted)


def nudge(state: State, context: Context) -> tuple[Message, ...]:
    """What to send someone who went quiet halfway through a survey; () if they are not."""
    if state.stage is not Stage.SURVEY or not state.question or state.flow not in context.flows:
        return ()
    turn = _Turn(replace(state.copy(), paused=False), context)
    turn.say("nudge", title=turn._title())
    return turn._reask().messages


def resume(state: State, given: Input, context: Context) -> Step:
    """Apply one input to the conversation and return what follows."""
    return _Turn(state.copy(), context).run(given)


class _Turn:
    """One input's worth of work: collects messages and events while it moves the state."""

    def __init__(self, state: State, context: Context):
        self.state = state
        self.context = context
        self.messages: list[Message] = []
        self.events: list[Event] = []

    def step(self) -> Step:
        return Step(self.state, tuple(self.messages), tuple(self.events))

    def say(self, key: str, **params) -> None:
        self.messages.append(Message((Msg(key, params),)))

    def run(self, given: Input) -> Step:
        command = _command_of(given)
        shown, self.state.browsing = self.state.browsing, []
        if self.state.stage is Stage.NEW or isinstance(given, HelloInput):
            # A first message may be a survey keyword (a QR poster): remember it for after consent.
            if isinstance(given, TextInput) and (handle := self._keyword(given.text)):
                self.state.pending = handle
            return self._hello()
        if self.state.stage is Stage.SURVEY and self.state.flow not in self.context.flows:
            # the survey they were in can no longer be loaded: never leave them stuck in it
            self.state = State(stage=Stage.IDLE, language=self.state.language)
            self.say("error.survey_gone")
            return self._menu()
        if isinstance(given, FeedbackInput):
            if self.state.stage in (Stage.NEW, Stage.CONSENT, Stage.DECLINED):
                return self.step()  # never message someone who has not consented
            return self._invited_to_feedback(given)
        if self.state.feedback and not self.state.feedback.get("waiting") and not command:
            return self._feedback(given)
        if command:
            return self._command(command)
        if isinstance(given, TapInput) and given.question == ERASE:
            return self._erase(given.value == ERASE_NOW)
        if isinstance(given, TapInput) and given.question == WITHDRAW:
            return self._withdraw(given.value == WITHDRAW_NOW)
        if isinstance(given, TapInput) and given.question == RESTART:
            return self._restart(given.value == RESTART_NOW)
        if isinstance(given, TapInput) and given.question in (SHOW, REGISTER, CANCEL, CANCEL_NOW):
            return self._workshop_tap(given)
        if isinstance(given, TextInput) and (picked := _numbered(given.text, shown)):
            return self._workshop_tap(TapInput(SHOW, picked))  # the number of a listed workshop
        if self.state.paused:
            if not isinstance(given, TapInput):
                # Only "ทำต่อ" resumes: a greeting or a stray word is not taken for an answer.
                return self._still_paused()
            # a tap on the question's own buttons (say, on the nudge) resumes and counts
            self.state.paused = False
            self.say("resumed")
        if self.state.stage in (Stage.CONSENT, Stage.DECLINED):
            return self._consent(given)
        if self.state.stage is Stage.IDLE:
            return self._idle(given)
        return self._answer(given)

    # Consent and keywords ---------------------------------------------------------------------

    def _hello(self) -> Step:
        if self.state.stage in (Stage.NEW, Stage.DECLINED, Stage.CONSENT):
            self.say("greeting")
            self.state.stage = Stage.CONSENT
            return self._ask_consent()
        self.say("welcome_back")
        return self._reask()

    def _ask_consent(self) -> Step:
        buttons = (
            Button(Msg("button.consent_yes"), CONSENT, "yes"),
            Button(Msg("button.consent_no"), CONSENT, "no"),
        )
        self.messages.append(Message((Msg("consent.notice"),), buttons))
        return self.step()

    def _consent(self, given: Input) -> Step:
        if isinstance(given, TextInput) and (handle := self._keyword(given.text)):
            self.state.pending = handle
        if self.state.stage is Stage.DECLINED:
            self.state.stage = Stage.CONSENT
            return self._ask_consent()
        answer = None
        if isinstance(given, TapInput) and given.question == CONSENT:
            answer = given.value == "yes"
        elif isinstance(given, TextInput):
            answer = answer_checks.parse_yes_no(given.text)
        if answer is None:
            self.say("consent.unclear")
            return self._ask_consent()
        if not answer:
            self.events.append(ConsentDeclined(self.context.consent_version))
            self.state = State(stage=Stage.DECLINED, language=self.state.language)
            self.say("consent.declined")
            return self.step()
        self.events.append(ConsentGiven(self.context.consent_version))
        self.say("consent.thanks")
        self.state.stage = Stage.IDLE
        return self._next_flow()

    def _keyword(self, text: str) -> str | None:
        wanted = answer_checks.normalize_text(text)
        for keyword, handle in self.context.keywords.items():
            if answer_checks.normalize_text(keyword) == wanted:
                return handle
        return None

    def _next_flow(self) -> Step:
        """After consent or a finished flow: the profile if missing, the pending survey, or the
        questions about a workshop that came in meanwhile."""
        profile = self.context.profile_flow
        if profile and not self.context.profile and self.state.flow != profile:
            return self._start(profile)
        if self.state.pending:
            handle, self.state.pending = self.state.pending, None
            return self._start(handle)
        if self.state.feedback:
            self.state.stage = Stage.IDLE
            self.state.flow = self.state.question = None
            return self._ask_feedback()
        self.state.stage = Stage.IDLE
        self.state.flow = self.state.question = None
        return self._menu()

    def _menu(self) -> Step:
        """The surveys on offer: what each is about and how long it takes, a button each."""
        language = self.state.language
        lines: list[Part] = [Msg("menu")]
        buttons = []
        for handle in dict.fromkeys(self.context.keywords.values()):
            flow = self.context.flows.get(handle)
            if flow is None or handle == self.context.profile_flow:
                continue
            name = pick(flow.keywords, language) or flow.keyword
            about = pick(flow.description, language) or pick(flow.title, language)
            if flow.minutes:
                lines.append(
                    Msg("menu.item_timed", {"name": name, "about": about, "minutes": flow.minutes})
                )
                buttons.append(
                    Button(
                        Msg("menu.button_timed", {"name": name, "minutes": flow.minutes}),
                        START,
                        handle,
                    )
                )
            else:
                lines.append(Msg("menu.item", {"name": name, "about": about}))
                buttons.append(Button(name, START, handle))
        self.messages.append(Message(tuple(lines), tuple(buttons)))
        return self.step()

    def _idle(self, given: Input) -> Step:
        handle = None
        if isinstance(given, TapInput) and given.question == COURSE:
            return self._course_chosen(given.value)
        if isinstance(given, TapInput) and given.question == START:
            handle = given.value if given.value in self.context.keywords.values() else None
        elif isinstance(given, TextInput):
            handle = self._keyword(given.text)
        if handle is None:
            if isinstance(given, OtherInput):
                self.say("error.not_text")
            return self._menu()
        return self._start(handle)

    # Walking a flow ---------------------------------------------------------------------------

    @property
    def flow(self) -> Flow:
        return self.context.flows[self.state.flow or ""]

    def _start(self, handle: str) -> Step:
        self.state.stage = Stage.SURVEY
        self.state.flow, self.state.answers, self.state.trail = handle, {}, []
        self.state.picked, self.state.question = [], None
        self.events.append(SurveyStarted(handle))
        if handle == self.context.profile_flow:
            # "ก่อน" (first) fits only before the first survey, not when the profile is redone
            if self.context.profile:
                self.say("profile.intro_again")
            else:
                self.say("profile.intro")
        else:
            self.say("survey.start", title=self._title())
        return self._advance(from_index=0)

    def _title(self) -> str:
        return pick(self.flow.title, self.state.language) or self.flow.form_id

    def _scope(self) -> Scope:
        context = self.context
        return answers_scope(self.flow, self.state.answers, context.profile, context.today)

    def _advance(self, from_index: int) -> Step:
        """Move to the next item that needs the respondent, saying notes on the way."""
        for item in self.flow.items[from_index:]:
            scope = self._scope()
            if not is_relevant(item, scope):
                # an answer given before the respondent went back and changed course no longer
                # applies: drop it, and record that it was withdrawn
                if self.state.answers.pop(item.name, None) is not None:
                    self._record(item, "", None)
                continue
            if item.kind is Kind.CALCULATE and item.calculation:
                self._record(item, "", _json_value(item.calculation.evaluate(scope)))
            elif item.kind is Kind.NOTE:
                self.messages.append(Message(_label_parts(item, self.state.language)))
            elif item.asks:
                self.state.question, self.state.picked = item.name, []
                return self._reask()
        return self._finish()

    def _finish(self) -> Step:
        handle = self.state.flow or ""
        self.state.question = None
        scoring = self.flow.scoring
        scores = score(scoring, self.state.answers) if scoring else None
        if scores and scores.characteristics:
            self.events.append(ScoresComputed(handle, scores.to_json()))
        self.events.append(SurveyCompleted(handle, dict(self.state.answers)))
        if handle == self.context.profile_flow:  # the rest of this turn already sees the profile
            profile = {**self.context.profile, **self.state.answers}
            self.context = replace(self.context, profile=profile)
            return self._next_flow()
        self.say("survey.thanks", title=self._title())
        if scores and scores.characteristics and self._show_results(scores):
            # The course offer's buttons must be the last ones shown (LINE shows only those).
            self.state.stage, self.state.flow = Stage.IDLE, None
            return self.step()
        return self._next_flow()

    def _show_results(self, scores: Scores) -> bool:
        """The results card and the courses that fit; False when there is no course to offer."""
        scoring = self.flow.scoring
        assert scoring is not None
        language = self.state.language
        previous = self.context.previous_scores.get(self.flow.form_id, {}).get(
            "characteristics", {}
        )
        self.messages.append(results_card(self.flow, scores, previous, language))
        group = str(self.context.profile.get("group") or "")
        recommendation = recommend(self.context.courses, group, scores)
        self.messages.append(course_offer(recommendation, scoring, language))
        return bool(recommendation.courses)

    def _my_results(self) -> Step:
        """The latest results card again, then back to where the respondent was."""
        for flow in self.context.flows.values():
            stored = self.context.previous_scores.get(flow.form_id)
            if flow.scoring and stored and stored.get("characteristics"):
                scores = Scores(stored["characteristics"], stored.get("subfeatures", {}))
                self.messages.append(results_card(flow, scores, {}, self.state.language))
                return self._reask()
        if self.state.flow and self.state.stage is not Stage.IDLE and self.flow.scoring:
            self.say("results.after_this")  # they are taking it now
            return self._reask()
        scored = next((f for f in self.context.flows.values() if f.scoring), None)
        if scored is None:
            self.say("results.none")
        else:
            keyword = pick(scored.keywords, self.state.language) or scored.keyword
            self.say("results.none_yet", keyword=keyword)
        return self._reask()

    def _workshops(self, course: str | None = None) -> Step:
        """Upcoming workshops (of one course, if given); the course list when none is planned."""
        offers = [w for w in self.context.workshops if course in (None, w.course_code)]
        if offers:
            self.messages.append(workshop_list(offers, self.state.language))
        else:
            group = str(self.context.profile.get("group") or "")
            courses = [c for c in self.context.courses if group in c.groups]
            courses = courses or list(self.context.courses)
            self.messages.append(course_list(courses, self.state.language))
        return self._then_continue()

    def _then_continue(self) -> Step:
        """After a look at workshops mid-survey: the survey waits (paused), the list keeps its
        buttons with ทำต่อ beside them in the same message (LINE shows only the last message's
        buttons), and a typed number picks from the list."""
        last = self.messages[-1]
        self.state.browsing = [b.value for b in last.buttons if b.question == SHOW]
        if self.state.stage is Stage.SURVEY and self.state.question:
            self.state.paused = True
            self.messages[-1] = replace(
                last,
                parts=(*last.parts, Msg("workshops.continue_hint")),
                buttons=(*last.buttons, _continue_button()),
            )
        return self.step()

    def _still_paused(self, key: str = "paused.reminder") -> Step:
        """Say the survey is resting, with the ทำต่อ button."""
        self.messages.append(Message((Msg(key),), (_continue_button(),)))
        return self.step()

    def _workshop_tap(self, given: TapInput) -> Step:
        """A tap on a workshop's button: see it, register for it, or cancel a registration."""
        if given.question == CANCEL_NOW and given.value == KEEP:
            self.say("cancel.kept")
            return self._reask()
        if given.question in (CANCEL, CANCEL_NOW):
            mine = next((m for m in self.context.my_workshops if str(m.id) == given.value), None)
            if mine is None:
                self.say("error.stale_button")
                return self._workshops()
            if given.question == CANCEL:  # ask first: a seat given up may go to someone else
                title = pick(dict(mine.title), self.state.language)
                return self._confirm(
                    Msg("cancel.confirm", {"title": title, "when": mine.starts_at}),
                    Msg("button.cancel_now"),
                    Msg("button.cancel_keep"),
                    CANCEL_NOW,
                    given.value,
                )
            action = ActionRequested("cancel_registration", {"registration": given.value})
            self.events.append(action)
            return self.step()  # the shell says how it went
        offer = next((w for w in self.context.workshops if str(w.id) == given.value), None)
        if offer is None:
            self.say("error.stale_button")
            return self._workshops()
        if given.question == SHOW:
            self.messages.append(workshop_details(offer, self.state.language))
            return self.step()
        self.events.append(ActionRequested("register", {"workshop": given.value}))
        return self.step()  # the shell says how it went

    # Feedback after a workshop ------------------------------------------------------------------

    def _invited_to_feedback(self, given: FeedbackInput) -> Step:
        title = pick(dict(given.title), self.state.language)
        self.state.feedback = {"workshop": given.workshop, "title": title, "rating": None}
        if self.state.stage is Stage.SURVEY and self.state.question:
            self.state.feedback["waiting"] = True  # asked when the survey in hand is done
            return self.step()
        return self._ask_feedback()

    def _ask_feedback(self) -> Step:
        feedback = self.state.feedback or {}
        feedback.pop("waiting", None)
        if feedback.get("rating") is None:
            self.messages.append(rating_question(feedback.get("title", "")))
        else:
            self.messages.append(comment_question())
        return self.step()

    def _feedback(self, given: Input) -> Step:
        """The rating (1–5), then a comment or ข้าม; then thanks, and an invitation to retake."""
        feedback = self.state.feedback or {}
        value = None
        if isinstance(given, TapInput) and given.question == RATING:
            value = given.value
        elif isinstance(given, TextInput):
            value = given.text.strip()
        if feedback.get("rating") is None:
            rating = answer_checks.parse_integer(value or "")
            if rating is None or not 1 <= rating <= 5:
                self.say("feedback.rating_again")
                return self._ask_feedback()
            feedback["rating"] = rating
            return self._ask_feedback()
        if value is None:
            self.say("error.not_text")
            return self._ask_feedback()
        comment = "" if value == "_skip" or normalize_skip(value) else value[:2000]
        params = {"workshop": str(feedback["workshop"]), "rating": str(feedback["rating"])}
        self.events.append(ActionRequested("feedback", {**params, "comment": comment}))
        self.state.feedback = None
        self.say("feedback.thanks")
        retake = next((h for h, f in self.context.flows.items() if f.scoring), None)
        if retake:
            button = Button(Msg("button.retake"), START, retake)
            self.messages.append(Message((Msg("feedback.retake"),), (button,)))
        return self.step()

    def _course_chosen(self, code: str) -> Step:
        course = next((c for c in self.context.courses if c.code == code), None)
        if course is None:
            self.say("error.stale_button")
            return self._menu()
        self.events.append(ActionRequested("course_interest", {"course": code}))
        if any(w.course_code == code for w in self.context.workshops):
            return self._workshops(course=code)  # straight on to its dates, to sign up
        self.say("course.noted", title=pick(dict(course.title), self.state.language))
        return self._menu()

    def _reask(self) -> Step:
        if self.state.stage in (Stage.CONSENT, Stage.DECLINED, Stage.NEW):
            return self._ask_consent()
        if self.state.stage is Stage.IDLE or not self.state.question:
            return self._menu()
        item = self.flow.item(self.state.question)
        scope = self._scope()
        self.messages.append(
            question_message(
                item,
                self.state.language,
                visible_choices(item, scope),
                self.state.picked,
                is_required(item, scope),
                self._progress(item, scope),
                key=self._button_key(item),
            )
        )
        return self.step()

    def _button_key(self, item: Item) -> str:
        """What a question's buttons carry, so a button of another survey or version is stale."""
        return f"{self.state.flow}/{item.name}"

    def _progress(self, current: Item, scope: Scope) -> tuple[int, int] | None:
        if self.state.flow == self.context.profile_flow:
            return None
        answered = set(self.state.answers) | set(self.state.trail)

        def counts(item: Item) -> bool:
            # A question whose condition waits on unanswered questions counts as ahead, so the
            # total does not jump up as the respondent answers.
            waiting = any(c.references - answered for c in item.relevant)
            return item.asks and (waiting or is_relevant(item, scope))

        asked = [item.name for item in self.flow.items if counts(item)]
        if current.name not in asked:
            return None
        return asked.index(current.name) + 1, len(asked)

    # Answers ----------------------------------------------------------------------------------

    def _answer(self, given: Input) -> Step:
        item = self.flow.item(self.state.question or "")
        choices = visible_choices(item, self._scope())
        if isinstance(given, OtherInput):
            self.say("error.not_text")
            return self._reask()
        if isinstance(given, TapInput):
            if given.question != self._button_key(item):
                self.say("error.stale_button")
                return self._reask()
            return self._tapped(item, given.value, choices)
        text = given.text.strip() if isinstance(given, TextInput) else ""
        if not text:
            self.say("error.empty")
            return self._reask()
        if normalize_skip(text):
            return self._skip(item)
        value = read_typed(item, text, choices, self.context.today)
        if isinstance(value, Rejected):
            return self._reject(item, text, value)
        return self._accept(item, text, value)

    def _tapped(self, item: Item, value: str, choices) -> Step:
        language = self.state.language
        if value == SKIP:
            return self._skip(item)
        if item.kind is Kind.ACKNOWLEDGE and value == "OK":
            return self._accept(item, "OK", "OK")
        if item.kind is Kind.SELECT_MULTIPLE and value == DONE:
            if not self.state.picked:
                return self._skip(item)
            labels = ", ".join(choice_label(choices, name, language) for name in self.state.picked)
            picked = [c.name for c in choices if c.name in self.state.picked]
            return self._accept(item, labels, picked)
        if value not in {choice.name for choice in choices}:
            self.say("error.stale_button")
            return self._reask()
        if item.kind is Kind.SELECT_MULTIPLE:
            if value not in self.state.picked:
                self.state.picked.append(value)
            return self._reask()
        return self._accept(item, choice_label(choices, value, language), value)

    def _skip(self, item: Item) -> Step:
        if is_required(item, self._scope()):
            message = item.required_message.get(self.state.language) or Msg("error.required")
            self.events.append(AnswerRejected(self.state.flow or "", item.name, "", "required"))
            self.messages.append(Message((message,)))
            return self._reask()
        self.state.answers.pop(item.name, None)
        self._record(item, "", None)
        self.state.trail.append(item.name)
        return self._advance(self.flow.index(item.name) + 1)

    def _reject(self, item: Item, raw: str, rejected: Rejected) -> Step:
        self.events.append(AnswerRejected(self.state.flow or "", item.name, raw, rejected.reason))
        self.state.picked = []  # a refused multi-pick starts afresh, or its buttons stay hidden
        self.messages.append(Message((rejected.message,)))
        return self._reask()

    def _accept(self, item: Item, raw: str, value) -> Step:
        refused = check_constraint(item, value, self._scope(), self.state.language)
        if refused:
            return self._reject(item, raw, refused)
        self._record(item, raw, value)
        if item.kind is Kind.DATE:  # read the date back, so a misread day is caught at once
            self.say("answer.date", date=date.fromisoformat(value))
        self.state.trail.append(item.name)
        return self._advance(self.flow.index(item.name) + 1)

    def _record(self, item: Item, raw: str, value) -> None:
        if value is not None:
            self.state.answers[item.name] = value
        self.events.append(AnswerRecorded(self.state.flow or "", item.name, raw, value))

    # Commands ---------------------------------------------------------------------------------

    def _command(self, command: str) -> Step:
        if command == "help":
            self.say("help")
            return self._reask()
        if command == "language":
            self.state.language = "en" if self.state.language == "th" else "th"
            self.events.append(LanguageChanged(self.state.language))
            self.say("language.changed")
            return self._reask()
        if command == "continue":
            self.state.paused = False
            return self._reask()
        if command == "results":
            return self._my_results()
        if command == "workshops":
            return self._workshops()
        if command == "registrations":
            self.messages.append(my_workshops(self.context.my_workshops, self.state.language))
            return self._then_continue()
        if command == "erase":  # says what erasure takes away
            return self._confirm(
                Msg("erase.confirm"),
                Msg("button.erase_now"),
                Msg("button.erase_keep"),
                ERASE,
                ERASE_NOW,
            )
        if command == "my_data":
            return self._my_data()
        if command == "edit_profile" and self.context.profile_flow:
            if self.state.stage is Stage.SURVEY and self.state.question:
                self.say("error.finish_first")  # one survey at a time: the answers stay whole
                return self._reask()
            return self._start(self.context.profile_flow)
        if command == "withdraw":
            return self._confirm(
                Msg("withdraw.confirm"),
                Msg("button.withdraw_now"),
                Msg("button.withdraw_keep"),
                WITHDRAW,
                WITHDRAW_NOW,
            )
        in_flow = self.state.stage is Stage.SURVEY and self.state.question
        if command == "stop":
            if not in_flow:
                return self._reask()
            self.state.paused = True
            return self._still_paused("paused")
        if not in_flow:
            self.say("error.no_survey")
            return self._reask()
        self.state.paused = False
        if command == "restart":  # ask first: the answers given so far are asked again
            return self._confirm(
                Msg("restart.confirm"),
                Msg("button.restart_now"),
                Msg("button.restart_keep"),
                RESTART,
                RESTART_NOW,
            )
        if not self.state.trail:  # back, on the first question
            self.say("error.at_first")
            return self._reask()
        self.state.question, self.state.picked = self.state.trail.pop(), []
        return self._reask()

    # Erasure (PDPA) ----------------------------------------------------------------------------

    def _my_data(self) -> Step:
        """Everything stored about them, in the chat: profile, surveys, scores, registrations,
        consent; then how to change or erase it, and back to where they were."""
        language, data = self.state.language, self.context.my_data or MyData()
        lines: list = [Msg("my_data.title")]
        profile_flow = self.context.flows.get(self.context.profile_flow or "")
        told = [
            _told(profile_flow, name, value, language)
            for name, value in self.context.profile.items()
        ]
        if told:
            lines.append(Msg("my_data.profile", {"values": " · ".join(told)}))
        for survey in data.surveys:
            params = {"title": pick(dict(survey.title), language), "started": survey.started}
            if survey.completed:
                lines.append(Msg("my_data.survey_done", {**params, "completed": survey.completed}))
            else:
                lines.append(Msg("my_data.survey_open", params))
        if not data.surveys:
            lines.append(Msg("my_data.no_surveys"))
        for mine in self.context.my_workshops:
            key = "my_data.waitlisted" if mine.status == "waitlisted" else "my_data.registered"
            lines.append(
                Msg(key, {"title": pick(dict(mine.title), language), "when": mine.starts_at})
            )
        if data.consented:
            when = {"when": data.consented, "wording": data.consent_wording}
            lines.append(Msg("my_data.consent", when))
        lines.append(Msg("my_data.rights"))
        self.messages.append(Message(tuple(lines)))
        for flow in self.context.flows.values():  # the latest scores, as the results card
            stored = self.context.previous_scores.get(flow.form_id)
            if flow.scoring and stored and stored.get("characteristics"):
                scores = Scores(stored["characteristics"], stored.get("subfeatures", {}))
                self.messages.append(results_card(flow, scores, {}, language))
                break
        return self._reask()

    def _confirm(self, asked: Msg, yes: Msg, no: Msg, question: str, value: str) -> Step:
        """Ask for a tap before a step that cannot be undone: `yes` carries `value`, `no` KEEP."""
        buttons = (Button(yes, question, value), Button(no, question, KEEP))
        self.messages.append(Message((asked,), buttons))
        return self.step()

    def _erase(self, confirmed: bool) -> Step:
        """Erase on the confirming tap (the shell does it, and says so); else carry on."""
        if not confirmed:
            self.say("erase.kept")
            return self._reask()
        self.events.append(ActionRequested("erase", {}))
        # A stranger from now on: the next message is greeted and asked for consent afresh.
        self.state = State(language=self.state.language)
        self.say("erase.done")
        return self.step()

    def _restart(self, confirmed: bool) -> Step:
        """Start the survey in progress again on the confirming tap; else carry on with it."""
        in_flow = self.state.stage is Stage.SURVEY and self.state.question
        if confirmed and in_flow:
            return self._start(self.state.flow or "")
        return self._reask()

    def _withdraw(self, confirmed: bool) -> Step:
        """Take consent back on the confirming tap: nothing more is sent unasked, and erasure
        is offered; any later message asks for consent again, as for someone who declined."""
        if not confirmed:
            self.say("withdraw.kept")
            return self._reask()
        self.events.append(ConsentWithdrawn(self.context.consent_version))
        self.state = State(stage=Stage.DECLINED, language=self.state.language)
        offer = (Button(Msg("button.erase_now"), ERASE, ERASE_NOW),)
        self.messages.append(Message((Msg("withdraw.done"),), offer))
        return self.step()


def _told(flow: Flow | None, name: str, value: object, language: str) -> str:
    """A profile answer as the label of the choice, where the profile form has one."""
    try:
        item = flow.item(name) if flow else None
    except StopIteration:  # asked by an older profile form
        item = None
    choices = item.choices if item else ()
    return next((pick(c.label, language) for c in choices if c.name == value), str(value))


def normalize_skip(text: str) -> bool:
    """Whether typed text means "skip"."""
    return answer_checks.normalize_text(text) in ("ข้าม", "skip")


def _continue_button() -> Button:
    """ทำต่อ, as a button."""
    return Button(Msg("button.continue"), COMMAND, "continue")


def _numbered(text: str, shown: list[str]) -> str | None:
    """The id of the listed item whose number was typed ("2", "๒"), if any."""
    number = answer_checks.parse_integer(text) if shown else None
    return shown[number - 1] if number is not None and 0 < number <= len(shown) else None


def _command_of(given: Input) -> str | None:
    if isinstance(given, TapInput) and given.question == COMMAND:
        return given.value if given.value in COMMANDS.values() else None
    if isinstance(given, TextInput):
        return COMMANDS.get(answer_checks.normalize_text(given.text))
    return None


def _label_parts(item: Item, language: str) -> tuple[str, ...]:
    return tuple(text for text in (pick(item.label, language), pick(item.hint, language)) if text)


def _json_value(value) -> str | int | float | list[str] | None:
    """Make a calculated value storable: dates as ISO text, NaN as nothing."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN and infinity are not JSON, and PostgreSQL refuses them
    if isinstance(value, bool):
        return int(value)
    return value
