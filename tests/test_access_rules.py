"""The rules in pilot/access.py, each with its denial: roles, pilot scoping, per-object rules, can()."""
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask_login import AnonymousUserMixin, login_user, logout_user
from werkzeug.exceptions import NotFound

from pilot import access
from pilot.models import Flag, Membership, Report
from pilot.review import services as review
from tests.flagging_helpers import make_interactions


def _flag(world, db) -> Flag:
    make_interactions(world.pilot, [{"status": "error"}])
    return db.session.scalars(sa.select(Flag).where(Flag.pilot_id == world.pilot.id)).first()


def _report(world, db, membership) -> Report:
    report = Report(pilot_id=world.pilot.id, membership_id=membership.id, description="broken")
    db.session.add(report)
    db.session.commit()
    return report


@pytest.mark.parametrize("who,lead,team", [
    ("admin", True, True), ("lead", True, True), ("reviewer", False, True),
    ("participant", False, False), ("other_lead", False, False),
])
def test_role_predicates(world, db, who, lead, team):
    user = getattr(world, who)
    assert access.is_lead(user, world.pilot) is lead
    assert access.is_team(user, world.pilot) is team
    assert access.is_admin(user) is (who == "admin")


def test_anonymous_has_no_role(world, db):
    anonymous = AnonymousUserMixin()
    assert not access.is_admin(anonymous)
    assert not access.is_lead(anonymous, world.pilot)
    assert not access.is_team(anonymous, world.pilot)


def test_unknown_role_is_refused_even_to_an_admin(world, db):
    assert access.user_has_role(world.admin, world.pilot, "owner") is False


def test_paused_lead_is_no_lead(world, db):
    membership = db.session.scalar(sa.select(Membership).where(Membership.user_id == world.lead.id))
    membership.status = "paused"
    db.session.commit()
    assert not access.is_lead(world.lead, world.pilot)


def test_scoped_or_404_finds_only_this_pilots_rows(world, db):
    membership = world.participant_membership
    assert access.scoped_or_404(Membership, membership.id, world.pilot) is membership
    with pytest.raises(NotFound):
        access.scoped_or_404(Membership, membership.id, world.other_pilot)
    with pytest.raises(NotFound):
        access.scoped_or_404(Membership, 2**31 - 1, world.pilot)  # membership ids are INTEGER
    with pytest.raises(NotFound):
        access.scoped_or_404(Membership, None, world.pilot)


def test_scoped_returns_none_for_another_pilots_row(world, db):
    membership = world.participant_membership
    assert access.scoped(db.session, Membership, membership.id, world.pilot) is membership
    assert access.scoped(db.session, Membership, membership.id, world.other_pilot) is None
    assert access.scoped(db.session, Membership, None, world.pilot) is None


def test_escalated_flag_waits_for_a_lead():
    escalated, plain = SimpleNamespace(escalated=True), SimpleNamespace(escalated=False)
    assert access.may_decide(escalated, True)
    assert not access.may_decide(escalated, False)
    assert access.may_decide(plain, False)
    assert not access.may_decide(escalated, 1), "only a real True grants lead rights"


def test_review_decisions_require_an_explicit_lead_right(world, db):
    """No decision defaults to lead rights: leaving the argument out is an error, not a grant."""
    flag = _flag(world, db)
    with pytest.raises(TypeError):
        review.dismiss(db.session, flag, world.reviewer)
    with pytest.raises(TypeError):
        review.confirm(db.session, flag, world.reviewer, category="other")
    with pytest.raises(TypeError):
        review.reopen(db.session, flag, world.reviewer)
    review.escalate(db.session, flag, world.reviewer)
    with pytest.raises(review.NotAllowed):
        review.dismiss(db.session, flag, world.reviewer, actor_is_lead=False)
    review.dismiss(db.session, flag, world.lead, actor_is_lead=True)
    assert flag.status == "dismissed"


def test_screenshot_is_for_its_reporter_and_the_team(world, db):
    report = _report(world, db, world.participant_membership)
    assert access.may_see_screenshot(world.participant, report, world.pilot)
    assert access.may_see_screenshot(world.reviewer, report, world.pilot)
    assert access.may_see_screenshot(world.admin, report, world.pilot)
    assert not access.may_see_screenshot(world.other_participant, report, world.pilot)
    assert not access.may_see_screenshot(world.other_lead, report, world.pilot)
    assert not access.may_see_screenshot(world.lead, report, world.other_pilot), "another pilot's report"


def _can_as(app, user, action, obj=None):
    with app.test_request_context():
        login_user(user) if user is not None else logout_user()
        return access.can(action, obj)


@pytest.mark.parametrize("who,expected", [
    ("admin", {"administer", "participate", "review", "lead"}),
    ("lead", {"participate", "review", "lead", "sign_report"}),
    ("reviewer", {"participate", "review"}),
    ("participant", {"participate"}),
    ("other_lead", set()),
])
def test_can_on_a_pilot(app, world, db, who, expected):
    user = getattr(world, who)
    for action in ("administer", "participate", "review", "lead", "sign_report"):
        obj = None if action == "administer" else world.pilot
        assert _can_as(app, user, action, obj) is (action in expected), action


