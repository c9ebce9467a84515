"""The `dayuan` console command: Django's manage.py under the product's name."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dayuan.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["dayuan", *sys.argv[1:]])


if __name__ == "__main__":
    main()
