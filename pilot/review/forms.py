"""Forms of the review queue: each POST form carries a CSRF token; values are validated again in services.
The GET forms (the queue's filters, the flags API's query) carry none: a GET changes nothing."""
from datetime import date

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import AnyOf, Length, Optional, ValidationError

from pilot.flagging.reasons import REASONS
from pilot.models.flags import FLAG_CATEGORIES, FLAG_KINDS, FLAG_STATUSES, SEVERITIES
from pilot.pagination import CursorField, LimitField, PageField, QueryForm, one_of
from pilot.review.queue import ASSIGNEE_CHOICES, STATUS_CHOICES, Filters
from pilot.review.services import API_PAGE_DEFAULT, API_PAGE_MAX, BULK_ACTIONS, MAX_NOTE_CHARS

DECISIONS = ("confirm", "dismiss", "escalate", "reopen")


class DecisionForm(FlaskForm):
    action = HiddenField(validators=[AnyOf(DECISIONS, message="action must be confirm, dismiss, escalate or reopen")])
    category = SelectField("Category", choices=[SelectChoice(c, c.replace("_", " ")) for c in FLAG_CATEGORIES],
                           validators=[Optional()], validate_choice=False)
    severity = SelectField("Severity", choices=[SelectChoice(s) for s in SEVERITIES], validators=[Optional()],
                           validate_choice=False)
    note = TextAreaField("Note", validators=[Length(max=MAX_NOTE_CHARS)])
    next = HiddenField()


class AssignForm(FlaskForm):
    assignee = SelectField("Assign to", choices=[], validate_choice=False)
    next = HiddenField()


class BulkForm(FlaskForm):
    action = SelectField("With the selected", choices=[SelectChoice(a, a.replace("_", " ")) for a in BULK_ACTIONS],
                         validate_choice=False)
    category = SelectField("Category", choices=[SelectChoice(c, c.replace("_", " ")) for c in FLAG_CATEGORIES],
                           validate_choice=False)
    note = TextAreaField("Note", validators=[Length(max=MAX_NOTE_CHARS)])
    next = HiddenField()


class FlagsQuery(QueryForm):
    """GET /api/v1/pilots/<slug>/flags: the filters, the page size and the cursor; any bad value is a 400."""

    status = StringField(validators=[one_of(FLAG_STATUSES)])
    reason = StringField(validators=[one_of(REASONS)])
    kind = StringField(validators=[one_of(FLAG_KINDS)])
    severity = StringField(validators=[one_of(SEVERITIES)])
    limit = LimitField(default=API_PAGE_DEFAULT, maximum=API_PAGE_MAX)
    cursor = CursorField()

    def filters(self) -> dict[str, str]:
        return {name: getattr(self, name).data for name in ("status", "reason", "kind", "severity")
                if getattr(self, name).data}


class FilterText(StringField):
    """A queue filter's text: NULs dropped, trimmed, at most 255 characters, never None."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = (valuelist[0] if valuelist else "").replace("\x00", "").strip()

    def process_data(self, value) -> None:
        self.data = value or ""


def _listed(choices: tuple[str, ...]):
    """A filter value must be one of `choices` (empty is "any"); the message shows what was sent."""
    def check(form, field) -> None:
        if field.data and field.data not in choices:
            raise ValidationError(f"{field.name}: '{field.data[:40]}' is not one of {', '.join(c for c in choices if c)}")
    return check


def _iso_date(form, field) -> None:
    if field.data:
        try:
            date.fromisoformat(field.data)
        except ValueError:
            raise ValidationError(f"{field.name}: '{field.data[:40]}' is not a date (YYYY-MM-DD)") from None


class QueueFilterForm(QueryForm):
    """The review queue's GET parameters (also the bulk form's copy of them). A bad value is not
    a 400: it is reported ("Filter ignored") and the filter left at its default."""

    kind = FilterText(validators=[_listed(FLAG_KINDS)])
    reason = FilterText(validators=[_listed(tuple(REASONS))])
    severity = FilterText(validators=[_listed(SEVERITIES)])
    status = FilterText(validators=[_listed(STATUS_CHOICES)])
    assignee = FilterText(validators=[_listed(ASSIGNEE_CHOICES)])
    model = FilterText()
    prompt_version = FilterText()
    participant = FilterText()
    date_from = FilterText(validators=[_iso_date])
    date_to = FilterText(validators=[_iso_date])
    escalated = FilterText()
    page = PageField()

    def filters(self) -> Filters:
        """The valid filters; each refused one keeps its default and adds its message to `errors`."""
        self.validate()
        filters = Filters()
        for name in ("kind", "reason", "severity", "status", "assignee"):
            field = getattr(self, name)
            if field.errors:
                filters.errors.extend(field.errors)
            elif field.data or name != "status":  # an empty status keeps the default, "open"
                setattr(filters, name, field.data)
        for name in ("model", "prompt_version", "participant"):
            setattr(filters, name, getattr(self, name).data[:255])
        for name in ("date_from", "date_to"):
            field = getattr(self, name)
            if field.errors:
                filters.errors.extend(field.errors)
            elif field.data:
                setattr(filters, name, date.fromisoformat(field.data))
        filters.escalated = self.escalated.data in ("1", "on", "true", "yes")
        return filters
