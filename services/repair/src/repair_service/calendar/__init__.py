"""The working-day calendar's API and the city's overrides (repair owns them; the other services learn them by event).

The arithmetic lives in :mod:`jointcredit_common.calendar`, shared by every service."""
