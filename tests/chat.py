"""A simulated respondent talking to the app through the simulator's API, as the page does."""

from __future__ import annotations

from flask.testing import FlaskClient

#: Typed answers that take the livelihood survey from its first question to the end.
LIVELIHOOD_ANSWERS = ("0", "เท่าเดิม", "2", "100", "ไม่เคย", "ข้าม", "รับทราบ")


class Respondent:
    """Sends messages as one simulated respondent and reads the bot's replies."""

    def __init__(self, client: FlaskClient, token: str | None = None):
        """A new respondent, issued by the server, or the one `token` names (as a new tab)."""
        self.client = client
        if token is None:
            issued = client.post("/simulator/api/respondents", json={})
            assert issued.status_code == 201, issued.get_data(as_text=True)
            token = issued.get_json()["token"]
        self.token = token
        self.headers = {"X-Simulator-Token": token}
        self.seen = 0
        self.last_buttons: list[dict] = []

    def send(self, **body) -> list[dict]:
        """Send one message (text=, data=, kind=, hello=) and return the new bot messages."""
        response = self.client.post("/simulator/api/send", json=body, headers=self.headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return self.replies()

    def say(self, text: str) -> list[dict]:
        """Type text."""
        return self.send(text=text)

    def tap(self, label: str) -> list[dict]:
        """Tap the button with this label on the latest message that had buttons."""
        data = next(b["data"] for b in self.last_buttons if b["label"] == label)
        return self.send(data=data)

    def replies(self) -> list[dict]:
        """Fetch the bot's messages not seen yet."""
        response = self.client.get(
            f"/simulator/api/messages?after={self.seen}", headers=self.headers
        )
        assert response.status_code == 200
        messages = response.get_json()["messages"]
        if messages:
            self.seen = messages[-1]["id"]
            with_buttons = [m for m in messages if m["buttons"]]
            if with_buttons:
                self.last_buttons = with_buttons[-1]["buttons"]
        return messages

    def onboard(self) -> list[dict]:
        """Open the chat, consent, and give the profile (carriage driver, Lampang city)."""
        self.send(hello=True)
        self.tap("ยินยอม")
        self.tap("คนขับรถม้า")
        return self.tap("เทศบาลนครลำปาง")


def texts(messages: list[dict]) -> str:
    """All the text of some bot messages, joined."""
    return "\n".join(message["text"] for message in messages)


def listed_numbers(messages: list[dict], title: str) -> list[int]:
    """The numbers of the workshops of course `title` in a workshop list ("2. title" lines)."""
    return [
        int(line.split(".", 1)[0])
        for line in texts(messages).splitlines()
        if line.split(".", 1)[0].isdigit() and title in line
    ]


def workshop_button(person: Respondent, messages: list[dict], title: str) -> str:
    """The label of the first listed workshop of course `title` ("2. 8 ธ.ค. place")."""
    number = listed_numbers(messages, title)[0]
    return next(b["label"] for b in person.last_buttons if b["label"].startswith(f"{number}. "))
