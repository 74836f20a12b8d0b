"""The launch decision people can trust: quorum sign-off, exemptions with owners and a
per-pilot maximum length, bulk decisions told apart, participant reports behind flags.

Revision ID: 0005_decision
Revises: 0003_analytics_state_level
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_decision'
down_revision = '0003_analytics_state_level'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('pilot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('required_signers', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_exemption_days', sa.Integer(), server_default='30', nullable=False))
    with op.batch_alter_table('checklist_attestation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=200), server_default='', nullable=False))
    with op.batch_alter_table('readiness_report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('required_signers', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decided_in_bulk', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('report_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_flag_report_id_report'), 'report', ['report_id'], ['id'],
                                    ondelete='SET NULL')
    op.create_table('readiness_signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('signed_at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['readiness_report.id'],
                            name=op.f('fk_readiness_signature_report_id_readiness_report'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_readiness_signature_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_readiness_signature')),
    sa.UniqueConstraint('report_id', 'user_id', name=op.f('uq_readiness_signature_report_id_user_id'))
    )
    # Reports signed before the quorum existed keep their one signature.
    op.execute(
        "INSERT INTO readiness_signature (report_id, user_id, signed_at, note) "
        "SELECT id, signed_by_id, signed_at, sign_note FROM readiness_report "
        "WHERE signed_at IS NOT NULL AND signed_by_id IS NOT NULL"
    )


def downgrade():
    op.drop_table('readiness_signature')
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_flag_report_id_report'), type_='foreignkey')
        batch_op.drop_column('report_id')
        batch_op.drop_column('decided_in_bulk')
    with op.batch_alter_table('readiness_report', schema=None) as batch_op:
        batch_op.drop_column('required_signers')
    with op.batch_alter_table('checklist_attestation', schema=None) as batch_op:
        batch_op.drop_column('owner')
    with op.batch_alter_table('pilot', schema=None) as batch_op:
        batch_op.drop_column('max_exemption_days')
        batch_op.drop_column('required_signers')
