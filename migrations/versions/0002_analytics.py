"""Analytics: daily rollups behind the dashboard, and the indexes it reads through (what
arrived or changed since the last refresh; ordered latency for exact percentiles).
Index-only changes on the shared tables: no table is rebuilt, even on SQLite.

Revision ID: 0002_analytics
Revises: 0001_initial
Create Date: 2026-11-26 23:55:43.707333

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_analytics'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('analytics_daily',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=True),
    sa.Column('prompt_version', sa.String(length=100), nullable=True),
    sa.Column('external_user_id', sa.String(length=255), nullable=True),
    sa.Column('interactions', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('fallbacks', sa.Integer(), nullable=False),
    sa.Column('known_cost', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(precision=53), nullable=False),
    sa.Column('latency_count', sa.Integer(), nullable=False),
    sa.Column('feedback_count', sa.Integer(), nullable=False),
    sa.Column('feedback_positive', sa.Integer(), nullable=False),
    sa.Column('feedback_negative', sa.Integer(), nullable=False),
    sa.Column('rating_count', sa.Integer(), nullable=False),
    sa.Column('rating_sum', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], name=op.f('fk_analytics_daily_pilot_id_pilot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_daily'))
    )
    with op.batch_alter_table('analytics_daily', schema=None) as batch_op:
        batch_op.create_index('ix_analytics_daily_pilot_day', ['pilot_id', 'day'], unique=False)

    op.create_table('analytics_day',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('latency_p50', sa.Float(precision=53), nullable=True),
    sa.Column('latency_p95', sa.Float(precision=53), nullable=True),
    sa.Column('latency_p99', sa.Float(precision=53), nullable=True),
    sa.Column('ttft_p50', sa.Float(precision=53), nullable=True),
    sa.Column('ttft_p95', sa.Float(precision=53), nullable=True),
    sa.Column('ttft_p99', sa.Float(precision=53), nullable=True),
    sa.Column('latency_histogram', sa.JSON(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], name=op.f('fk_analytics_day_pilot_id_pilot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_day')),
    sa.UniqueConstraint('pilot_id', 'day', name=op.f('uq_analytics_day_pilot_id_day'))
    )
    op.create_table('analytics_state',
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(), nullable=True),
    sa.Column('looked_back_from', sa.DateTime(), nullable=True),
    sa.Column('fingerprint', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], name=op.f('fk_analytics_state_pilot_id_pilot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pilot_id', name=op.f('pk_analytics_state'))
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_pilot_updated', ['pilot_id', 'updated_at'], unique=False)

    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.create_index('ix_flag_pilot_updated', ['pilot_id', 'updated_at'], unique=False)

    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.create_index('ix_interaction_pilot_latency', ['pilot_id', 'latency_ms'], unique=False)
        batch_op.create_index('ix_interaction_pilot_model_latency', ['pilot_id', 'model', 'latency_ms'], unique=False)
        batch_op.create_index('ix_interaction_pilot_received', ['pilot_id', 'received_at'], unique=False)



def downgrade():
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.drop_index('ix_interaction_pilot_received')
        batch_op.drop_index('ix_interaction_pilot_model_latency')
        batch_op.drop_index('ix_interaction_pilot_latency')

    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_index('ix_flag_pilot_updated')

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_pilot_updated')

    op.drop_table('analytics_state')
    op.drop_table('analytics_day')
    with op.batch_alter_table('analytics_daily', schema=None) as batch_op:
        batch_op.drop_index('ix_analytics_daily_pilot_day')

    op.drop_table('analytics_daily')
