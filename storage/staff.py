"""The console's accounts and the audit log: who may act, and what they did.

Every function takes a session and leaves the transaction to the caller.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import AuditEntry, StaffUser

#: Failed logins to one account before it is locked, and for how long.
ACCOUNT_ATTEMPTS, LOCKED_FOR = 5, timedelta(minutes=15)
#: Failed logins from one address, to any accounts, within the window before it is refused.
ADDRESS_ATTEMPTS, ADDRESS_WINDOW = 20, timedelta(minutes=15)
LOGIN_FAILED = "login.failed"


def normalized_email(email: str) -> str:
    """An email as accounts are looked up by: trimmed, lower case."""
    return email.strip().lower()


def find_user(session: Session, email: str) -> StaffUser | None:
    """The account with this email, if any."""
    return session.scalars(
        select(StaffUser).where(StaffUser.email == normalized_email(email))
    ).one_or_none()


def add_user(
    session: Session, email: str, role: str, password_hash: str, now: datetime
) -> StaffUser:
    """A new, active account."""
    user = StaffUser(
        email=normalized_email(email),
        role=role,
        password_hash=password_hash,
        active=True,
        session_version=0,
        failed_logins=0,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def note_failed_login(session: Session, user: StaffUser, now: datetime) -> bool:
    """Count a wrong password against the account; True when that locks it."""
    user.failed_logins += 1
    if user.failed_logins < ACCOUNT_ATTEMPTS:
        return False
    user.failed_logins, user.locked_until = 0, now + LOCKED_FOR
    return True


def is_locked(user: StaffUser, now: datetime) -> bool:
    """Whether too many wrong passwords keep the account shut for now."""
    return user.locked_until is not None and user.locked_until > now


def address_refused(session: Session, address: str, now: datetime) -> bool:
    """Whether this address failed to log in too often of late, whichever accounts it tried."""
    failures = session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.action == LOGIN_FAILED,
            AuditEntry.address == address,
            AuditEntry.at > now - ADDRESS_WINDOW,
        )
    )
    return failures >= ADDRESS_ATTEMPTS


def audit(
    session: Session,
    actor: str,
    action: str,
    now: datetime,
    target: str = "",
    address: str = "",
    **detail: Any,
) -> None:
    """Write one entry of the audit log."""
    session.add(
        AuditEntry(
            at=now, actor=actor, action=action, target=target, detail=detail, address=address
        )
    )


def latest_entries(session: Session, limit: int = 200) -> list[AuditEntry]:
    """The newest audit entries first."""
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
