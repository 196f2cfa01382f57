"""Date helpers. Records keep dates as ISO strings; arithmetic happens here."""

from __future__ import annotations

import datetime as dt

from .errors import AluregError


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError) as e:
        raise AluregError(f"{text!r} is not a date (YYYY-MM-DD)") from e


def add_years(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def next_day(text: str) -> str:
    return (parse_date(text) + dt.timedelta(days=1)).isoformat()


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()
