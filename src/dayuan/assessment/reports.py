"""A run's report: a PDF in Chinese (ReportLab, the built-in ``STSong-Light`` CID font,
so no system fonts are needed) and an Excel workbook (summary, items, deductions, the
ranking on the same scheme).

Both take what ``queries.run_detail`` returns, so they show exactly what the caller may
see. People's comments are shown with the scorer's role, never their name; a survey
indicator shows only its counts (an anonymous survey must name nobody).
"""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from dayuan.core.periods import SHANGHAI

from .choices import IndicatorSort, ScorerRole

FONT = "STSong-Light"
_registered = False


def _font() -> str:
    """Register the CID font once per process."""
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def money(value: Any) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):,.2f}"


def num(value: Any, places: int = 2) -> str:
    if value is None:
        return "—"
    return f"{float(value):.{places}f}"


def period_label(r: Any) -> str:
    return (
        f"{r.get_period_kind_display()} {r.period_start.isoformat()} — {r.period_end.isoformat()}"
    )


def subject_name(r: Any) -> str:
    return r.subject_org.name


def working_lines(working: Any) -> list[str]:
    """The payment working as lines of text, whatever shape the engine stored: a list
    of steps, or ``{"steps": [...]}``; a step is a string or a dict."""
    if isinstance(working, dict):
        steps = working.get("steps")
        if steps is None:
            return [f"{k} = {v}" for k, v in sorted(working.items())]
        working = steps
    lines = []
    for step in working or []:
        if isinstance(step, dict):
            label = step.get("label") or step.get("text") or step.get("step") or ""
            if "value" in step:
                name = step.get("name") or step.get("variable") or ""
                head = " ".join(str(x) for x in (label, name) if x)
                lines.append(f"{head}: {step['value']}" if head else str(step["value"]))
            else:
                rest = ", ".join(
                    f"{k}={v}" for k, v in step.items() if k not in ("label", "text", "step")
                )
                lines.append(" ".join(x for x in (str(label), rest) if x))
        else:
            lines.append(str(step))
    return lines


def deduction_row(d: dict[str, Any]) -> list[str]:
    """A frozen deduction match as (what, match, when, points, money)."""
    kind = str(d.get("kind") or d.get("source") or "")
    kind_label = {"finding": _("检查问题"), "event": _("事件")}.get(kind, kind)
    ident = d.get("ref") or d.get("number") or d.get("id") or ""
    when = str(d.get("at") or d.get("occurred_at") or d.get("raised_at") or "")[:10]
    return [
        f"{kind_label} {ident}".strip(),
        str(d.get("match") or d.get("severity") or d.get("event_type") or ""),
        when,
        num(d.get("points")),
        money(d.get("money")),
    ]


def comments(items: list[Any]) -> list[tuple[str, str, str]]:
    """(indicator, scorer role, comment) for every score with a comment; no names."""
    out = []
    for item in items:
        for s in getattr(item, "score_list", []):
            if s.superseded or not (s.comment or "").strip():
                continue
            role = item.indicator.scorer_role or ScorerRole.MANAGER
            out.append((item.indicator.label, str(ScorerRole(role).label), s.comment.strip()))
    return out


def item_row(item: Any) -> list[str]:
    no_data = item.sort == IndicatorSort.COMPUTED and item.value is None
    shown = _("无数据") if no_data else num(item.value)
    return [item.indicator.label, num(item.weight), shown, num(item.points)]


# --- PDF -----------------------------------------------------------------------------------


def _chart(items: list[Any]) -> Drawing:
    font = _font()
    width, height = 170 * mm, 70 * mm
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y = 12 * mm, 14 * mm
    chart.width, chart.height = width - 20 * mm, height - 26 * mm
    weights = [float(i.weight) for i in items] or [0.0]
    points = [float(i.points or 0) for i in items] or [0.0]
    chart.data = [weights, points]
    chart.categoryAxis.categoryNames = [i.indicator.label[:8] for i in items] or [""]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max([*weights, 1.0]) * 1.1
    chart.bars[0].fillColor = colors.HexColor("#c8d6e5")
    chart.bars[1].fillColor = colors.HexColor("#1e6fd9")
    drawing.add(chart)
    legend = Legend()
    legend.fontName = font
    legend.fontSize = 8
    legend.x, legend.y = width - 45 * mm, height - 4 * mm
    legend.alignment = "right"
    legend.colorNamePairs = [
        (chart.bars[0].fillColor, _("权重")),
        (chart.bars[1].fillColor, _("得分")),
    ]
    drawing.add(legend)
    drawing.add(String(0, height - 6 * mm, _("各指标得分与权重"), fontName=font, fontSize=9))
    return drawing


def _table(rows: list[list[str]], widths: list[float], font: str) -> Table:
    t = Table(rows, colWidths=widths, repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b0b8c4")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ]
        )
    )
    return t


