from alembic import context

from notify.models import Base
from shared.db import run_migrations

run_migrations(context, Base.metadata)
