"""Courses and who showed interest in them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Course, CourseInterest

#: The columns of a course table, as coordinators keep it in a spreadsheet.
COURSE_COLUMNS = ("code", "kind", "groups", "focus", "title_th", "title_en")
KINDS = frozenset({"upskill", "reskill"})


def save_courses(session: Session, rows: Iterable[Mapping[str, str]]) -> int:
    """Add or update courses by code; `groups` and `focus` are space-separated ids."""
    count = 0
    for row in rows:
        missing = [column for column in COURSE_COLUMNS if not (row.get(column) or "").strip()]
        if missing:
            raise ValueError(f"course {row.get('code') or '?'} lacks {', '.join(missing)}")
        if row["kind"].strip().lower() not in KINDS:
            raise ValueError(f"course {row['code']}: kind must be upskill or reskill")
        course = session.scalars(select(Course).where(Course.code == row["code"].strip())).first()
        if course is None:
            course = Course(code=row["code"].strip())
            session.add(course)
        course.kind = row["kind"].strip().lower()
        course.groups = row["groups"].split()
        course.focus = row["focus"].split()
        course.title_th, course.title_en = row["title_th"].strip(), row["title_en"].strip()
        course.description_th = (row.get("description_th") or "").strip()
        course.description_en = (row.get("description_en") or "").strip()
        count += 1
    session.flush()
    return count


def all_courses(session: Session) -> list[Course]:
    """Every course, in the order they were added."""
    return list(session.scalars(select(Course).order_by(Course.id)))


def record_interest(session: Session, respondent_id: int, code: str, now: datetime) -> None:
    """Note that a respondent wants a course, for coordinators to follow up."""
    course = session.scalars(select(Course).where(Course.code == code)).first()
    if course is not None:
        session.add(
            CourseInterest(respondent_id=respondent_id, course_id=course.id, recorded_at=now)
        )
