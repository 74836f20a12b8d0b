from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from pilot.models.pilots import ROLES


class InviteForm(FlaskForm):
    external_id = StringField("External user id", validators=[Optional(), Length(max=255)],
                              description="The id your AI feature sends as `user`. Defaults to the email.")
    email = EmailField("Email", validators=[Optional(), Email(check_deliverability=False), Length(max=254)])
    role = SelectField("Role", choices=list(ROLES), default="participant")


class CsvImportForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired()])


class AcceptInviteForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[Optional(), Email(check_deliverability=False), Length(max=254)])
    password = PasswordField("Choose a password", validators=[Optional(), Length(min=8, max=500)])
    consent = BooleanField("I agree that my interactions with the AI feature are logged for this pilot.")


class MemberStatusForm(FlaskForm):
    status = SelectField("Status", choices=["active", "paused", "removed"])
