"""write deadline: PostgreSQL refuses a flag write whose COMMIT comes after the deadline the writer set

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 21:40:00
"""

from __future__ import annotations

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# A deferred constraint trigger runs inside COMMIT: a server frozen past the writer's deadline (the writer has
# since told its caller "failed") raises here when it wakes, and the whole transaction rolls back.
_FUNCTION = """
CREATE OR REPLACE FUNCTION quantgate_check_write_deadline() RETURNS trigger AS $$
DECLARE
    deadline text := current_setting('quantgate.write_deadline', true);
BEGIN
    IF deadline IS NOT NULL AND deadline <> '' AND clock_timestamp() > deadline::timestamptz THEN
        RAISE EXCEPTION 'quantgate write deadline % passed before COMMIT; nothing was changed', deadline
            USING ERRCODE = '57014';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
_TRIGGER = """
CREATE CONSTRAINT TRIGGER quantgate_write_deadline
    AFTER INSERT OR UPDATE ON quantgate_flag_state
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION quantgate_check_write_deadline()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite is local: a write there commits or fails while the writer waits
    op.execute(_FUNCTION)
    op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS quantgate_write_deadline ON quantgate_flag_state")
    op.execute("DROP FUNCTION IF EXISTS quantgate_check_write_deadline()")
