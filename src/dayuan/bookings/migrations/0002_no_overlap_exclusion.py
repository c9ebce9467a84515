"""PostgreSQL: no two active bookings of one room overlap, as an exclusion constraint.

Written as SQL (not a model constraint) because SQLite has no exclusion constraints;
there the booking service's IMMEDIATE transaction runs the overlap check inside the
write lock. Half-open ranges: a meeting may start the minute another ends.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE bookings_booking ADD CONSTRAINT bookings_no_overlap
  EXCLUDE USING gist (room_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&)
  WHERE (active);
"""
DROP = "ALTER TABLE bookings_booking DROP CONSTRAINT IF EXISTS bookings_no_overlap;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
