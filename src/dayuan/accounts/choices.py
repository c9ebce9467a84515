from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    STAFF = "staff", _("干部职工")
    DISPATCHER = "dispatcher", _("服务台")
    WORKER = "worker", _("服务人员")
    INSPECTOR = "inspector", _("巡检员")
    MANAGER = "manager", _("管理人员")
    ASSESSOR = "assessor", _("第三方评估")
    ADMIN = "admin", _("系统管理员")
