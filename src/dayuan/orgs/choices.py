from django.db import models
from django.utils.translation import gettext_lazy as _


class OrgKind(models.TextChoices):
    CITY = "city", _("市级中心")
    COUNTY = "county", _("县（区）级中心")
    DEPARTMENT = "department", _("部门/单位")
    VENDOR = "vendor", _("外包服务单位")
    ENTERPRISE = "enterprise", _("企业")
    SOCIAL = "social", _("社会组织")
    ASSESSOR = "assessor", _("第三方评估机构")

    @classmethod
    def centres(cls) -> set[str]:
        return {cls.CITY, cls.COUNTY}

    @classmethod
    def external(cls) -> set[str]:
        return {cls.VENDOR, cls.ENTERPRISE, cls.SOCIAL, cls.ASSESSOR}


# Which kinds may sit under which: the shape of the organisation tree.
ALLOWED_CHILDREN: dict[str, set[str]] = {
    OrgKind.CITY: {OrgKind.COUNTY, OrgKind.DEPARTMENT, *OrgKind.external()},
    OrgKind.COUNTY: {OrgKind.DEPARTMENT, *OrgKind.external()},
    OrgKind.DEPARTMENT: {OrgKind.DEPARTMENT},
}


class LocationKind(models.TextChoices):
    COMPOUND = "compound", _("大院")
    BUILDING = "building", _("楼栋")
    FLOOR = "floor", _("楼层")
    ROOM = "room", _("房间")
    AREA = "area", _("区域")


LOCATION_CHILDREN: dict[str | None, set[str]] = {
    None: {LocationKind.COMPOUND},
    LocationKind.COMPOUND: {LocationKind.BUILDING, LocationKind.AREA},
    LocationKind.BUILDING: {LocationKind.FLOOR, LocationKind.AREA},
    LocationKind.FLOOR: {LocationKind.ROOM, LocationKind.AREA},
    LocationKind.ROOM: set(),
    LocationKind.AREA: {LocationKind.AREA},
}
