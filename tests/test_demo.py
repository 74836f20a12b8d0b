"""The demo pilot that `make run` loads into an empty database: it loads through the CLI, says
how to log in, is loaded once, and tells the story the README promises (participants, traffic,
feedback, flags, a prompt promoted then rolled back, a live verdict). Runs on both databases."""
from __future__ import annotations

import sqlalchemy as sa

from pilot.demo import DEMO_PASSWORD
from pilot.demo.prompts import NAME
from pilot.models import (
    Feedback,
    Flag,
    Interaction,
    LiveVerdict,
    Membership,
    Pilot,
    Prompt,
    PromptEvent,
    RegressionItem,
    Report,
    User,
)
from pilot.readiness.report import GO, INCOMPLETE, NO_GO


def test_the_demo_loads_once_into_an_empty_database_and_tells_its_story(runner, db):
    loaded = runner.invoke(args=["pilot", "demo", "--if-empty"])
    assert loaded.exit_code == 0, loaded.output
    assert "lead@example.com" in loaded.output and DEMO_PASSWORD in loaded.output
    again = runner.invoke(args=["pilot", "demo", "--if-empty"])
    assert again.exit_code == 0 and "demo not loaded" in again.output
    assert db.session.scalar(sa.select(sa.func.count(Pilot.id))) == 1

    pilot = db.session.scalar(sa.select(Pilot))
    lead = db.session.scalar(sa.select(User).where(User.email == "lead@example.com"))
    assert lead.check_password(DEMO_PASSWORD)
    count = lambda model: db.session.scalar(  # noqa: E731
        sa.select(sa.func.count(model.id)).where(model.pilot_id == pilot.id))
    participants = db.session.scalar(sa.select(sa.func.count(Membership.id)).where(
        Membership.pilot_id == pilot.id, Membership.role == "participant", Membership.status == "active"))
    assert participants == 30
    assert 4_000 <= count(Interaction) <= 6_000
    assert count(Feedback) > 0 and count(Report) > 0 and count(Flag) > 0
    assert db.session.scalar(sa.select(sa.func.count(Interaction.id)).where(
        Interaction.pilot_id == pilot.id, Interaction.status != "ok")) > 0  # failures to review

    prompt = db.session.scalar(sa.select(Prompt).where(Prompt.pilot_id == pilot.id, Prompt.name == NAME))
    kinds = db.session.scalars(sa.select(PromptEvent.kind).where(PromptEvent.prompt_id == prompt.id)
                               .order_by(PromptEvent.id)).all()
    assert {"created", "promote", "rollback", "rollout"} <= set(kinds), kinds
    assert kinds.index("promote") < kinds.index("rollback")
    assert db.session.scalar(sa.select(sa.func.count(RegressionItem.id))) > 0
    live = db.session.get(LiveVerdict, pilot.id)  # the overview shows a verdict before the worker's first run
    assert live is not None and live.verdict in {GO, NO_GO, INCOMPLETE} and live.reasons
