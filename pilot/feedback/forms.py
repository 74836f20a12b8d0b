"""Forms of the team's feedback pages: the POST form (the CSRF token; the services check the
values) and the GET filters (no token: a GET changes nothing)."""
from datetime import date

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import ValidationError

from pilot.access import parse_id
from pilot.feedback.team import TYPE_CHOICES, FeedbackFilters
from pilot.models.feedback import REPORT_STATUSES
from pilot.pagination import PageField, QueryForm


class ReportStatusForm(FlaskForm):
    status = StringField()
    note = TextAreaField()
    back = HiddenField()


def _type(form, field) -> None:
    if (field.data or "") not in TYPE_CHOICES:
        raise ValidationError("type: choose one of the listed types")


def _rating(form, field) -> None:
    if field.data and field.data not in {"1", "2", "3", "4", "5"}:
        raise ValidationError("rating: choose 1 to 5")


def _participant(form, field) -> None:
    if field.data and parse_id(field.data) is None:
        raise ValidationError("participant: choose someone from the list")


def _status(form, field) -> None:
    if (field.data or "") not in ("",) + REPORT_STATUSES:
        raise ValidationError("status: choose " + ", ".join(REPORT_STATUSES))


def _day(form, field) -> None:
    if field.data:
        try:
            date.fromisoformat(field.data)
        except ValueError:
            raise ValidationError(f"{field.name.replace('_', ' ')}: use a date like 2026-05-31") from None


class FeedbackFilterForm(QueryForm):
    """The team feedback page's query string. A bad value is dropped with a message naming the
    field (the page still shows, unfiltered by it)."""

    type = StringField(validators=[_type])
    rating = StringField(validators=[_rating])
    participant = StringField(validators=[_participant])
    status = StringField(validators=[_status])
    date_from = StringField(validators=[_day])
    date_to = StringField(validators=[_day])
    ratings_page = PageField()
    reports_page = PageField()

    def filters(self) -> FeedbackFilters:
        self.validate()
        filters = FeedbackFilters()
        for field in self:
            filters.errors.extend(field.errors)
        if not self.type.errors:
            filters.type = self.type.data or ""
        if self.rating.data and not self.rating.errors:
            filters.rating = int(self.rating.data)
        if self.participant.data:
            filters.participant = parse_id(self.participant.data)
        if not self.status.errors:
            filters.status = self.status.data or ""
        for name in ("date_from", "date_to"):
            field = getattr(self, name)
            if field.data and not field.errors:
                setattr(filters, name, date.fromisoformat(field.data))
        return filters
