"""Seed the holiday table from the installed ``chinese_calendar``, so every database has it.

Self-contained on purpose (a migration must not change when app code does). Later
library releases are picked up with ``dayuan seed_calendar``.
"""

from django.db import migrations

NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


def seed(apps, schema_editor):
    import chinese_calendar

    SpecialDay = apps.get_model("workcalendar", "SpecialDay")
    CalendarYear = apps.get_model("workcalendar", "CalendarYear")
    existing = set(SpecialDay.objects.values_list("date", flat=True))
    rows = []
    years = set()
    for kind, source in (
        ("holiday", chinese_calendar.holidays),
        ("workday", chinese_calendar.workdays),
    ):
        for day, value in sorted(source.items()):
            years.add(day.year)
            if day in existing:
                continue
            text = str(getattr(value, "value", value) or "")
            rows.append(
                SpecialDay(
                    date=day,
                    year=day.year,
                    kind=kind,
                    name=NAMES.get(text, text)[:50],
                    source="library",
                )
            )
    SpecialDay.objects.bulk_create(rows, batch_size=500)
    known = set(CalendarYear.objects.values_list("year", flat=True))
    CalendarYear.objects.bulk_create(
        [
            CalendarYear(year=y, complete=True, note="chinese_calendar")
            for y in sorted(years - known)
        ]
    )


def unseed(apps, schema_editor):
    apps.get_model("workcalendar", "SpecialDay").objects.filter(source="library").delete()
    apps.get_model("workcalendar", "CalendarYear").objects.filter(note="chinese_calendar").delete()


class Migration(migrations.Migration):
    dependencies = [("workcalendar", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
