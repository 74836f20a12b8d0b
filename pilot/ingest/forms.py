"""Forms of the price page. Fields are plain text: pilot.pricing.prices parses and validates
them, so the page, the CLI and the tests share one set of rules and messages."""
from flask_wtf import FlaskForm
from wtforms import StringField


class PriceForm(FlaskForm):
    model = StringField("Model (name or prefix)")
    input_per_mtok = StringField("Input, USD per million tokens")
    cached_input_per_mtok = StringField("Cached input, USD per million tokens (empty: same as input)")
    cache_write_per_mtok = StringField("Cache write, USD per million tokens (empty: 1.25 × input for Claude, "
                                       "else same as input)")
    output_per_mtok = StringField("Output, USD per million tokens")
    effective_from = StringField("Effective from (YYYY-MM-DD, empty: always)")


class RemovePriceForm(FlaskForm):
    """A single button; carries the CSRF token."""
