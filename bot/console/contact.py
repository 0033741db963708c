"""A respondent's contact details (channel and platform id): shown only on request, and each
look written to the audit log."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.console.accounts import audit_here
from storage.models import Respondent


def contact_of(db: Session, person: Respondent) -> dict[str, str]:
    """How to reach a respondent, written to the audit log as looked at."""
    audit_here(db, "contact.viewed", target=f"respondent:{person.id}")
    return {"channel": person.channel, "address": person.channel_user_id}
