"""rounds, scores, courses and nudges

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('course',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('title_th', sa.Text(), nullable=False),
    sa.Column('title_en', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False, server_default='reply'),
    sa.Column('groups', sa.JSON(), nullable=False),
    sa.Column('focus', sa.JSON(), nullable=False),
    sa.Column('description_th', sa.Text(), nullable=False),
    sa.Column('description_en', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course')),
    sa.UniqueConstraint('code', name=op.f('uq_course_code'))
    )
    op.create_table('course_interest',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('respondent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('course_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_course_interest_course_id_course')),
    sa.ForeignKeyConstraint(['respondent_id'], ['respondent.id'], name=op.f('fk_course_interest_respondent_id_respondent')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_interest'))
    )
    with op.batch_alter_table('course_interest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_interest_respondent_id'), ['respondent_id'], unique=False)

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='reply'))

    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('scores', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_column('scores')
        batch_op.drop_column('round')

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('kind')

    with op.batch_alter_table('course_interest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_interest_respondent_id'))

    op.drop_table('course_interest')
    op.drop_table('course')
