"""Bring analytics_state level on databases migrated with the first 0002.

0002_analytics was edited after it was committed: its first version created analytics_state
without `looked_back_from` and `fingerprint`, and a database already at 0002 never got them.
This adds whichever of the two is missing (a database built from the edited 0002 has both, and
is left as it is). Downgrade removes nothing: the current 0002 owns both columns.

Revision ID: 0003_analytics_state_level
Revises: 0002_analytics
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_analytics_state_level'
down_revision = '0002_analytics'
branch_labels = None
depends_on = None


def upgrade():
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("analytics_state")}
    missing = [
        column
        for column in (
            sa.Column('looked_back_from', sa.DateTime(), nullable=True),
            sa.Column('fingerprint', sa.JSON(), nullable=True),
        )
        if column.name not in present
    ]
    if missing:
        with op.batch_alter_table('analytics_state', schema=None) as batch_op:
            for column in missing:
                batch_op.add_column(column)


def downgrade():
    pass
