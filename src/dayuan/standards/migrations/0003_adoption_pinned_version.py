# The adoption's pinned-version FK was named ``version``, hiding the optimistic
# ``version`` counter of VersionedModel: rename it and add the counter.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('standards', '0002_version_released_at'),
    ]

    operations = [
        migrations.RenameField(
            model_name='adoption',
            old_name='version',
            new_name='pinned_version',
        ),
        migrations.AlterField(
            model_name='adoption',
            name='pinned_version',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='adoptions', to='standards.standardversion', verbose_name='固定版本'),
        ),
        migrations.AddField(
            model_name='adoption',
            name='version',
            field=models.PositiveIntegerField(default=1, verbose_name='版本'),
        ),
    ]
