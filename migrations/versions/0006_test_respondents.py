"""mark test respondents (the web simulator's), so exports can leave them out

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('respondent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_test', sa.Boolean(), server_default=sa.false(), nullable=False))
    # Before this, the simulator's respondents were the only ones on the "web" channel.
    respondent = sa.table('respondent', sa.column('channel', sa.String), sa.column('is_test', sa.Boolean))
    op.execute(respondent.update().where(respondent.c.channel == 'web').values(is_test=True))


def downgrade() -> None:
    with op.batch_alter_table('respondent', schema=None) as batch_op:
        batch_op.drop_column('is_test')
