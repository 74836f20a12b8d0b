"""unit_of_work keeps a finished block's changes and drops a failed block's, re-raising the error."""
import pytest
import sqlalchemy as sa

from pilot.models import User
from pilot.unit_of_work import unit_of_work
from tests.factories import make_user


def _names(db) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(User.name).order_by(User.id)))


def test_commits_when_the_block_ends(db):
    user = make_user("kept@example.com", name="before")
    with unit_of_work():
        user.name = "after"
    db.session.rollback()  # nothing left to roll back: it was committed
    assert _names(db) == ["after"]


def test_rolls_back_and_reraises_on_error(db):
    user = make_user("kept@example.com", name="before")
    with pytest.raises(ValueError, match="refused"):
        with unit_of_work():
            user.name = "half-done"
            raise ValueError("refused")
    assert _names(db) == ["before"]
