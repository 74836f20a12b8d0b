"""Join the six migrations written side by side for issues 9 to 13 into one head.

Each of 0004–0009 revises 0003 on its own branch (they touch different tables); this revision
only merges them, so `flask db upgrade` has a single head again.

Revision ID: 0010_merge_issue_branches
Revises: 0004_cache_write, 0005_decision, 0006_worker_alerts, 0007_prompts, 0008_hardening, 0009_ingest_speed
"""

revision = '0010_merge_issue_branches'
down_revision = ('0004_cache_write', '0005_decision', '0006_worker_alerts', '0007_prompts', '0008_hardening',
                 '0009_ingest_speed')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
