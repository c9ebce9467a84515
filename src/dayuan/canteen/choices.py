from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Meal(models.TextChoices):
    BREAKFAST = "breakfast", _("早餐")
    LUNCH = "lunch", _("午餐")
    DINNER = "dinner", _("晚餐")


MEAL_ORDER = {Meal.BREAKFAST: 0, Meal.LUNCH: 1, Meal.DINNER: 2}


class DishCategory(models.TextChoices):
    STAPLE = "staple", _("主食")
    MEAT = "meat", _("荤菜")
    VEGETABLE = "vegetable", _("素菜")
    SOUP = "soup", _("汤品")
    SNACK = "snack", _("点心")
    FRUIT = "fruit", _("水果")
    PACKAGE = "package", _("外带套餐")


class DishTag(models.TextChoices):
    BAIXIAN = "baixian", _("百县千碗")
    MINGCHU = "mingchu", _("名厨联盟")
    VEGETARIAN = "vegetarian", _("素食")
    SPICY = "spicy", _("辣")
    LOW_SALT = "low_salt", _("少盐少油")
    HALAL = "halal", _("清真")


class Allergen(models.TextChoices):
    """The eight allergen groups of GB 7718-2011 (预包装食品标签通则 4.4.3.1)."""

    GLUTEN = "gluten", _("含麸质谷物")
    CRUSTACEAN = "crustacean", _("甲壳类")
    FISH = "fish", _("鱼类")
    EGG = "egg", _("蛋类")
    PEANUT = "peanut", _("花生")
    SOY = "soy", _("大豆")
    MILK = "milk", _("乳及乳制品")
    NUT = "nut", _("坚果")


class MenuStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")
    CLOSED = "closed", _("已结束")
    CANCELLED = "cancelled", pgettext_lazy("menu", "已取消")


class ReservationKind(models.TextChoices):
    EAT_IN = "eat_in", _("堂食")
    TAKEAWAY = "takeaway", _("外带")


class ReservationStatus(models.TextChoices):
    RESERVED = "reserved", _("已报餐")
    SERVED = "served", _("已取餐")
    NO_SHOW = "no_show", _("未就餐")
    CANCELLED = "cancelled", pgettext_lazy("reservation", "已取消")


# Reservations that hold portions and a place in the headcount.
HOLDING = (ReservationStatus.RESERVED, ReservationStatus.SERVED, ReservationStatus.NO_SHOW)


class VoucherPurpose(models.TextChoices):
    MEETING = "meeting", _("会议用餐")
    VISITOR = "visitor", _("来访接待")
    DUTY = "duty", _("加班值班")
    OTHER = "other", _("其他")


class VoucherStatus(models.TextChoices):
    ISSUED = "issued", _("未使用")
    REDEEMED = "redeemed", _("已使用")
    VOID = "void", _("已作废")


class ColdUnitKind(models.TextChoices):
    CHILLED = "chilled", _("冷藏")
    FROZEN = "frozen", _("冷冻")
    SAMPLE = "sample", _("留样冰箱")


class DisinfectionMethod(models.TextChoices):
    BOILING = "boiling", _("煮沸")
    STEAM = "steam", _("蒸汽")
    INFRARED = "infrared", _("红外线")
    DISHWASHER = "dishwasher", _("洗碗机")
    CHLORINE = "chlorine", _("含氯消毒剂")


class WasteKind(models.TextChoices):
    KITCHEN = "kitchen", _("餐厨垃圾")
    TRAY = "tray", _("餐盘回收剩余")
    UNSOLD = "unsold", _("未售废弃")
    TRIMMINGS = "trimmings", _("边角料再利用")


# The ``record_type`` each log is judged by (JG-ST).
class RecordType:
    FOOD_SAMPLE = "canteen.food_sample"
    SAMPLE_FRIDGE = "canteen.sample_fridge_temp"
    STORAGE = "canteen.storage_temp"
    DISINFECTION = "canteen.disinfection"
    RECEIVING = "canteen.receiving"
    STAFF_ON_DUTY = "canteen.staff_on_duty"
    WASTE_LEDGER = "canteen.waste_ledger"
    WASTE_DAILY = "canteen.waste_daily"


# Inspection activities and checklists of the kitchen's daily checks (JG-ST C13).
OPENING_CHECK = "canteen.opening_check"
CLOSING_CHECK = "canteen.closing_check"
KITCHEN_TAG = "后厨"
