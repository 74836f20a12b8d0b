from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, StringField
from wtforms.validators import DataRequired, Email, Length, Regexp


class NewPilotForm(FlaskForm):
    slug = StringField("Slug", validators=[DataRequired(), Length(min=3, max=64),
                                           Regexp(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$", message="Lowercase letters, digits and dashes.")])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    lead_email = EmailField("Lead's email", validators=[DataRequired(), Email(check_deliverability=False)])


class StatusForm(FlaskForm):
    status = HiddenField(validators=[DataRequired()])


class ApiKeyForm(FlaskForm):
    name = StringField("Key name", validators=[Length(max=100)])
