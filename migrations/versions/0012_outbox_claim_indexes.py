"""outbox claim indexes: the chats' messages and a broadcast's waiting ones, each found directly

A broadcast of 100,000 leaves that many rows pending; without these, every claim of a reply or a
reminder would walk past them all, and every claim of a broadcast's part would sort them.

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
    op.drop_index('ix_outbox_broadcast_due', table_name='outbox_message')
    op.drop_index('ix_outbox_chat_due', table_name='outbox_message')
