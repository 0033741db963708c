"""Quiet hours: messages that are not urgent wait until morning (21:00–08:00 Asia/Bangkok)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

QUIET_FROM = time(21, 0)
QUIET_UNTIL = time(8, 0)


def next_allowed(moment: datetime, tz: ZoneInfo) -> datetime:
    """Return `moment`, or 08:00 local after it when it falls in quiet hours, in moment's zone.

    >>> from datetime import UTC
    >>> bangkok = ZoneInfo("Asia/Bangkok")
    >>> next_allowed(datetime(2026, 11, 23, 15, 30, tzinfo=UTC), bangkok).isoformat()  # 22:30 local
    '2026-11-24T01:00:00+00:00'
    >>> next_allowed(datetime(2026, 11, 23, 3, 0, tzinfo=UTC), bangkok).isoformat()  # 10:00 local
    '2026-11-23T03:00:00+00:00'
    """
    local = moment.astimezone(tz)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return moment
    morning = local.replace(hour=QUIET_UNTIL.hour, minute=0, second=0, microsecond=0)
    # back in the caller's zone: SQLite keeps no offset, so everything stored must be UTC
    after = morning if local.time() < QUIET_UNTIL else morning + timedelta(days=1)
    return after.astimezone(moment.tzinfo)
