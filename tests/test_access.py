"""Every page checks the role in *this* pilot: the denials, not only the happy path."""
import pytest

LEAD_PAGES = ["/pilots/alpha/settings", "/pilots/alpha/audit"]
TEAM_PAGES = ["/pilots/alpha", "/pilots/alpha/participants"]


@pytest.mark.parametrize("path", LEAD_PAGES + TEAM_PAGES)
def test_anonymous_is_sent_to_login_with_next(client, world, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", LEAD_PAGES + TEAM_PAGES)
def test_lead_of_another_pilot_is_forbidden(client_as, path):
    assert client_as("other_lead").get(path).status_code == 403


@pytest.mark.parametrize("path", LEAD_PAGES + TEAM_PAGES)
def test_participant_is_forbidden_team_pages(client_as, path):
    assert client_as("participant").get(path).status_code == 403


@pytest.mark.parametrize("path", LEAD_PAGES)
def test_reviewer_is_forbidden_lead_pages(client_as, path):
    assert client_as("reviewer").get(path).status_code == 403


@pytest.mark.parametrize("path", TEAM_PAGES)
def test_reviewer_sees_team_pages(client_as, path):
    assert client_as("reviewer").get(path).status_code == 200


@pytest.mark.parametrize("who", ["lead", "admin"])
@pytest.mark.parametrize("path", LEAD_PAGES + TEAM_PAGES)
def test_lead_and_admin_see_everything(client_as, who, path):
    assert client_as(who).get(path).status_code == 200


def test_unknown_pilot_is_404(client_as):
    assert client_as("admin").get("/pilots/no-such-pilot").status_code == 404


def test_paused_member_loses_access(client_as, world, db):
    import sqlalchemy as sa

    from pilot.models import Membership

    membership = db.session.scalar(sa.select(Membership).where(Membership.user_id == world.reviewer.id))
    membership.status = "paused"
    db.session.commit()
    assert client_as("reviewer").get("/pilots/alpha").status_code == 403


@pytest.mark.parametrize("path,data", [
    ("/pilots/alpha/settings", {"max_participants": "45"}),
    ("/pilots/alpha/api-keys", {"name": "x"}),
    ("/pilots/alpha/status", {"status": "enrolling"}),
    ("/pilots/alpha/participants/invite", {"email": "x@example.com"}),
])
@pytest.mark.parametrize("who", ["reviewer", "participant", "other_lead"])
def test_lead_actions_are_refused_to_others(client_as, world, db, path, data, who):
    assert client_as(who).post(path, data=data).status_code == 403
    assert world.pilot.max_participants == 50


def test_only_admins_create_pilots(client_as, db):
    import sqlalchemy as sa

    from pilot.models import Pilot

    response = client_as("lead").post("/pilots/new", data={"slug": "gamma", "name": "G", "lead_email": "lead@example.com"})
    assert response.status_code == 403
    assert db.session.scalar(sa.select(Pilot).where(Pilot.slug == "gamma")) is None
    response = client_as("admin").post("/pilots/new", data={"slug": "gamma", "name": "G", "lead_email": "lead@example.com"})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(Pilot).where(Pilot.slug == "gamma")) is not None


def test_pilot_list_shows_only_own_pilots(client_as):
    page = client_as("other_lead").get("/").get_data(as_text=True)
    assert "beta" in page and "alpha" not in page
