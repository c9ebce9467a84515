"""The resource pool's figures as an Excel workbook (openpyxl), one sheet per table."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook

from .choices import STOCK_KINDS, DemandStatus, ResourceKind
from .stats import DemandFigures, PoolStats, pool_stats


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _num(value: Any) -> Any:
    return "" if value is None else value


def _demand_header(first: str) -> list[str]:
    return [
        first, _("需求数"), _("已匹配/完成"), _("满足率"), _("已匹配（有用时）"),
        _("匹配用时中位数（小时）"), _("匹配用时P90（小时）"),
        *(str(label) for _v, label in DemandStatus.choices),
    ]  # fmt: skip


def _demand_values(f: DemandFigures) -> list[Any]:
    return [
        f.posted, f.fulfilled, _pct(f.rate), f.matched, _num(f.median_hours),
        _num(f.p90_hours), *(f.by_status.get(v, 0) for v in DemandStatus.values),
    ]  # fmt: skip


def export_rows(stats: PoolStats) -> list[tuple[str, list[list[Any]]]]:
    """``pool_stats(...)``'s result as sheets of rows for Excel or CSV:
    ``[(sheet title, [header, row, ...]), ...]``."""
    kind_labels = [str(label) for _v, label in ResourceKind.choices]
    centres = [[
        _("中心"), _("资源数"), _("时段类利用率"),
        *(_("%(kind)s利用率") % {"kind": k} for k in kind_labels),
        _("需求数"), _("已匹配/完成"), _("满足率"), _("匹配用时中位数（小时）"),
        _("匹配用时P90（小时）"), _("节约金额（元）"), _("志愿服务时长（小时）"), _("微实事项目"),
    ]]  # fmt: skip
    for c in stats.by_centre:
        d = c.demands or DemandFigures(label=c.name)
        centres.append([
            c.name, c.resources, _pct(c.time_rate), *(_pct(k.rate) for k in c.kinds),
            d.posted, d.fulfilled, _pct(d.rate), _num(d.median_hours), _num(d.p90_hours),
            c.saved, c.volunteer_hours, c.projects,
        ])  # fmt: skip
    d = stats.demands or DemandFigures(label="")
    centres.append([
        _("合计"), stats.resources, _pct(stats.time_rate), *(_pct(k.rate) for k in stats.by_kind),
        d.posted, d.fulfilled, _pct(d.rate), _num(d.median_hours), _num(d.p90_hours),
        stats.saved, stats.volunteer_hours, sum(p.projects for p in stats.projects),
    ])  # fmt: skip

    kinds = [[
        _("资源类型"), _("资源数"), _("计量"), _("已使用"), _("可供使用"), _("利用率"),
        _("调配笔数"),
    ]]  # fmt: skip
    for k in stats.by_kind:
        measure = _("数量") if k.kind in STOCK_KINDS else _("资源·小时")
        kinds.append(
            [k.label, k.resources, measure, k.used, k.capacity, _pct(k.rate), k.allocations]
        )

    owners = [[
        _("中心"), _("提供单位"), _("资源数"), _("时段类利用率"),
        *(_("%(kind)s利用率") % {"kind": k} for k in kind_labels),
    ]]  # fmt: skip
    for o in stats.by_owner:
        rate = {k.kind: k.rate for k in o.kinds}
        owners.append(
            [o.centre_name, o.name, o.resources, _pct(o.time_rate),
             *(_pct(rate.get(v)) for v in ResourceKind.values)]
        )  # fmt: skip

    by_kind = [_demand_header(_("资源类型"))]
    by_kind += [[f.label, *_demand_values(f)] for f in stats.demands_by_kind]
    by_kind.append([_("合计"), *_demand_values(d)])
    by_org = [_demand_header(_("需求单位"))]
    by_org += [[f.label, *_demand_values(f)] for f in stats.demands_by_org]

    savings = [[_("使用单位"), _("调剂笔数"), _("节约金额（元）")]]
    savings += [[s.name, s.allocations, s.saved] for s in stats.savings_by_org]
    savings.append([_("合计"), sum(s.allocations for s in stats.savings_by_org), stats.saved])

    teams = [[_("志愿服务队"), _("服务时长（小时）"), _("服务人次"), _("志愿者人数")]]
    teams += [[t.name, t.hours, t.attendances, t.volunteers] for t in stats.hours_by_team]
    teams.append([_("合计"), stats.volunteer_hours, stats.attendances, stats.volunteers])

    projects = [[_("状态"), _("项目数"), _("预算（元）"), _("已支出（元）"), _("受益人数")]]
    projects += [[p.label, p.projects, p.budget, p.spent, p.beneficiaries] for p in stats.projects]

    return [
        (_("一盘棋"), centres),
        (_("资源利用（按类型）"), kinds),
        (_("资源利用（按提供单位）"), owners),
        (_("需求（按类型）"), by_kind),
        (_("需求（按单位）"), by_org),
        (_("节约资金"), savings),
        (_("志愿服务"), teams),
        (_("微实事项目"), projects),
    ]


def pool_stats_xlsx(user: Any, *, start: date, end: date, org_id: int | None = None) -> bytes:
    """``stats.pool_stats`` for the same arguments (its scope, its NotFound and
    InvalidInput) as .xlsx bytes, one sheet per table of ``export_rows``."""
    data = pool_stats(user, start=start, end=end, org_id=org_id)
    wb = Workbook(write_only=True)
    for title, rows in export_rows(data):
        ws = wb.create_sheet(title[:31])  # Excel's limit on sheet names
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
