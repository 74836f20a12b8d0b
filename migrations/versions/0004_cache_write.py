"""Prompt-cache writes, and the trace id that lets OTLP spans of one call merge into one row.

- interaction.cache_write_input_tokens: the part of input_tokens written to a prompt cache
  (Anthropic bills it above the input price).
- model_price.cache_write_per_mtok: its price (empty: 1.25 × input for Anthropic models,
  the input price otherwise).
- interaction.trace_id and response_id, and indexes on (pilot_id, trace_id), (pilot_id,
  response_id) and (pilot_id, input_hash): OTLP spans of one call often arrive in different
  export requests (and traces); the batched lookup that merges them uses these.

Revision ID: 0004_cache_write
Revises: 0003_analytics_state_level
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_cache_write'
down_revision = '0003_analytics_state_level'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cache_write_input_tokens', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('trace_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('response_id', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_interaction_pilot_trace', ['pilot_id', 'trace_id'], unique=False)
        batch_op.create_index('ix_interaction_pilot_response', ['pilot_id', 'response_id'], unique=False)
        batch_op.create_index('ix_interaction_pilot_input_hash', ['pilot_id', 'input_hash'], unique=False)
    with op.batch_alter_table('model_price', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cache_write_per_mtok', sa.Float(precision=53), nullable=True))


def downgrade():
    with op.batch_alter_table('model_price', schema=None) as batch_op:
        batch_op.drop_column('cache_write_per_mtok')
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.drop_index('ix_interaction_pilot_input_hash')
        batch_op.drop_index('ix_interaction_pilot_response')
        batch_op.drop_index('ix_interaction_pilot_trace')
        batch_op.drop_column('response_id')
        batch_op.drop_column('trace_id')
        batch_op.drop_column('cache_write_input_tokens')
