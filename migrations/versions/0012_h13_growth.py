"""Latency sketches in the daily rollup; the latency indexes go; id ranges in rollup_change.

The dashboard's percentiles now come from per-day sketches (pilot.analytics.sketch), so the
(pilot, latency) and (pilot, model, latency) indexes of `interaction` — which every insert
touched at a random leaf, slowing ingestion as a pilot grows — are dropped. `rollup_change`
gains an optional id range: interactions a transaction only added, whose numbers the refresh
adds to the rollup instead of recomputing their day. Every rollup is marked unbuilt, so the
first refresh after the upgrade (or downgrade) rebuilds it with (or without) sketches.

Revision ID: 0012_h13_growth
Revises: 0011_rollup_changes
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_h13_growth'
down_revision = '0011_rollup_changes'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_interaction_pilot_model_latency', table_name='interaction')
    op.drop_index('ix_interaction_pilot_latency', table_name='interaction')
    op.add_column('analytics_day', sa.Column('latency_sketch', sa.JSON(), nullable=True))
    op.add_column('analytics_day', sa.Column('ttft_sketch', sa.JSON(), nullable=True))
    op.add_column('rollup_change', sa.Column('first_id', sa.BigInteger(), nullable=True))
    op.add_column('rollup_change', sa.Column('last_id', sa.BigInteger(), nullable=True))
    op.execute(sa.text("UPDATE analytics_state SET refreshed_at = NULL"))


def downgrade():
    op.execute(sa.text("DELETE FROM rollup_change WHERE first_id IS NOT NULL"))
    with op.batch_alter_table('rollup_change', schema=None) as batch_op:
        batch_op.drop_column('last_id')
        batch_op.drop_column('first_id')
    with op.batch_alter_table('analytics_day', schema=None) as batch_op:
        batch_op.drop_column('ttft_sketch')
        batch_op.drop_column('latency_sketch')
    op.create_index('ix_interaction_pilot_latency', 'interaction', ['pilot_id', 'latency_ms'], unique=False)
    op.create_index('ix_interaction_pilot_model_latency', 'interaction', ['pilot_id', 'model', 'latency_ms'],
                    unique=False)
    op.execute(sa.text("UPDATE analytics_state SET refreshed_at = NULL"))
