"""Rules and overrides in plain Chinese, for the library pages.

``describe_rule(kind, params)`` turns a rule's typed parameters into one sentence a
manager can check against the printed standard; ``describe_override`` says what an
adopting organisation changed ("留样量 125 → 150 g").
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _

from ..indicators import INDICATORS
from ..rules import RuleParamsError, parse_params

register = template.Library()

# Codes used by the seed library and the workorder categories, shown by name.
CODE_LABELS = {
    "repair": gettext_lazy("维修"),
    "repair.urgent": gettext_lazy("急修"),
    "repair.minor": gettext_lazy("零修"),
    "urgent": gettext_lazy("急修"),
    "minor": gettext_lazy("零修"),
    "normal": gettext_lazy("一般"),
    "meeting": gettext_lazy("会议"),
    "meeting_room": gettext_lazy("会议室"),
    "large_hall": gettext_lazy("大会堂"),
    "barber": gettext_lazy("理发"),
    "canteen": gettext_lazy("食堂"),
    "food_sample": gettext_lazy("食品留样"),
}

# Record-rule variable names, shown by what they measure.
VAR_LABELS = {
    "min_weight_g": gettext_lazy("留样量"),
    "sample_weight_g": gettext_lazy("留样量"),
    "min_hours": gettext_lazy("留样时间"),
    "keep_hours": gettext_lazy("留样时间"),
    "min_keep_hours": gettext_lazy("留样时间"),
    "min_temp_c": gettext_lazy("最低温度"),
    "max_temp_c": gettext_lazy("最高温度"),
    "min_minutes": gettext_lazy("最短时长"),
    "min_seconds": gettext_lazy("最短时长"),
    "min_concentration_mg_l": gettext_lazy("最低浓度"),
    "max_room_temp_c": gettext_lazy("室温上限"),
    "min_uv_w_m3": gettext_lazy("紫外灯功率"),
    "min_core_temp_c": gettext_lazy("中心温度"),
    "hot_min_c": gettext_lazy("热藏温度下限"),
    "cold_max_c": gettext_lazy("冷藏温度上限"),
    "chilled_min_c": gettext_lazy("冷藏温度下限"),
    "chilled_max_c": gettext_lazy("冷藏温度上限"),
    "frozen_max_c": gettext_lazy("冷冻温度上限"),
    "summer_min_c": gettext_lazy("夏季空调温度下限"),
    "winter_max_c": gettext_lazy("冬季空调温度上限"),
}
# Words a variable name is read from (vars.min_temp_c → 最低温度); a context of their own,
# since alone on a page the same words are titles.
_TOKENS = {
    "min": pgettext_lazy("rule variable", "最低"),
    "max": pgettext_lazy("rule variable", "最高"),
    "weight": pgettext_lazy("rule variable", "重量"),
    "temp": pgettext_lazy("rule variable", "温度"),
    "hours": pgettext_lazy("rule variable", "时长"),
    "minutes": pgettext_lazy("rule variable", "时长"),
    "seconds": pgettext_lazy("rule variable", "时长"),
    "days": pgettext_lazy("rule variable", "天数"),
    "count": pgettext_lazy("rule variable", "数量"),
    "rate": pgettext_lazy("rule variable", "比率"),
    "sample": pgettext_lazy("rule variable", "留样"),
    "keep": pgettext_lazy("rule variable", "保存"),
}
_UNITS_SUFFIX = {"g", "c", "h", "s", "m3", "mg", "l", "kg", "w", "pct"}
UNIT_LABELS = {
    "h": gettext_lazy("小时"),
    "min": gettext_lazy("分钟"),
    "s": gettext_lazy("秒"),
    "c": gettext_lazy("℃"),
    "C": gettext_lazy("℃"),
    "d": gettext_lazy("天"),
}

FREQ_UNITS = {
    "meal": gettext_lazy("餐"),
    "day": gettext_lazy("天"),
    "week": gettext_lazy("周"),
    "half_month": gettext_lazy("半月"),
    "month": gettext_lazy("个月"),
    "quarter": gettext_lazy("季度"),
    "year": gettext_lazy("年"),
}
SEVERITY = {
    "key": gettext_lazy("关键"),
    "important": gettext_lazy("重要"),
    "general": gettext_lazy("一般"),
}
ANCHORS = {
    "created": gettext_lazy("报修"),
    "accepted": gettext_lazy("接单"),
    "arrived": gettext_lazy("到场"),
    "before_start": gettext_lazy("开始"),
}
ACTIONS = {
    "warn": gettext_lazy("预警"),
    "escalate": gettext_lazy("升级"),
    "escalate_further": gettext_lazy("再升级"),
}
PERIODS = {
    "month": gettext_lazy("每月"),
    "quarter": gettext_lazy("每季度"),
    "year": gettext_lazy("每年"),
}


def code_label(code: str | None) -> str:
    if not code:
        return ""
    return str(CODE_LABELS[code]) if code in CODE_LABELS else code


def var_label(name: str) -> str:
    if name in VAR_LABELS:
        return str(VAR_LABELS[name])
    parts = [p for p in name.split("_") if p]
    if len(parts) > 1 and parts[-1] in _UNITS_SUFFIX:
        parts = parts[:-1]
    if parts and all(p in _TOKENS for p in parts):
        # Chinese words join without a space (最低温度), English ones with one
        sep = "" if (get_language() or "zh").startswith("zh") else " "
        return sep.join(str(_TOKENS[p]) for p in parts)
    return name


def unit_label(unit: str) -> str:
    return str(UNIT_LABELS[unit]) if unit in UNIT_LABELS else unit


def number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def duration(minutes: int | float) -> str:
    """Minutes as 分钟 / 小时 / 天, whichever reads naturally."""
    minutes = int(minutes)
    if minutes % 1440 == 0:
        return _("%(n)d 天") % {"n": minutes // 1440}
    if minutes % 60 == 0:
        return _("%(n)d 小时") % {"n": minutes // 60}
    if minutes > 60:
        return _("%(h)d 小时 %(m)d 分钟") % {"h": minutes // 60, "m": minutes % 60}
    return _("%(n)d 分钟") % {"n": minutes}


def frequency(freq: Any) -> str:
    """``{"every": 1, "unit": "half_month"}`` (or the model) as 每半月一次."""
    every = freq.get("every", 1) if isinstance(freq, dict) else freq.every
    unit = freq.get("unit") if isinstance(freq, dict) else freq.unit
    if unit == "meal":
        return _("每餐") if every == 1 else _("每 %(n)d 餐") % {"n": every}
    label = str(FREQ_UNITS.get(unit, unit))
    if every == 1:
        if unit == "month":
            return _("每月一次")
        return _("每%(unit)s一次") % {"unit": label}
    return _("每 %(n)d %(unit)s一次") % {"n": every, "unit": label}


def _months(months: list[int]) -> str:
    """[4, 5, 6, 7, 8, 9] as 4–9 月; non-contiguous as 1、3、5 月."""
    ms = sorted(months)
    if ms == list(range(ms[0], ms[-1] + 1)) and len(ms) > 1:
        return _("%(a)d–%(b)d 月") % {"a": ms[0], "b": ms[-1]}
    return _("%(list)s 月") % {"list": "、".join(str(m) for m in ms)}


def _sla(p: Any) -> str:
    head = code_label(p.category)
    if p.priority:
        head = f"{head}（{code_label(p.priority)}）"
    parts = []
    for t in p.timers:
        cal = t.calendar or p.calendar
        cal_text = _("24小时制") if cal == "24x7" else _("按工作时间")
        if t.anchor == "before_start":
            parts.append(
                _("%(label)s：开始前 %(d)s 完成（%(cal)s）")
                % {"label": t.label, "d": duration(t.minutes), "cal": cal_text}
            )
        else:
            parts.append(
                _("%(label)s %(d)s内（自%(anchor)s起，%(cal)s）")
                % {
                    "label": t.label,
                    "d": duration(t.minutes),
                    "anchor": str(ANCHORS[t.anchor]),
                    "cal": cal_text,
                }
            )
    text = f"{head}：" + "，".join(parts)
    if p.escalation:
        steps = "、".join(f"{s.at_percent}% {ACTIONS[s.action]!s}" for s in p.escalation)
        text += _("；超时 %(steps)s") % {"steps": steps}
    if p.pause_reasons:
        text += _("；可暂停计时：%(r)s") % {"r": "、".join(p.pause_reasons)}
    return text


def _record(p: Any, severity: str | None) -> str:
    text = p.message
    if p.vars:
        values = "，".join(
            f"{var_label(k)} {number(v.value)}{(' ' + unit_label(v.unit)) if v.unit else ''}"
            for k, v in p.vars.items()
        )
        text += f"（{values}）"
    if p.when:
        text += _("；适用条件：%(when)s") % {"when": p.when}
    blocking = p.blocking if p.blocking is not None else severity == "key"
    if blocking:
        text += _("（关键，违反即拒绝保存）")
    else:
        text += _("（违反记为不符合项）")
    return _("记录“%(type)s”：%(text)s") % {"type": code_label(p.record_type), "text": text}


def _schedule(p: Any) -> str:
    t = p.target
    obj = t.location_tag or t.asset_type or t.record_type or ""
    text = _("%(activity)s（%(obj)s）：%(freq)s") % {
        "activity": code_label(t.activity),
        "obj": obj,
        "freq": frequency(p.frequency),
    }
    if p.seasons:
        seasons = "，".join(
            f"{s.label + ' ' if s.label else ''}{_months(s.months)}{frequency(s.frequency)}"
            for s in p.seasons
        )
        text += _("；%(seasons)s，其余%(freq)s") % {
            "seasons": seasons,
            "freq": frequency(p.frequency),
        }
    if p.grace_hours:
        text += _("；宽限 %(n)d 小时") % {"n": p.grace_hours}
    return text


def _item(item: Any) -> str:
    text = item.text
    if item.type == "measure":
        bounds = []
        if item.min is not None:
            bounds.append(f"≥ {number(item.min)}{item.unit}")
        if item.max is not None:
            bounds.append(f"≤ {number(item.max)}{item.unit}")
        text += _("（测量值 %(b)s）") % {"b": "、".join(bounds)}
    elif item.type == "score":
        text += _("（满分 %(n)s）") % {"n": number(item.max_score)}
        if item.deductions:
            text += "：" + "、".join(f"{d.label}扣 {number(d.points)} 分" for d in item.deductions)
    if item.severity:
        text += f"［{SEVERITY[item.severity]!s}］"
    return text


def _checklist(p: Any) -> str:
    items = "；".join(f"{i}. {_item(item)}" for i, item in enumerate(p.items, 1))
    text = _("检查表“%(title)s”共 %(n)d 项：%(items)s") % {
        "title": p.title,
        "n": len(p.items),
        "items": items,
    }
    if p.pass_line is not None:
        text += _("；合格线 %(n)s 分") % {"n": number(p.pass_line)}
    for band in p.grades:
        conds = [
            _("%(sev)s项不合格 ≤ %(n)d") % {"sev": str(SEVERITY[sev]), "n": n}
            for sev, n in band.max_failed.items()
        ]
        if band.min_score is not None:
            conds.append(_("得分 ≥ %(n)s") % {"n": number(band.min_score)})
        text += _("；%(cond)s → %(grade)s") % {
            "cond": "且".join(conds) or _("其余"),
            "grade": band.label or band.grade,
        }
    return text


def _kpi(p: Any) -> str:
    ind = INDICATORS.get(p.indicator)
    label = str(ind.label) if ind else p.indicator
    unit = p.unit or (ind.unit if ind else "")
    text = f"{label} {p.comparison.replace('>=', '≥').replace('<=', '≤')} {number(p.threshold)}"
    text += f"{unit}（{PERIODS[p.period]!s}）"
    if p.filters:
        text += "；" + "，".join(f"{k}={v}" for k, v in p.filters.items())
    return text


def _booking(p: Any) -> str:
    parts = [f"{code_label(p.resource_class)}："]
    items = [_("提前 ≥ %(d)s") % {"d": duration(p.lead_time_minutes)}]
    if p.max_advance_days:
        items.append(_("最多提前 %(n)d 天") % {"n": p.max_advance_days})
    if p.windows:
        groups: dict[str, list[str]] = {}
        for w in p.windows:
            groups.setdefault(w.days, []).append(
                f"{w.start.strftime('%H:%M')}–{w.end.strftime('%H:%M')}"
            )
        windows = "；".join(
            f"{_('工作日') if days == 'workdays' else _('每天')} {'、'.join(spans)}"
            for days, spans in groups.items()
        )
        items.append(_("受理时段 %(w)s") % {"w": windows})
    if p.max_duration_minutes:
        items.append(_("最长 %(d)s") % {"d": duration(p.max_duration_minutes)})
    if p.requires_approval:
        items.append(_("须审批"))
    if p.required_fields:
        items.append(_("必填：%(f)s") % {"f": "、".join(p.required_fields)})
    if p.priority:
        labels = {"important": _("重要优先"), "urgent": _("紧急优先")}
        items.append("、".join(labels.get(x, x) for x in p.priority))
    if p.emergency_register_after:
        items.append(_("紧急情况可事后登记"))
    return parts[0] + "；".join(items)


def describe_rule(kind: str, params: Any, *, severity: str | None = None) -> str:
    """One plain-Chinese sentence for a rule; the raw parameters if they do not parse."""
    try:
        p = parse_params(kind, params)
    except RuleParamsError:
        return _("（参数无效）%(raw)s") % {"raw": params}
    if kind == "sla":
        return _sla(p)
    if kind == "record":
        return _record(p, severity)
    if kind == "schedule":
        return _schedule(p)
    if kind == "checklist":
        return _checklist(p)
    if kind == "kpi":
        return _kpi(p)
    return _booking(p)


def tunable_label(kind: str, params: dict[str, Any], path: str) -> tuple[str, str]:
    """(what a tunable path measures, its unit) for override descriptions."""
    parts = path.split(".")
    if kind == "record" and parts[0] == "vars":
        var = (params.get("vars") or {}).get(parts[1]) or {}
        return var_label(parts[1]), unit_label(var.get("unit", ""))
    if kind == "sla" and parts[0] == "timers":
        for t in params.get("timers") or []:
            if t.get("name") == parts[1]:
                return _("%(label)s时限") % {"label": t.get("label", parts[1])}, _("分钟")
        return parts[1], _("分钟")
    if kind == "sla" and parts[0] == "escalation":
        return _("第 %(n)d 级升级阈值") % {"n": int(parts[1]) + 1}, "%"
    if kind == "schedule":
        if parts[0] == "grace_hours":
            return _("宽限时间"), _("小时")
        if parts[0] == "seasons":
            return _("第 %(n)d 季节频次") % {"n": int(parts[1]) + 1}, ""
        return _("频次"), ""
    if kind == "checklist":
        if parts[0] == "pass_line":
            return _("合格线"), _("分")
        if parts[0] == "items":
            return (_("检查项 %(k)s 下限") if parts[2] == "min" else _("检查项 %(k)s 上限")) % {
                "k": parts[1]
            }, ""
        return _("评级条件 %(p)s") % {"p": path}, ""
    if kind == "kpi":
        ind = INDICATORS.get(params.get("indicator", ""))
        return (str(ind.label) if ind else _("指标阈值")), params.get("unit") or (
            ind.unit if ind else ""
        )
    if kind == "booking":
        labels = {
            "lead_time_minutes": (_("提前预订时间"), _("分钟")),
            "max_duration_minutes": (_("最长时长"), _("分钟")),
            "requires_approval": (_("须审批"), ""),
        }
        return labels.get(path, (path, ""))
    return path, ""


def _value(value: Any) -> str:
    if isinstance(value, dict) and "unit" in value:
        return frequency(value)
    return number(value)


def _inherited(kind: str, params: dict[str, Any], path: str) -> Any:
    """The value before the override, as written in the rule (frequencies as dicts)."""
    node: Any = params
    if kind == "schedule" and path.endswith("period_days"):
        path = path.removesuffix(".period_days")
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list):
            if part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:  # list addressed by an element's key/name
                node = next(
                    (x for x in node if x.get("key") == part or x.get("name") == part), None
                )
        if node is None:
            return None
    if kind == "record" and isinstance(node, dict):  # never: vars.X.value ends on a number
        return node.get("value")
    return node


def describe_override(kind: str, params: dict[str, Any], path: str, value: Any) -> str:
    """``留样量 125 → 150 g``: what, from what, to what."""
    label, unit = tunable_label(kind, params, path)
    before = _inherited(kind, params, path)
    text = f"{label} {_value(before) if before is not None else '?'} → {_value(value)}"
    if unit and not isinstance(value, dict):
        text += f" {unit}"
    return text


@register.simple_tag
def rule_text(rule: Any, severity: str | None = None) -> str:
    return describe_rule(rule.kind, rule.params, severity=severity)


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@register.filter
def severity_label(value: str) -> str:
    return str(SEVERITY.get(value, value))
