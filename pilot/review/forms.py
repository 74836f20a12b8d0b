"""Forms of the review queue: each carries a CSRF token; values are validated again in services."""
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import AnyOf, Length, Optional

from pilot.models.flags import FLAG_CATEGORIES, SEVERITIES
from pilot.review.services import BULK_ACTIONS, MAX_NOTE_CHARS

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
