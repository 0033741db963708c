"""outbox addresses and reply tokens

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("address", sa.String(length=128), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("reply_token", sa.String(length=256), nullable=True))
        batch_op.alter_column("respondent_id", existing_type=SERIAL, nullable=True)
    # Messages already queued go to their respondent's channel identity.
    op.execute(
        "UPDATE outbox_message SET address = (SELECT channel_user_id FROM respondent"
        " WHERE respondent.id = outbox_message.respondent_id) WHERE respondent_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DELETE FROM outbox_message WHERE respondent_id IS NULL")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.alter_column("respondent_id", existing_type=SERIAL, nullable=False)
        batch_op.drop_column("reply_token")
        batch_op.drop_column("address")
