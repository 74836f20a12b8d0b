"""The live verdict per pilot, computed by the worker for the overview and the pilot list.

One row per pilot (pilot.models.readiness.LiveVerdict): the live report's verdict, its label and
reasons, when it was computed and from what (so the worker skips a pilot whose data has not
changed, and a page can say new data arrived since). Empty after the upgrade: the worker's next
run fills it, and until then the pages say the verdict is being computed.

Revision ID: 0013_live_verdict
Revises: 0012_h13_growth
"""
import sqlalchemy as sa
from alembic import op

revision = '0013_live_verdict'
down_revision = '0012_h13_growth'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'live_verdict',
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('computed_at', sa.DateTime(), nullable=False),
        sa.Column('verdict', sa.String(length=16), nullable=False),
        sa.Column('verdict_label', sa.String(length=64), nullable=False),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('interactions', sa.Integer(), nullable=False),
        sa.Column('newest_interaction_id', sa.BigInteger(), nullable=True),
        sa.Column('newest_received_at', sa.DateTime(), nullable=True),
        sa.Column('source', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], name=op.f('fk_live_verdict_pilot_id_pilot'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('pilot_id', name=op.f('pk_live_verdict')),
    )


def downgrade():
    op.drop_table('live_verdict')
