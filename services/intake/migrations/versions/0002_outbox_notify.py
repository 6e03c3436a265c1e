"""outbox rows wake the relay: NOTIFY rapport_outbox when outbox rows are inserted (PostgreSQL)

Revision ID: 0002_outbox_notify
Revises: 0001
Create Date: 2026-11-27 12:30:00
"""
from alembic import op


revision = '0002_outbox_notify'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite (embedded mode) wakes its relay in-process
    op.execute("""
        CREATE OR REPLACE FUNCTION rapport_outbox_notify() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('rapport_outbox', '');
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
    """)
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION rapport_outbox_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS rapport_outbox_notify()")
