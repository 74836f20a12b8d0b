import pytest
import sqlalchemy as sa

from pilot.feedback.services import FeedbackError, record_feedback
from pilot.models import Feedback, Interaction
from pilot.models.base import utcnow


def make_interaction(db, pilot, event_id="e-1", user="user-1"):
    interaction = Interaction(pilot_id=pilot.id, event_id=event_id, external_user_id=user, occurred_at=utcnow())
    db.session.add(interaction)
    db.session.commit()
    return interaction


def test_rating_again_changes_the_one_rating(db, world):
    interaction = make_interaction(db, world.pilot)
    record_feedback(db.session, world.pilot, interaction, thumbs="up", rating=None, membership=world.participant_membership)
    record_feedback(db.session, world.pilot, interaction, thumbs="down", rating=2, comment="wrong",
                    membership=world.participant_membership)
    db.session.commit()
    rows = db.session.scalars(sa.select(Feedback)).all()
    assert [(f.thumbs, f.rating, f.comment, f.external_user_id) for f in rows] == [("down", 2, "wrong", "user-1")]


@pytest.mark.parametrize("thumbs,rating,comment,message", [
    ("sideways", None, "", "thumbs"), (None, 6, "", "rating"), (None, True, "", "rating"), (None, "5", "", "rating"),
    (None, None, "", "give thumbs"), ("up", None, "x" * 5001, "comment"), ("up", None, 5, "comment"),
])
def test_bad_ratings_name_the_field(db, world, thumbs, rating, comment, message):
    interaction = make_interaction(db, world.pilot)
    with pytest.raises(FeedbackError, match=message):
        record_feedback(db.session, world.pilot, interaction, thumbs=thumbs, rating=rating, comment=comment)


def test_interaction_of_another_pilot_is_refused(db, world):
    interaction = make_interaction(db, world.other_pilot)
    with pytest.raises(FeedbackError, match="not found"):
        record_feedback(db.session, world.pilot, interaction, thumbs="up", rating=None)
