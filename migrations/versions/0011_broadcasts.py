"""broadcasts: a coordinator's notice to a chosen audience, sent as one outbox message each

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'broadcast',
        sa.Column('id', SERIAL, nullable=False),
        sa.Column('created_by', sa.String(length=254), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('text_th', sa.Text(), nullable=False),
        sa.Column('text_en', sa.Text(), nullable=False),
        sa.Column('link', sa.Text(), nullable=False),
        sa.Column('audience', sa.JSON(), nullable=False),
        sa.Column('send_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('urgent', sa.Boolean(), nullable=False),
        sa.Column('recipients', sa.Integer(), nullable=False),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast')),
    )
    with op.batch_alter_table('outbox_message') as batch:
        batch.add_column(sa.Column('broadcast_id', SERIAL, nullable=True))
        batch.create_foreign_key(
            op.f('fk_outbox_message_broadcast_id_broadcast'), 'broadcast', ['broadcast_id'], ['id']
        )
    # nobody gets the same broadcast twice, however often its recipients are written
    op.create_index(
        'ix_outbox_broadcast_respondent',
        'outbox_message',
        ['broadcast_id', 'respondent_id'],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index('ix_outbox_broadcast_respondent', table_name='outbox_message')
    with op.batch_alter_table('outbox_message') as batch:
        batch.drop_constraint(op.f('fk_outbox_message_broadcast_id_broadcast'), type_='foreignkey')
        batch.drop_column('broadcast_id')
    op.drop_table('broadcast')
