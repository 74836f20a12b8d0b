"""Forms of the participant pages. They carry the CSRF token and the fields; the services check
the values, so the same rules apply to the page, the embed widget and the API. The home page's
query string is a GET form (no token: a GET changes nothing)."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, StringField, TextAreaField

from pilot.pagination import PageField, QueryForm


class HomeQuery(QueryForm):
    """?page= of the member's own interactions, read leniently (odd → 1, huge → the last page)."""

    page = PageField()


class RatingForm(FlaskForm):
    thumbs = StringField()
    rating = StringField()
    comment = TextAreaField()


class ProblemReportForm(FlaskForm):
    interaction = HiddenField()
    problem_type = StringField()
    description = TextAreaField()
    screenshot = FileField()


class GeneralFeedbackForm(FlaskForm):
    kind = StringField()
    description = TextAreaField()


class LeaveForm(FlaskForm):
    confirm = BooleanField("I understand: my questions, answers and comments will be erased, and I cannot undo this.")
