"""The dashboard and the cost page are for the pilot's team: reviewers, leads and admins."""
import pytest

PAGES = ["/pilots/alpha", "/pilots/alpha/costs", "/pilots/alpha?from=2026-03-01", "/pilots/alpha/costs?users=100"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_is_sent_to_login(client, world, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("who", ["participant", "other_lead", "other_participant"])
@pytest.mark.parametrize("path", PAGES)
def test_participants_and_other_pilots_are_forbidden(client_as, who, path):
    assert client_as(who).get(path).status_code == 403


@pytest.mark.parametrize("who", ["reviewer", "lead", "admin"])
@pytest.mark.parametrize("path", PAGES)
def test_the_team_sees_them(client_as, who, path):
    assert client_as(who).get(path).status_code == 200


def test_unknown_pilot_is_404(client_as):
    assert client_as("admin").get("/pilots/nope/costs").status_code == 404


def test_dashboard_links_the_cost_page(client_as):
    assert 'href="/pilots/alpha/costs"' in client_as("reviewer").get("/pilots/alpha").get_data(as_text=True)
