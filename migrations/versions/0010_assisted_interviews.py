"""assisted interviews: who entered a consent, and one-time codes that hand a proxy
respondent over to their own phone

Revision ID: 0010
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('consent_record') as batch:
        batch.add_column(
            sa.Column(
                'entered_by', sa.String(length=128), nullable=False, server_default='respondent'
            )
        )
    op.create_table(
        'hand_over',
        sa.Column('id', SERIAL, nullable=False),
        sa.Column('respondent_id', SERIAL, nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_by', sa.String(length=254), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['respondent_id'], ['respondent.id'], name=op.f('fk_hand_over_respondent_id_respondent')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_hand_over')),
        sa.UniqueConstraint('code_hash', name=op.f('uq_hand_over_code_hash')),
    )
    op.create_index(op.f('ix_hand_over_respondent_id'), 'hand_over', ['respondent_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_hand_over_respondent_id'), table_name='hand_over')
    op.drop_table('hand_over')
    with op.batch_alter_table('consent_record') as batch:
        batch.drop_column('entered_by')
