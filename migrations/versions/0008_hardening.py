"""A session version per user: logout and password changes end every session issued before.

Revision ID: 0008_hardening
Revises: 0003_analytics_state_level
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_hardening'
down_revision = '0003_analytics_state_level'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_version')
