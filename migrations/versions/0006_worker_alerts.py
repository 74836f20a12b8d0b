"""Alert channels and deliveries, rule firing state, background jobs, invite email time.

Revision ID: 0006_worker_alerts
Revises: 0003_analytics_state_level
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_worker_alerts'
down_revision = '0003_analytics_state_level'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'alert_channel',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('target', sa.String(length=2000), nullable=False),
        sa.Column('secret', sa.String(length=128), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_alert_channel_created_by_id_user')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], name=op.f('fk_alert_channel_pilot_id_pilot'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_channel')),
    )
    with op.batch_alter_table('alert_channel', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_channel_pilot_id'), ['pilot_id'], unique=False)

    op.create_table(
        'alert_delivery',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('channel_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('is_test', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('delivered_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['channel_id'], ['alert_channel.id'],
                                name=op.f('fk_alert_delivery_channel_id_alert_channel'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['alert_event.id'], name=op.f('fk_alert_delivery_event_id_alert_event'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], name=op.f('fk_alert_delivery_pilot_id_pilot'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_delivery')),
    )
    with op.batch_alter_table('alert_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_alert_delivery_channel_status', ['channel_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_delivery_pilot_id'), ['pilot_id'], unique=False)

    op.create_table(
        'background_job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('progress', sa.Integer(), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('result', sa.LargeBinary(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_background_job_created_by_id_user')),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], name=op.f('fk_background_job_pilot_id_pilot'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_background_job')),
    )
    with op.batch_alter_table('background_job', schema=None) as batch_op:
        batch_op.create_index('ix_background_job_pilot_kind', ['pilot_id', 'kind'], unique=False)

    with op.batch_alter_table('alert_rule', schema=None) as batch_op:
        batch_op.add_column(sa.Column('firing', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invite_emailed_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_column('invite_emailed_at')
    with op.batch_alter_table('alert_rule', schema=None) as batch_op:
        batch_op.drop_column('firing')
    with op.batch_alter_table('background_job', schema=None) as batch_op:
        batch_op.drop_index('ix_background_job_pilot_kind')
    op.drop_table('background_job')
    with op.batch_alter_table('alert_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_delivery_pilot_id'))
        batch_op.drop_index('ix_alert_delivery_channel_status')
    op.drop_table('alert_delivery')
    with op.batch_alter_table('alert_channel', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_channel_pilot_id'))
    op.drop_table('alert_channel')
