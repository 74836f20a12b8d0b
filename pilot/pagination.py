"""Paging for every list page and list API, and the GET forms that read its parameters.

Two shapes, one module:
- numbered pages (`?page=N`, the HTML lists): `paginate` counts in SQL and clamps the number to
  the last page; `page_number` reads any text leniently (odd or missing → 1, huge → capped), so
  an old or edited link still shows a page;
- keyset cursors (`?cursor=…&limit=N`, the list APIs): `after_cursor` pages by an increasing id
  column; `limit` is validated strictly (out of range or not digits → 400 naming the bounds).
Short "newest N" lists (audit log, users) are a plain `.limit()` in their service.

GET parameters are read by WTForms forms (`QueryForm`, no CSRF token: a GET changes nothing).
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterable, Sequence, TypeVar

import sqlalchemy as sa
from flask import request
from flask_wtf import FlaskForm
from sqlalchemy import orm as so
from wtforms import Field, StringField
from wtforms.validators import StopValidation

T = TypeVar("T")

MAX_PAGE = 1_000_000  # a page number beyond this is read as this (then clamped to the last page)
MAX_CURSOR_DIGITS = 18  # a cursor is a BIGINT id


@dataclass
class Page(Generic[T]):
    """One page of a list, with what the pager needs."""

    items: list[T]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(value: Any) -> int:
    """A page number from a query string; anything odd is page 1, anything huge is MAX_PAGE."""
    text = str(value).strip() if value is not None else ""
    if not text.isascii() or not text.isdigit():
        return 1
    if len(text) > len(str(MAX_PAGE)):
        return MAX_PAGE
    return max(1, min(int(text), MAX_PAGE))


def last_page(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def clamp_page(number: int, total: int, per_page: int) -> int:
    """`number` within 1..the last page of `total` rows."""
    return min(max(1, number), last_page(total, per_page))


def paginate(session: so.Session, statement: sa.Select, number: int, per_page: int,
             shape: Callable[[Sequence[Any]], list[Any]] | None = None) -> Page:
    """Run `statement` for page `number` (1-based, clamped to the last page) and count it in SQL.
    Rows of one column become that value, unless `shape` turns the rows into items itself."""
    total = session.scalar(sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())) or 0
    number = clamp_page(number, total, per_page)
    rows = session.execute(statement.limit(per_page).offset((number - 1) * per_page)).all()
    items = shape(rows) if shape is not None else [row[0] if len(row) == 1 else row for row in rows]
    return Page(items, number, per_page, total)


# --- keyset cursors (the list APIs) -------------------------------------------------------------

def encode_cursor(last_id: int) -> str:
    """The last id of the page, as digits (the OpenAPI document gives their pattern)."""
    return str(last_id)


def decode_cursor(cursor: str) -> int:
    """The last id of the previous page; ValueError for anything we did not hand out.
    Digits are today's cursors; base64 "f:<id>" ones were handed out before and still work."""
    if cursor.isascii() and cursor.isdigit() and len(cursor) <= MAX_CURSOR_DIGITS:
        return int(cursor)
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("cursor") from None
    if not text.startswith("f:") or not text[2:].isdigit() or len(text) > 24:
        raise ValueError("cursor")
    return int(text[2:])


@dataclass
class CursorPage(Generic[T]):
    """One page of an API list and the cursor of the next (None on the last page)."""

    items: list[T]
    next: str | None


def after_cursor(session: so.Session, statement: sa.Select, id_column: sa.ColumnElement, after: int | None,
                 limit: int) -> CursorPage:
    """The `limit` rows of `statement` after id `after`, in id order, and the next page's cursor."""
    if after is not None:
        statement = statement.where(id_column > after)
    rows = session.execute(statement.order_by(id_column).limit(limit + 1)).all()
    page = rows[:limit]
    return CursorPage(list(page), encode_cursor(page[-1][0]) if len(rows) > limit else None)


# --- GET forms ----------------------------------------------------------------------------------

class QueryForm(FlaskForm):
    """A form read from the query string: no CSRF token (a GET changes nothing)."""

    class Meta:
        csrf = False

    def __init__(self, formdata: Any = None, **kwargs: Any):
        super().__init__(formdata=request.args if formdata is None else formdata, **kwargs)

    def first_error(self) -> str | None:
        """The first field's first error (fields in declaration order), for a 400's message."""
        for field in self:
            if field.errors:
                return field.errors[0]
        return None


class PageField(Field):
    """A page number, read leniently (see page_number): it never fails validation."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = page_number(valuelist[0] if valuelist else None)

    def process_data(self, value: Any) -> None:
        self.data = page_number(value) if value is not None else 1


class LimitField(StringField):
    """Rows per API page: ASCII digits from 1 to `maximum`, else a 400 naming the range."""

    def __init__(self, label: str | None = None, *, default: int, maximum: int, **kwargs: Any):
        super().__init__(label, default=str(default), **kwargs)
        self.maximum = maximum

    def pre_validate(self, form: Any) -> None:
        text = self.data if self.data is not None else ""
        if not (text.isascii() and text.isdigit() and len(text) <= 9 and 1 <= int(text) <= self.maximum):
            raise StopValidation(f"{self.name} must be a whole number from 1 to {self.maximum}")

    @property
    def number(self) -> int:
        return int(self.data)


class CursorField(StringField):
    """The `next` value of the previous page (see decode_cursor); empty means the first page."""

    def pre_validate(self, form: Any) -> None:
        if self.data:
            try:
                decode_cursor(self.data)
            except ValueError:
                raise StopValidation(f"{self.name} is not valid: pass back the 'next' value of the previous page") \
                    from None

    @property
    def after(self) -> int | None:
        return decode_cursor(self.data) if self.data else None


def one_of(choices: Iterable[str]) -> Callable[[Any, Any], None]:
    """A validator: empty, or exactly one of `choices` (the message lists them)."""
    allowed = tuple(choices)

    def check(form: Any, field: Any) -> None:
        if field.data and field.data not in allowed:
            raise StopValidation(f"{field.name} must be one of: {', '.join(allowed)}")
    return check