def test_can_decide_and_see_screenshot(app, world, db):
    flag = _flag(world, db)
    report = _report(world, db, world.participant_membership)
    assert _can_as(app, world.reviewer, "decide_flag", flag)
    assert not _can_as(app, world.participant, "decide_flag", flag)
    assert not _can_as(app, world.other_lead, "decide_flag", flag)
    flag.escalated = True
    db.session.commit()
    assert not _can_as(app, world.reviewer, "decide_flag", flag)
    assert _can_as(app, world.lead, "decide_flag", flag)
    assert _can_as(app, world.participant, "see_screenshot", report)
    assert not _can_as(app, world.other_participant, "see_screenshot", report)


def test_only_a_participant_may_leave_and_only_themselves(app, world, db):
    lead_membership = db.session.scalar(sa.select(Membership).where(Membership.user_id == world.lead.id))
    assert access.may_leave(world.participant_membership)
    assert not access.may_leave(lead_membership)
    assert _can_as(app, world.participant, "leave", world.participant_membership)
    assert not _can_as(app, world.other_participant, "leave", world.participant_membership)
    assert not _can_as(app, world.lead, "leave", lead_membership)


def test_can_fails_closed(app, world, db):
    assert not _can_as(app, world.admin, "delete_everything", world.pilot), "unknown action"
    assert not _can_as(app, world.admin, "", None)
    assert not _can_as(app, world.admin, "lead", None), "wrong object type"
    assert not _can_as(app, world.admin, "decide_flag", world.pilot), "wrong object type"
    assert not _can_as(app, None, "review", world.pilot), "anonymous"


def test_belongs_to_fails_closed():
    pilot = SimpleNamespace(id=1)
    assert access.belongs_to(SimpleNamespace(pilot_id=1), pilot)
    assert not access.belongs_to(SimpleNamespace(pilot_id=2), pilot)
    assert not access.belongs_to(SimpleNamespace(pilot_id=None), pilot)  # a global row belongs to no pilot
    assert not access.belongs_to(None, pilot)
    assert not access.belongs_to(SimpleNamespace(pilot_id=1), None)


def _access_decisions_outside_the_module() -> list[str]:
    """Decisions (the test of an if, a conditional expression, an assert or a comprehension's
    filter) that read `.is_admin` or compare an object's `pilot_id` with an `.id`, anywhere in
    pilot/ but access.py and the models. SQL expressions (`Model.pilot_id == pilot.id`, a column
    of a class) are not decisions and are not looked at."""
    import ast
    from pathlib import Path

    root = Path(access.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.as_posix() == "access.py" or relative.parts[0] == "models":
            continue
        tests = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.If, ast.IfExp, ast.While, ast.Assert)):
                tests.append(node.test)
            elif isinstance(node, ast.comprehension):
                tests += node.ifs
        for test in tests:
            for sub in ast.walk(test):
                if isinstance(sub, ast.Attribute) and sub.attr == "is_admin":
                    found.append(f"pilot/{relative}:{sub.lineno}: reads .is_admin")
                elif isinstance(sub, ast.Compare):
                    sides = [sub.left, *sub.comparators]
                    owner = any(isinstance(side, ast.Attribute) and side.attr == "pilot_id"  # of an object,
                                and not (isinstance(side.value, ast.Name) and side.value.id[:1].isupper())  # not Model.
                                for side in sides)
                    other = any(isinstance(side, ast.Attribute) and side.attr == "id" for side in sides)
                    if owner and other:
                        found.append(f"pilot/{relative}:{sub.lineno}: compares pilot_id with an id")
    return found


def test_access_decisions_live_in_the_access_module():
    """Role and pilot-scoping decisions call pilot/access.py (is_admin, is_lead, belongs_to,
    scoped, may_*), so each is written once and fails closed."""
    found = _access_decisions_outside_the_module()
    assert not found, "access decided outside pilot/access.py:\n" + "\n".join(found)


def test_the_access_scan_sees_a_decision(tmp_path, monkeypatch):
    """The scan above finds what it forbids: run it over a module that decides by itself."""
    import pilot

    fake = tmp_path / "pilot"
    (fake / "models").mkdir(parents=True)
    (fake / "access.py").write_text("def is_admin(user):\n    return user.is_admin\n")
    (fake / "views.py").write_text("def f(user, report, pilot):\n    if user.is_admin:\n        return 1\n"
                                   "    return 2 if report.pilot_id != pilot.id else 3\n")
    monkeypatch.setattr(access, "__file__", str(fake / "access.py"))
    found = _access_decisions_outside_the_module()
    assert found == ["pilot/views.py:2: reads .is_admin", "pilot/views.py:4: compares pilot_id with an id"]
    assert pilot  # the real package is untouched
