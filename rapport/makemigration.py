"""Developer tool: autogenerate a service's next migration from its models.

    python -m rapport.makemigration SERVICE MESSAGE REVISION_ID

Applies the existing migrations to a scratch SQLite database, then lets Alembic compare it
with the models and write ``services/<service>/migrations/versions/<rev>_<message>.py``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from importlib import import_module

from alembic import command
from alembic.config import Config


def main(service: str, message: str, revision: str) -> None:
    os.environ["RAPPORT_VAR_DIR"] = tempfile.mkdtemp()
    os.environ.pop("RAPPORT_DATABASE_URL", None)
    app = import_module(f"{service}.app")
    built = app.build()
    config = Config()
    config.set_main_option("script_location", str(app.MIGRATIONS))
    config.attributes["database_url"] = built.settings.database_url
    command.upgrade(config, "head")
    command.revision(config, message=message, autogenerate=True, rev_id=revision)


if __name__ == "__main__":
    main(*sys.argv[1:4])
