"""Developer tool: autogenerate a service migration.  python -m rapport.makemigration SERVICE MESSAGE REV"""
import sys, tempfile, os
from alembic import command
from alembic.config import Config
from shared.db import normalise_url
svc, msg, rev = sys.argv[1], sys.argv[2], sys.argv[3]
d = tempfile.mkdtemp()
os.environ["RAPPORT_VAR_DIR"] = d
from importlib import import_module
app = import_module(f"{svc}.app")
service = app.build()
cfg = Config(); cfg.set_main_option("script_location", str(app.MIGRATIONS))
cfg.attributes["database_url"] = service.settings.database_url
command.upgrade(cfg, "head")
command.revision(cfg, message=msg, autogenerate=True, rev_id=rev)
