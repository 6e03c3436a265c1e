"""followups due at a location: index (org_id, location_id, status, due_at)

Revision ID: 0003_followups_scope_status_due
Revises: 0002_outbox_notify
Create Date: 2026-11-27 12:40:00
"""
from alembic import op


revision = '0003_followups_scope_status_due'
down_revision = '0002_outbox_notify'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.create_index('ix_followups_scope_status_due', ['org_id', 'location_id', 'status', 'due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_index('ix_followups_scope_status_due')
