"""GET forms of the analytics pages (no CSRF token: a GET changes nothing). A bad value is not a
400: the page still shows, without it, and says which field it dropped and why."""
from __future__ import annotations

from datetime import date
from typing import Any

from wtforms import StringField
from wtforms.validators import StopValidation, ValidationError

from pilot.analytics.costs import LIMITS, SCALES, CostInputs
from pilot.pagination import QueryForm

EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)


def _errors_by_field(form: QueryForm) -> dict[str, str]:
    """{query parameter: its first error}, in declaration order (the page shows them in this order)."""
    return {field.name: field.errors[0] for field in form if field.errors}


class DayField(StringField):
    """A day as YYYY-MM-DD between EARLIEST and LATEST; empty is "no bound"."""

    @property
    def text(self) -> str:
        return (self.data or "").strip()

    def pre_validate(self, form: Any) -> None:
        if not self.text:
            return
        try:
            day = date.fromisoformat(self.text)
        except ValueError:
            raise StopValidation(f"{self.name}: use a date like 2026-03-01") from None
        if not EARLIEST <= day <= LATEST:
            raise StopValidation(f"{self.name}: pick a date between {EARLIEST} and {LATEST}")

    @property
    def day(self) -> date | None:
        """The day, or None when empty or not valid."""
        try:
            day = date.fromisoformat(self.text) if self.text else None
        except ValueError:
            return None
        return day if day is not None and EARLIEST <= day <= LATEST else None


class DayRangeForm(QueryForm):
    """The dashboard's `from` and `to` (both optional, inclusive); a `to` before `from` is dropped."""

    start = DayField(name="from")
    end = DayField(name="to")

    def validate_end(self, field: DayField) -> None:
        if self.start.day and field.day and self.start.day > field.day:
            raise ValidationError("to: must be on or after from")

    def day_range(self) -> tuple[date | None, date | None, dict[str, str]]:
        """(from, to, {field: message}); a field with an error is None."""
        self.validate()
        return (None if self.start.errors else self.start.day, None if self.end.errors else self.end.day,
                _errors_by_field(self))


class ScaleField(StringField):
    """How many users the page prices for: one of SCALES, thousands separators allowed."""

    @property
    def text(self) -> str:
        return (self.data or "").replace(",", "").strip()

    def pre_validate(self, form: Any) -> None:
        if self.text and self.number is None:
            raise StopValidation("users: pick 100, 1,000, 10,000 or 100,000")

    @property
    def number(self) -> int | None:
        text = self.text
        if text.isascii() and text.isdigit() and len(text) <= 9 and int(text) in SCALES:
            return int(text)
        return None


class BoundedNumberField(StringField):
    """A number from `low` to `high` (LIMITS), whole or not; empty keeps the default."""

    def __init__(self, label: str | None = None, *, low: int, high: int, whole: bool, **kwargs: Any):
        super().__init__(label, **kwargs)
        self.low, self.high, self.whole = low, high, whole

    @property
    def text(self) -> str:
        return (self.data or "").strip()

    def _parse(self) -> int | float:
        """The number as typed (ASCII only: `int` and `float` would read other scripts' digits), or ValueError."""
        if not self.text.isascii():
            raise ValueError(self.name)
        return int(self.text) if self.whole else float(self.text)

    def pre_validate(self, form: Any) -> None:
        if not self.text:
            return
        try:
            value = self._parse()
        except ValueError:
            raise StopValidation(f"{self.name}: must be a {'whole ' if self.whole else ''}number "
                                 f"from {self.low} to {self.high:,}") from None
        if not self.low <= value <= self.high or value != value:  # value != value: NaN
            raise StopValidation(f"{self.name}: must be from {self.low} to {self.high:,}")

    @property
    def number(self) -> int | float | None:
        """The valid value (call after validate), or None."""
        return None if self.errors or not self.text else self._parse()


class CostInputsForm(QueryForm):
    """The cost page's scale selector and what-if inputs; a bad value keeps the default."""

    users = ScaleField()
    short_chars = BoundedNumberField(low=LIMITS["short_chars"][0], high=LIMITS["short_chars"][1], whole=True)
    short_output_tokens = BoundedNumberField(low=LIMITS["short_output_tokens"][0],
                                             high=LIMITS["short_output_tokens"][1], whole=True)
    batch_pct = BoundedNumberField(low=LIMITS["batch_pct"][0], high=LIMITS["batch_pct"][1], whole=False)
    trim_pct = BoundedNumberField(low=LIMITS["trim_pct"][0], high=LIMITS["trim_pct"][1], whole=False)

    def inputs(self) -> tuple[CostInputs, dict[str, str]]:
        """(the inputs, valid values over the defaults; {field: message} for the others)."""
        self.validate()
        inputs = CostInputs()
        if self.users.number is not None and not self.users.errors:
            inputs.users = self.users.number
        for name in LIMITS:
            value = getattr(self, name).number
            if value is not None:
                setattr(inputs, name, value)
        return inputs, _errors_by_field(self)
