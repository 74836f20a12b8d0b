"""Forms of the review queue: each carries a CSRF token; values are validated again in services."""
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import AnyOf, Length, Optional

from pilot.flagging.reasons import REASONS
from pilot.models.flags import FLAG_CATEGORIES, FLAG_KINDS, FLAG_STATUSES, SEVERITIES
from pilot.pagination import CursorField, LimitField, QueryForm, one_of
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
