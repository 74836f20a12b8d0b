"""Change capture for the dashboard's rollup: `rollup_change` lists the (pilot, day)s written
since the last refresh; the look-back columns of analytics_state go.

Every existing rollup is marked unbuilt (refreshed_at NULL), so the first refresh after the
upgrade rebuilds it: changes made before this revision were never captured.

Revision ID: 0011_rollup_changes
Revises: 0010_merge_issue_branches
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_rollup_changes'
down_revision = '0010_merge_issue_branches'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'rollup_change',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_rollup_change_pilot_day', 'rollup_change', ['pilot_id', 'day'], unique=False)
    with op.batch_alter_table('analytics_state', schema=None) as batch_op:
        batch_op.drop_column('fingerprint')
        batch_op.drop_column('looked_back_from')
    op.execute(sa.text("UPDATE analytics_state SET refreshed_at = NULL"))


def downgrade():
    with op.batch_alter_table('analytics_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('looked_back_from', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('fingerprint', sa.JSON(), nullable=True))
    op.execute(sa.text("UPDATE analytics_state SET refreshed_at = NULL"))
    op.drop_index('ix_rollup_change_pilot_day', table_name='rollup_change')
    op.drop_table('rollup_change')