def run_pdf(detail: dict[str, Any], now: datetime | None = None) -> bytes:
    """The run's report as an A4 PDF."""
    font = _font()
    r = detail["run"]
    items = detail["items"]
    generated = timezone.localtime(now or timezone.now(), SHANGHAI).strftime("%Y-%m-%d %H:%M")
    title = ParagraphStyle("t", fontName=font, fontSize=16, leading=22, alignment=1)
    h2 = ParagraphStyle("h", fontName=font, fontSize=11, leading=16, spaceBefore=8)
    body = ParagraphStyle("b", fontName=font, fontSize=9.5, leading=14)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        from xml.sax.saxutils import escape

        return Paragraph(escape(text), style)

    story: list[Any] = [p(_("考核报告") + f" · {r.scheme.name}", title), Spacer(1, 4 * mm)]
    summary = [
        [_("被考核单位"), subject_name(r)],
        [_("合同"), f"{r.contract.number} {r.contract.title}" if r.contract_id else "—"],
        [_("考核周期"), period_label(r)],
        [_("状态"), str(r.get_status_display())],
        [_("得分"), num(r.score)],
        [_("等级"), r.grade_label or r.grade or "—"],
        [_("是否合格"), "—" if r.passed is None else (_("合格") if r.passed else _("不合格"))],
        [_("扣分"), num(r.deduction_points)],
        [_("扣款（元）"), money(r.deduction_money)],
        [_("应付基数（元）"), money(r.fee)],
        [_("应付金额（元）"), money(r.payable)],
    ]
    st = _table(summary, [40 * mm, 130 * mm], font)
    st.setStyle(
        TableStyle(
            [("ALIGN", (1, 0), (-1, -1), "LEFT"), ("BACKGROUND", (0, 0), (-1, 0), colors.white)]
        )
    )
    story.append(st)
    working = working_lines(r.payable_working)
    if working:
        story.append(p(_("应付金额计算过程"), h2))
        for line in working:
            story.append(p(line))
    story.append(p(_("考核指标"), h2))
    rows = [[_("指标"), _("权重"), _("实测值"), _("得分")], *(item_row(i) for i in items)]
    story.append(_table(rows, [80 * mm, 25 * mm, 35 * mm, 30 * mm], font))
    if items:
        story.append(Spacer(1, 4 * mm))
        story.append(_chart(items))
    deductions = detail.get("deductions") or []
    story.append(p(_("扣分扣款"), h2))
    if deductions:
        rows = [
            [_("事项"), _("类别"), _("日期"), _("扣分"), _("扣款（元）")],
            *(deduction_row(d) for d in deductions),
        ]
        story.append(_table(rows, [55 * mm, 30 * mm, 30 * mm, 25 * mm, 30 * mm], font))
    else:
        story.append(p(_("本期无扣分事项。")))
    said = comments(items)
    if said:
        story.append(p(_("评分意见"), h2))
        for label, role, text in said:
            story.append(p(f"【{label}】（{role}）{text}"))

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawString(18 * mm, 10 * mm, _("生成时间（北京时间）：") + generated)
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"{doc.page}")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"{subject_name(r)} {period_label(r)}",
        author="Dayuan",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


# --- Excel -----------------------------------------------------------------------------------


def _sheet(wb: Workbook, title: str, head: list[str], rows: list[list[Any]], first: bool = False):
    ws = wb.active if first else wb.create_sheet()
    ws.title = title
    ws.append(head)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for i, h in enumerate(head):
        ws.column_dimensions[chr(ord("A") + i)].width = max(12, len(str(h)) * 2 + 4)
    return ws


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def run_xlsx(detail: dict[str, Any], ranking: list[dict[str, Any]] | None = None) -> bytes:
    """The run as a workbook: summary, items, deductions, ranking."""
    r = detail["run"]
    summary = [
        [_("考核方案"), r.scheme.name],
        [_("被考核单位"), subject_name(r)],
        [_("合同"), r.contract.number if r.contract_id else ""],
        [_("考核周期"), period_label(r)],
        [_("状态"), str(r.get_status_display())],
        [_("得分"), _float(r.score)],
        [_("等级"), r.grade_label or r.grade],
        [_("是否合格"), None if r.passed is None else (_("合格") if r.passed else _("不合格"))],
        [_("扣分"), _float(r.deduction_points)],
        [_("扣款（元）"), _float(r.deduction_money)],
        [_("应付基数（元）"), _float(r.fee)],
        [_("应付金额（元）"), _float(r.payable)],
        *([_("计算过程"), line] for line in working_lines(r.payable_working)),
    ]
    wb = Workbook()
    _sheet(wb, _("汇总"), [_("项目"), _("内容")], summary, first=True)
    _sheet(
        wb,
        _("指标"),
        [_("指标"), _("类型"), _("权重"), _("实测值"), _("得分")],
        [
            [
                i.indicator.label,
                str(i.get_sort_display()),
                _float(i.weight),
                i.value,
                _float(i.points),
            ]
            for i in detail["items"]
        ],
    )
    _sheet(
        wb,
        _("扣分"),
        [_("事项"), _("类别"), _("日期"), _("扣分"), _("扣款（元）")],
        [deduction_row(d) for d in detail.get("deductions") or []],
    )
    _sheet(
        wb,
        _("排名"),
        [
            _("名次"),
            _("被考核单位"),
            _("合同"),
            _("得分"),
            _("等级"),
            _("合格"),
            _("应付金额（元）"),
        ],
        [
            [
                row["rank"],
                row["subject_name"],
                row["contract_number"] or "",
                _float(row["score"]),
                row["grade_label"] or row["grade"],
                None if row["passed"] is None else bool(row["passed"]),
                _float(row["payable"]),
            ]
            for row in ranking or []
        ],
    )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
