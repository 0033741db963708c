"""broadcasts in parts: outbox claim indexes, a broadcast's buttons and when it was all written

A broadcast of 100,000 leaves that many rows pending; without the indexes, every claim of a reply
or a reminder would walk past them all, and every claim of a broadcast's part would sort them.
Its messages are written a part per transaction (so SQLite's one write lock is never held for
seconds), and `written_at` says when the last part was; broadcasts before this were written
whole.

Revision ID: 0012
Revises: 0011
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

CHAT_MESSAGES = "kind != 'broadcast'"
BROADCAST_WAITING = "kind = 'broadcast' AND status IN ('pending', 'sending')"


def upgrade() -> None:
    with op.batch_alter_table('broadcast') as batch:
        batch.add_column(sa.Column('survey', sa.String(length=64), nullable=False, server_default=''))
        batch.add_column(sa.Column('workshop_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('written_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE broadcast SET written_at = created_at")
    with op.batch_alter_table('broadcast') as batch:
        batch.alter_column('survey', server_default=None)
    op.create_index(
        'ix_outbox_chat_due',
        'outbox_message',
        ['status', 'due_at'],
        sqlite_where=sa.text(CHAT_MESSAGES),
        postgresql_where=sa.text(CHAT_MESSAGES),
    )
    op.create_index(
        'ix_outbox_broadcast_due',
        'outbox_message',
        ['channel', 'due_at', 'id'],
        sqlite_where=sa.text(BROADCAST_WAITING),
        postgresql_where=sa.text(BROADCAST_WAITING),
    )


def downgrade() -> None:
    with op.batch_alter_table('broadcast') as batch:
        batch.drop_column('written_at')
        batch.drop_column('workshop_id')
        batch.drop_column('survey')
    op.drop_index('ix_outbox_broadcast_due', table_name='outbox_message')
    op.drop_index('ix_outbox_chat_due', table_name='outbox_message')
