"""Prompt registry: prompts, numbered versions on the existing prompt_version table, labels,
their history (promotions, rollbacks, rollout changes) and regression sets.

prompt_version keeps its rows: the versions interactions named so far stay as unregistered
versions (prompt_id NULL); registered ones get a prompt, a number and a template.

Revision ID: 0007_prompts
Revises: 0003_analytics_state_level
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_prompts'
down_revision = '0003_analytics_state_level'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('prompt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('rollout_pct', sa.Float(precision=53), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], name=op.f('fk_prompt_pilot_id_pilot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompt')),
    sa.UniqueConstraint('pilot_id', 'name', name=op.f('uq_prompt_pilot_id_name'))
    )
    op.create_table('prompt_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('from_version_id', sa.Integer(), nullable=True),
    sa.Column('to_version_id', sa.Integer(), nullable=True),
    sa.Column('from_pct', sa.Float(precision=53), nullable=True),
    sa.Column('to_pct', sa.Float(precision=53), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_prompt_event_actor_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['from_version_id'], ['prompt_version.id'], name=op.f('fk_prompt_event_from_version_id_prompt_version'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], name=op.f('fk_prompt_event_pilot_id_pilot'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], name=op.f('fk_prompt_event_prompt_id_prompt'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_version_id'], ['prompt_version.id'], name=op.f('fk_prompt_event_to_version_id_prompt_version'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompt_event'))
    )
    with op.batch_alter_table('prompt_event', schema=None) as batch_op:
        batch_op.create_index('ix_prompt_event_pilot_kind', ['pilot_id', 'kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_prompt_event_prompt_id'), ['prompt_id'], unique=False)

    op.create_table('prompt_label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], name=op.f('fk_prompt_label_prompt_id_prompt'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['prompt_version.id'], name=op.f('fk_prompt_label_version_id_prompt_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompt_label')),
    sa.UniqueConstraint('prompt_id', 'label', name=op.f('uq_prompt_label_prompt_id_label'))
    )
    op.create_table('regression_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('interaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stratum', sa.String(length=200), nullable=False),
    sa.Column('confirmed_failure', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('replay_version', sa.String(length=100), nullable=True),
    sa.Column('replay_output', sa.Text(), nullable=True),
    sa.Column('replayed_at', sa.DateTime(), nullable=True),
    sa.Column('verdict', sa.String(length=8), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['interaction_id'], ['interaction.id'], name=op.f('fk_regression_item_interaction_id_interaction'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], name=op.f('fk_regression_item_prompt_id_prompt'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user.id'], name=op.f('fk_regression_item_reviewer_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regression_item')),
    sa.UniqueConstraint('prompt_id', 'interaction_id', name=op.f('uq_regression_item_prompt_id_interaction_id'))
    )
    with op.batch_alter_table('prompt_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prompt_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('number', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('template', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('model', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('params', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('author_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('created_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_prompt_version_prompt_id_number'), ['prompt_id', 'number'])
        batch_op.create_foreign_key(batch_op.f('fk_prompt_version_prompt_id_prompt'), 'prompt', ['prompt_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_prompt_version_author_id_user'), 'user', ['author_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('prompt_version', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_prompt_version_author_id_user'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_prompt_version_prompt_id_prompt'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_prompt_version_prompt_id_number'), type_='unique')
        batch_op.drop_column('created_at')
        batch_op.drop_column('author_id')
        batch_op.drop_column('params')
        batch_op.drop_column('model')
        batch_op.drop_column('template')
        batch_op.drop_column('number')
        batch_op.drop_column('prompt_id')

    op.drop_table('regression_item')
    op.drop_table('prompt_label')
    with op.batch_alter_table('prompt_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prompt_event_prompt_id'))
        batch_op.drop_index('ix_prompt_event_pilot_kind')

    op.drop_table('prompt_event')
    op.drop_table('prompt')
