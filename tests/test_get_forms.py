"""The GET forms of the analytics, prompt and participant pages, and the numbers read from POST
forms: every bad value (malformed, out of range, '²' — a digit to `str.isdigit` that `int` refuses
—, full-width '１', NUL) is a message naming the field, never a 500."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from pilot.analytics.costs import LIMITS, CostInputs
from pilot.analytics.forms import CostInputsForm, DayRangeForm
from pilot.extensions import db
from pilot.models import BackgroundJob, PromptEvent
from pilot.pagination import MAX_PAGE
from pilot.participant.forms import HomeQuery
from pilot.prompts import registry
from pilot.prompts.forms import MAX_VERSION_NUMBER, VersionPairForm, version_number

SUPERSCRIPT_TWO = "\u00b2"  # '²': str.isdigit() is True, int() raises
FULLWIDTH_ONE = "\uff11"  # '１': int() reads it as 1
FULLWIDTH_DATE = "\uff12\uff10\uff12\uff16-03-01"  # '２０２６-03-01'
HUGE = "9" * 5000  # over int()'s 4,300-digit limit for text: int() raises
DATE_HINT = "use a date like 2026-03-01"
USERS_HINT = "users: pick 100, 1,000, 10,000 or 100,000"


@pytest.fixture()
def request_context(app):
    with app.test_request_context():
        yield


def day_range(**args):
    return DayRangeForm(MultiDict(args)).day_range()


def cost_inputs(**args):
    return CostInputsForm(MultiDict(args)).inputs()


# --- DayRangeForm ----------------------------------------------------------------------------------

def test_day_range_valid_and_empty(request_context):
    assert day_range(**{"from": "2026-03-01", "to": " 2026-03-31 "}) == (date(2026, 3, 1), date(2026, 3, 31), {})
    assert day_range(**{"from": "2026-03-01", "to": "2026-03-01"}) == (date(2026, 3, 1), date(2026, 3, 1), {})
    assert day_range() == (None, None, {})
    assert day_range(**{"from": "", "to": "  "}) == (None, None, {})


@pytest.mark.parametrize("text,message", [
    ("yesterday", DATE_HINT), ("2026-02-30", DATE_HINT), ("2026-03-01T10:00", DATE_HINT),
    (SUPERSCRIPT_TWO, DATE_HINT), (FULLWIDTH_ONE, DATE_HINT), (FULLWIDTH_DATE, DATE_HINT), ("\x00", DATE_HINT),
    ("2026-03-01\x00", DATE_HINT), (HUGE, DATE_HINT),
    ("0001-01-01", "pick a date between 1970-01-01 and 9998-12-31"),
    ("9999-12-31", "pick a date between 1970-01-01 and 9998-12-31"),
])
@pytest.mark.parametrize("field", ["from", "to"])
def test_day_range_bad_values_name_the_field_and_are_dropped(request_context, field, text, message):
    other = "to" if field == "from" else "from"
    start, end, errors = day_range(**{field: text, other: "2026-03-05"})
    assert errors == {field: f"{field}: {message}"}
    assert (start, end) == ((None, date(2026, 3, 5)) if field == "from" else (date(2026, 3, 5), None))


def test_day_range_to_before_from_drops_to(request_context):
    assert day_range(**{"from": "2026-03-05", "to": "2026-03-01"}) == (
        date(2026, 3, 5), None, {"to": "to: must be on or after from"})


def test_day_range_both_bad_reports_both_in_order(request_context):
    assert list(day_range(**{"to": "x", "from": SUPERSCRIPT_TWO})[2]) == ["from", "to"]


# --- CostInputsForm --------------------------------------------------------------------------------

def test_cost_inputs_valid_and_empty(request_context):
    assert cost_inputs() == (CostInputs(), {})
    assert cost_inputs(users="", short_chars=" ", trim_pct="") == (CostInputs(), {})
    inputs, errors = cost_inputs(users=" 10,000 ", short_chars="0", short_output_tokens="10000000", batch_pct="100",
                                 trim_pct="2.5")
    assert errors == {}
    assert inputs == CostInputs(users=10_000, short_chars=0, short_output_tokens=10_000_000, batch_pct=100.0,
                                trim_pct=2.5)


@pytest.mark.parametrize("text", ["7", "1e3", "lots", "-100", "1000.0", SUPERSCRIPT_TWO, "1" + SUPERSCRIPT_TWO,
                                  FULLWIDTH_ONE + "00", "\x00", "100\x00", HUGE])
def test_cost_inputs_bad_users_keep_the_default(request_context, text):
    assert cost_inputs(users=text) == (CostInputs(), {"users": USERS_HINT})


@pytest.mark.parametrize("field", list(LIMITS))
@pytest.mark.parametrize("text,kind", [
    ("lots", "malformed"), (SUPERSCRIPT_TWO, "malformed"), (FULLWIDTH_ONE + "2", "malformed"),
    ("\x00", "malformed"), ("1\x00", "malformed"), ("-1", "range"), ("10000001", "range"),
])
def test_cost_inputs_bad_numbers_name_the_field_and_keep_the_default(request_context, field, text, kind):
    low, high = LIMITS[field]
    whole = field in ("short_chars", "short_output_tokens")
    message = (f"{field}: must be a {'whole ' if whole else ''}number from {low} to {high:,}" if kind == "malformed"
               else f"{field}: must be from {low} to {high:,}")
    inputs, errors = cost_inputs(**{field: text})
    assert errors == {field: message}
    assert inputs == CostInputs()


@pytest.mark.parametrize("field,text,message", [
    ("short_chars", "2.5", "short_chars: must be a whole number from 0 to 10,000,000"),
    ("short_chars", HUGE, "short_chars: must be a whole number from 0 to 10,000,000"),
    ("batch_pct", "101", "batch_pct: must be from 0 to 100"),
    ("trim_pct", "nan", "trim_pct: must be from 0 to 100"),
    ("trim_pct", "1e309", "trim_pct: must be from 0 to 100"),
    ("trim_pct", HUGE, "trim_pct: must be from 0 to 100"),
])
def test_cost_inputs_other_bad_numbers(request_context, field, text, message):
    assert cost_inputs(**{field: text}) == (CostInputs(), {field: message})


def test_cost_inputs_errors_in_page_order_and_good_fields_kept(request_context):
    inputs, errors = cost_inputs(trim_pct=SUPERSCRIPT_TWO, users=SUPERSCRIPT_TWO, batch_pct="40")
    assert list(errors) == ["users", "trim_pct"]
    assert inputs == CostInputs(batch_pct=40.0)


# --- version numbers -------------------------------------------------------------------------------

@pytest.mark.parametrize("text,number", [
    ("1", 1), ("42", 42), (str(MAX_VERSION_NUMBER), MAX_VERSION_NUMBER), ("007", 7),
    ("", None), (None, None), (3, None), ("0", None), (str(MAX_VERSION_NUMBER + 1), None), ("-1", None),
    ("1.0", None), (" 1", None), ("1 ", None), ("abc", None), (SUPERSCRIPT_TWO, None), ("1" + SUPERSCRIPT_TWO, None),
    (FULLWIDTH_ONE, None), ("\u0663", None), ("\x00", None), ("1\x00", None), ("9" * 30, None), (HUGE, None),
])
def test_version_number_is_ascii_digits_from_1_to_2_31_minus_1(text, number):
    assert version_number(text) == number


def version_pair(**args):
    form = VersionPairForm(MultiDict(args))
    return form.validate(), form.a.number, form.b.number, form.first_error()


def test_version_pair_valid_and_empty(request_context):
    assert version_pair(a="1", b="2") == (True, 1, 2, None)
    assert version_pair() == (True, None, None, None)
    assert version_pair(a="", b="3") == (True, None, 3, None)


@pytest.mark.parametrize("text", ["zz", "0", "-1", "1.5", str(2**31), SUPERSCRIPT_TWO, FULLWIDTH_ONE, "\x00", HUGE])
@pytest.mark.parametrize("field", ["a", "b"])
def test_version_pair_bad_value_names_the_field(request_context, field, text):
    valid, *_, error = version_pair(**{field: text})
    assert not valid and error == f"{field}: a version number of this prompt"


def test_version_pair_reports_a_before_b(request_context):
    assert version_pair(a=SUPERSCRIPT_TWO, b="x")[3] == "a: a version number of this prompt"


# --- the participant's page number (lenient: never an error) ----------------------------------------

@pytest.mark.parametrize("text,number", [
    ("3", 3), ("", 1), (SUPERSCRIPT_TWO, 1), (FULLWIDTH_ONE, 1), ("\x00", 1), ("-2", 1), ("9" * 30, MAX_PAGE),
])
def test_home_query_page_is_lenient(request_context, text, number):
    form = HomeQuery(MultiDict({"page": text}))
    assert form.validate() and form.page.data == number
    assert HomeQuery(MultiDict()).page.data == 1


# --- the pages: a bad value is the page (or a 400/404) with the field's message, not a 500 -------------

@pytest.mark.parametrize("query,message", [
    ("from=%C2%B2", f"from: {DATE_HINT}"), ("to=%EF%BC%91", f"to: {DATE_HINT}"), ("to=10000-01-01", f"to: {DATE_HINT}"),
    ("from=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-03-01", f"from: {DATE_HINT}"),
])
def test_dashboard_bad_day_is_the_page_with_the_message(client_as, world, query, message):
    response = client_as("reviewer").get(f"/pilots/alpha?{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page and 'aria-invalid="true"' in page


@pytest.mark.parametrize("query,message", [
    ("users=%C2%B2", USERS_HINT), ("users=%EF%BC%91000", USERS_HINT),
    ("short_chars=%C2%B2", "short_chars: must be a whole number from 0 to 10,000,000"),
    ("short_output_tokens=%EF%BC%91", "short_output_tokens: must be a whole number from 0 to 10,000,000"),
    ("batch_pct=%C2%B2", "batch_pct: must be a number from 0 to 100"),
    ("trim_pct=101", "trim_pct: must be from 0 to 100"),
])
def test_cost_page_bad_input_is_the_page_with_the_message(client_as, world, query, message):
    response = client_as("reviewer").get(f"/pilots/alpha/costs?{query}")
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


@pytest.fixture()
def prompt(world):
    v1 = registry.create_version(db.session, world.pilot, "support", "Help. {{question}}", author=world.lead)
    registry.create_version(db.session, world.pilot, "support", "Help briefly. {{question}}", author=world.lead)
    db.session.commit()
    return v1.prompt


@pytest.mark.parametrize("page", ["diff", "compare"])
@pytest.mark.parametrize("query,message", [
    ("a=%C2%B2", "a: a version number of this prompt"), ("b=%EF%BC%91", "b: a version number of this prompt"),
    ("a=1&b=zz", "b: a version number of this prompt"), ("a=2147483648", "a: a version number of this prompt"),
])
def test_diff_and_compare_bad_version_is_a_400_naming_it(client_as, prompt, page, query, message):
    reviewer = client_as("reviewer")
    response = reviewer.get(f"/pilots/alpha/prompts/support/{page}?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert reviewer.get(f"/pilots/alpha/prompts/support/{page}?a=1&b=2").status_code == 200
    assert reviewer.get(f"/pilots/alpha/prompts/support/{page}").status_code == 200  # the defaults


@pytest.mark.parametrize("text", [SUPERSCRIPT_TWO, FULLWIDTH_ONE, "0", HUGE])
def test_move_label_bad_number_is_a_400_naming_it(client_as, prompt, text):
    events = db.session.scalar(sa.select(sa.func.count(PromptEvent.id)))
    response = client_as("lead").post("/pilots/alpha/prompts/support/label", data={"label": "production", "number": text})
    assert response.status_code == 400
    assert "Not done: number: a version number of this prompt." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(PromptEvent.id))) == events


@pytest.mark.parametrize("data,message", [
    ({"number": SUPERSCRIPT_TWO, "size": "5"}, "number: the version whose real inputs make the set"),
    ({"number": FULLWIDTH_ONE, "size": "5"}, "number: the version whose real inputs make the set"),
    ({"number": "1", "size": SUPERSCRIPT_TWO}, "size: a whole number from 1 to 1,000"),
    ({"number": "1", "size": FULLWIDTH_ONE}, "size: a whole number from 1 to 1,000"),
    ({"number": "1", "size": "1.5"}, "size: a whole number from 1 to 1,000"),
    ({"number": "1", "size": HUGE}, "size: from 1 to 1,000"),
])
def test_build_regression_bad_number_or_size_is_a_400_naming_it(client_as, prompt, data, message):
    response = client_as("lead").post("/pilots/alpha/prompts/support/regression", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize("text", [SUPERSCRIPT_TWO, FULLWIDTH_ONE, "0", HUGE])
def test_report_pdf_bad_number_is_a_404_naming_it(client_as, world, text):
    response = client_as("reviewer").post("/pilots/alpha/readiness/pdf", data={"number": text})
    assert response.status_code == 404
    assert f"No report #{text[:20]} in this pilot." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(BackgroundJob.id))) == 0


@pytest.mark.parametrize("text", [SUPERSCRIPT_TWO, FULLWIDTH_ONE, "-1", HUGE])
def test_bulk_on_all_matching_with_a_bad_count_says_so(client_as, world, text):
    form = {"action": "dismiss", "category": "other", "all_matching": "1", "status": "open", "expected_count": text}
    response = client_as("reviewer").post("/pilots/alpha/review/bulk", data=form, follow_redirects=True)
    assert response.status_code == 200
    assert "the filter or its count is not valid: reload the queue" in response.get_data(as_text=True)


@pytest.mark.parametrize("text", ["%C2%B2", "%EF%BC%91", "-2", "9" * 30])
def test_participant_home_with_an_odd_page_is_a_page(client_as, world, text):
    response = client_as("participant").get(f"/pilots/alpha/me?page={text}")
    assert response.status_code == 200


@pytest.mark.parametrize("path,method,field", [
    ("/pilots/alpha?from=2026-03-01%00", "get", "from"), ("/pilots/alpha/costs?users=1%00", "get", "users"),
    ("/pilots/alpha/prompts/support/diff?a=%00", "get", "a"), ("/pilots/alpha/prompts/support/compare?b=%00", "get", "b"),
    ("/pilots/alpha/me?page=%00", "get", "page"),
    ("/pilots/alpha/prompts/support/label", "post", "number"), ("/pilots/alpha/readiness/pdf", "post", "number"),
])
def test_a_nul_in_any_of_these_fields_is_a_400_naming_it(client_as, prompt, path, method, field):
    """NUL never reaches the forms in a request: the app-wide guard (pilot.security) refuses it first."""
    client = client_as("lead")
    response = client.get(path) if method == "get" else client.post(path, data={field: "1\x00"})
    assert response.status_code == 400
    assert f"{field}: must not contain control characters (such as NUL)" in response.get_data(as_text=True)
