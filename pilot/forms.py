"""The form every capability shares; a leaf module, so a blueprint need not import another's forms."""
from flask_wtf import FlaskForm


class CsrfOnlyForm(FlaskForm):
    """For forms whose fields come from a table (settings) or that are a single button."""
