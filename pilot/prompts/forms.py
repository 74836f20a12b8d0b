"""Reading prompt version numbers from a query string or a form, and the GET form of the diff and
comparison pages (no CSRF token: a GET changes nothing)."""
from __future__ import annotations

from typing import Any

from wtforms import StringField
from wtforms.validators import StopValidation

from pilot.pagination import QueryForm

MAX_VERSION_NUMBER = 2**31 - 1  # the column is an INTEGER (the URL converter has the same bound)


def version_number(text: Any) -> int | None:
    """A version number: ASCII digits only (`str.isdigit` also takes '²' and '１', which `int` then
    refuses or reads), from 1 to MAX_VERSION_NUMBER; None for anything else."""
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_VERSION_NUMBER else None


class VersionField(StringField):
    """A version number of the prompt; empty means the page's default version."""

    def pre_validate(self, form: Any) -> None:
        if self.data and version_number(self.data) is None:
            raise StopValidation(f"{self.name}: a version number of this prompt")

    @property
    def number(self) -> int | None:
        return version_number(self.data)


class VersionPairForm(QueryForm):
    """?a=&b= of the diff and comparison pages; a bad number is a 400 naming it."""

    a = VersionField()
    b = VersionField()
