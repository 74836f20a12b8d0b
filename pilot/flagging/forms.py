"""The flagging forms: their fields come from the settings table, so they carry only the CSRF token."""
from flask_wtf import FlaskForm


class RuleSettingsForm(FlaskForm):
    """Rule settings and scenarios; the fields are parsed by pilot.flagging.settings."""


class ReflagForm(FlaskForm):
    """The lead's "Re-run flags" button."""
