"""The console's roles, and which of them may do what."""

from __future__ import annotations

ADMIN, COORDINATOR, RESEARCHER = "admin", "coordinator", "researcher"
ROLES = (ADMIN, COORDINATOR, RESEARCHER)
#: Who runs workshops and sees respondents' contact details.
RUNS_WORKSHOPS = (ADMIN, COORDINATOR)
#: Who downloads the answers for analysis (never names, phone numbers or platform ids).
EXPORTS = (ADMIN, RESEARCHER)
