"""Forms of the team's feedback pages (the CSRF token; the services check the values)."""
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField


class ReportStatusForm(FlaskForm):
    status = StringField()
    note = TextAreaField()
    back = HiddenField()
