"""PostgreSQL: an exclusive resource (venue, facility, vehicle) never holds two
allocations whose ranges overlap, as an exclusion constraint.

Written as SQL (not a model constraint) because SQLite has no exclusion constraints;
there the allocation service's IMMEDIATE transaction runs the overlap check inside the
write lock. Half-open ranges: one use may start the minute another ends.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE resources_allocation ADD CONSTRAINT resources_no_overlap
  EXCLUDE USING gist (resource_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&)
  WHERE (holds AND exclusive);
"""
DROP = "ALTER TABLE resources_allocation DROP CONSTRAINT IF EXISTS resources_no_overlap;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("resources", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
