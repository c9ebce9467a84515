"""The audit log page for managers, and its Excel export."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from dayuan.core import policy

from . import queries, services
from .forms import AuditFilterForm
from .models import AuditEntry, Outcome

PAGE_SIZE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "audit/forbidden.html", {"active_nav": "audit"}, status=403)


def change_lines(changes: Any) -> list[str]:
    """``changes`` as short lines: ``field: old → new`` for diffs, ``key: value`` else."""
    if not isinstance(changes, dict):
        return [json.dumps(changes, ensure_ascii=False)] if changes else []
    lines = []
    for key, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            old, new = (json.dumps(v, ensure_ascii=False) for v in value)
            lines.append(f"{key}: {old} → {new}")
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return lines


@login_required
def entries(request: HttpRequest) -> HttpResponse:
    if not policy.can(request.user, "audit.view"):
        return _forbidden(request)
    form = AuditFilterForm(request.GET or None)
    filters = form.filters()
    page = Paginator(queries.entries(request.user, **filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for entry in page.object_list:
        entry.change_lines = change_lines(entry.changes)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "active_nav": "audit",
        "export_cap": queries.EXPORT_CAP,
    }
    if request.headers.get("HX-Request") == "true":
        return render(request, "audit/_results.html", context)
    return render(request, "audit/entries.html", context)


def _row(entry: AuditEntry) -> list[Any]:
    return [
        entry.id,
        timezone.localtime(entry.at).replace(tzinfo=None),
        entry.actor_name,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.object_repr,
        entry.org.name if entry.org_id and entry.org else "",
        entry.source,
        entry.ip or "",
        str(Outcome(entry.outcome).label) if entry.outcome in Outcome.values else entry.outcome,
        entry.reason,
        "\n".join(change_lines(entry.changes)),
        entry.request_id,
        entry.hash,
    ]


@login_required
def export(request: HttpRequest) -> HttpResponse:
    """The page's filtered rows as .xlsx, newest first, at most ``EXPORT_CAP`` rows."""
    if not policy.can(request.user, "audit.view"):
        return _forbidden(request)
    form = AuditFilterForm(request.GET or None)
    filters = form.filters()
    qs = queries.entries(request.user, **filters)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("审计日志"))
    ws.append(
        [
            _("序号"),
            _("时间"),
            _("用户"),
            _("操作"),
            _("对象类型"),
            _("对象ID"),
            _("对象"),
            _("组织"),
            _("来源"),
            _("IP 地址"),
            _("结果"),
            _("原因"),
            _("变更"),
            _("请求ID"),
            _("哈希"),
        ]
    )
    rows = 0
    truncated = False
    for entry in qs[: queries.EXPORT_CAP + 1].iterator(chunk_size=2000):
        if rows == queries.EXPORT_CAP:
            truncated = True
            break
        ws.append(_row(entry))
        rows += 1
    if truncated:
        ws.append([_("仅导出最新的 %(cap)d 条，请缩小筛选范围。") % {"cap": queries.EXPORT_CAP}])
    buffer = BytesIO()
    wb.save(buffer)
    services.note_export(actor=request.user, filters=filters, rows=rows)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.xlsx"'
    return response
