"""Indexes that keep ingestion's per-batch work bounded as the pilot grows.

- ix_interaction_pilot_user_time (pilot, user, occurred_at) replaces ix_interaction_pilot_user
  (pilot, user), of which it is a superset: the daily-limit rule counts a user's interactions of a
  day as one index range instead of ranking every interaction of the day.
- ix_interaction_pilot_cost (pilot, cost_usd): the median cost is an ordered index walk instead of
  a sort of every cost of the pilot.

Index-only changes: no table is rebuilt, even on SQLite.

Revision ID: 0009_ingest_speed
Revises: 0003_analytics_state_level
"""
from alembic import op


revision = '0009_ingest_speed'
down_revision = '0003_analytics_state_level'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_interaction_pilot_user_time', 'interaction', ['pilot_id', 'external_user_id', 'occurred_at'],
                    unique=False)
    op.create_index('ix_interaction_pilot_cost', 'interaction', ['pilot_id', 'cost_usd'], unique=False)
    op.drop_index('ix_interaction_pilot_user', table_name='interaction')


def downgrade():
    op.create_index('ix_interaction_pilot_user', 'interaction', ['pilot_id', 'external_user_id'], unique=False)
    op.drop_index('ix_interaction_pilot_cost', table_name='interaction')
    op.drop_index('ix_interaction_pilot_user_time', table_name='interaction')
