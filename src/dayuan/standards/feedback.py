"""Feedback on standards: comments on clauses and revision proposals built from data.

标准运行中的不足及时总结改进: the people who work under a clause comment on it; a
manager assembles, for the latest published version, the clauses that fail often,
the clauses never exercised and the comments into a proposal for the next version.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dayuan.audit.log import audited, record
from dayuan.core import policy
from dayuan.core.errors import InvalidInput, NotFound
from dayuan.core.scope import scoped

from . import compliance
from .choices import Severity, VersionStatus
from .models import Clause, ClauseComment, RevisionProposal, StandardVersion

MAX_COMMENT = 2000
PROPOSAL_DAYS = 365  # the period a proposal looks back over


def _home_org(actor: Any) -> Any:
    org = getattr(actor, "home_org", None)
    if org is None:
        raise InvalidInput(gettext_lazy("您没有所属单位，无法提交。"), code="no_home_org")
    return org


@audited("standards.comment.create")
def comment_on_clause(
    *, actor: Any, clause_id: int, text: str, suggestion: str = ""
) -> ClauseComment:
    """A comment filed under the actor's home organisation (so its subtree's managers
    and the levels above read it), on a clause of a standard the actor can see."""
    org = _home_org(actor)
    policy.require(actor, "standards.comment", org)
    clause = (
        Clause.objects.select_related("version__standard__issuing_org")
        .filter(pk=clause_id, version__standard__in=compliance.visible_standards(actor))
        .first()
    )
    if clause is None or (
        clause.version.status == VersionStatus.DRAFT
        and not policy.can(actor, "standards.manage", clause.version.standard.issuing_org)
    ):
        raise NotFound()  # drafts are seen only by their editors
    text = (text or "").strip()
    suggestion = (suggestion or "").strip()
    if not text:
        raise InvalidInput(gettext_lazy("请填写意见。"), code="invalid_comment", field="text")
    if len(text) > MAX_COMMENT or len(suggestion) > 500:
        raise InvalidInput(
            gettext_lazy("意见不超过 2000 字，建议不超过 500 字。"),
            code="invalid_comment",
            field="text",
        )
    comment = ClauseComment.objects.create(
        clause=clause, org=org, author=actor, text=text, suggestion=suggestion
    )
    record(
        "standards.comment.create",
        actor=actor,
        obj=comment,
        changes={
            "standard": clause.version.standard.code,
            "version": clause.version.number,
            "clause": clause.number,
            "text": text,
            "suggestion": suggestion,
        },
    )
    return comment


def comments(
    user: Any, *, standard_id: int | None = None, clause_id: int | None = None
) -> QuerySet[ClauseComment]:
    """Comments from the organisations the user reaches, newest first."""
    qs = scoped(user, ClauseComment.objects.all()).select_related(
        "author", "org", "clause__version__standard"
    )
    if standard_id is not None:
        qs = qs.filter(clause__version__standard_id=standard_id)
    if clause_id is not None:
        qs = qs.filter(clause_id=clause_id)
    return qs.order_by("-id")


def proposals(user: Any, *, standard_id: int | None = None) -> QuerySet[RevisionProposal]:
    qs = scoped(user, RevisionProposal.objects.all()).select_related(
        "author", "org", "standard", "based_on"
    )
    if standard_id is not None:
        qs = qs.filter(standard_id=standard_id)
    return qs.order_by("-id")


def proposal(user: Any, pk: int) -> RevisionProposal:
    found = proposals(user).filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _summary(actor: Any, version: StandardVersion, since: date) -> dict[str, Any]:
    """Per-clause figures for the version's clauses, keyed by clause number so the
    judgments and comments made under earlier versions of a clause count too."""
    standard = version.standard
    stats: dict[str, dict[str, int]] = defaultdict(
        lambda: {"total": 0, "passed": 0, "failed": 0, "na": 0}
    )
    for s in compliance.clause_compliance(actor, standard_id=standard.pk, since=since):
        acc = stats[s.clause_number]
        acc["total"] += s.total
        acc["passed"] += s.passed
        acc["failed"] += s.failed
        acc["na"] += s.na
    notes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in comments(actor, standard_id=standard.pk):
        notes[c.clause.number].append(
            {
                "id": c.pk,
                "org": c.org.name,
                "author": getattr(c.author, "display_name", "") or c.author.username,
                "text": c.text,
                "suggestion": c.suggestion,
                "at": timezone.localtime(c.created_at).strftime("%Y-%m-%d"),
            }
        )
    clauses = []
    for clause in version.clauses.order_by("position").prefetch_related("rules"):
        acc = stats.get(clause.number, {"total": 0, "passed": 0, "failed": 0, "na": 0})
        has_rules = bool(clause.rules.all())
        r = compliance.rate(acc["passed"], acc["failed"])
        clauses.append(
            {
                "clause_id": clause.pk,
                "number": clause.number,
                "text": clause.text,
                "severity": clause.severity,
                "binding": clause.binding,
                "has_rules": has_rules,
                **acc,
                "rate": r,
                "low": r is not None and r < compliance.LOW_RATE,
                "never_exercised": has_rules and acc["total"] == 0,
                "comments": notes.get(clause.number, []),
            }
        )
    return {
        "standard": standard.code,
        "title": standard.title,
        "version": version.number,
        "since": since.isoformat(),
        "until": timezone.localdate().isoformat(),
        "low_rate": compliance.LOW_RATE,
        "clauses": clauses,
    }


def _text(summary: dict[str, Any]) -> str:
    """The proposal as readable Chinese, section by section."""
    severity = dict(Severity.choices)
    lines = [
        _("《%(title)s》（%(code)s）第 %(version)s 版运行情况总结与修订建议")
        % {"title": summary["title"], "code": summary["standard"], "version": summary["version"]},
        _("统计期间：%(since)s 至 %(until)s。") % summary,
        "",
    ]
    low = [c for c in summary["clauses"] if c["low"]]
    low.sort(key=lambda c: c["rate"])
    lines.append(_("一、符合率偏低的条款（低于 %(rate)s）") % {"rate": _pct(summary["low_rate"])})
    if low:
        for i, c in enumerate(low, 1):
            lines.append(
                _(
                    "%(i)d. 第 %(number)s 条（%(severity)s）“%(text)s”：判定 %(total)d 次，"
                    "不符合 %(failed)d 次，符合率 %(rate)s。建议核查要求是否合理、"
                    "执行与资源是否到位，必要时调整条款或加强培训与督办。"
                )
                % {
                    "i": i,
                    "number": c["number"],
                    "severity": severity.get(c["severity"], c["severity"]),
                    "text": c["text"],
                    "total": c["total"],
                    "failed": c["failed"],
                    "rate": _pct(c["rate"]),
                }
            )
    else:
        lines.append(_("无。"))
    lines.append("")
    never = [c for c in summary["clauses"] if c["never_exercised"]]
    lines.append(_("二、期间内未被执行的条款"))
    if never:
        for i, c in enumerate(never, 1):
            lines.append(
                _(
                    "%(i)d. 第 %(number)s 条“%(text)s”：期间内没有任何判定记录。"
                    "建议确认该条款是否已落实到业务流程，或是否仍有必要。"
                )
                % {"i": i, "number": c["number"], "text": c["text"]}
            )
    else:
        lines.append(_("无。"))
    lines.append("")
    lines.append(_("三、意见与建议"))
    commented = [c for c in summary["clauses"] if c["comments"]]
    if commented:
        for c in commented:
            lines.append(_("第 %(number)s 条“%(text)s”：") % c)
            for note in c["comments"]:
                line = _("  · %(org)s %(author)s（%(at)s）：%(text)s") % note
                if note["suggestion"]:
                    line += _("；建议修改为：%(suggestion)s") % note
                lines.append(line)
    else:
        lines.append(_("无。"))
    return "\n".join(lines)


@audited("standards.proposal.create")
def propose_revision(*, actor: Any, standard_id: int) -> RevisionProposal:
    """A revision proposal for the latest published version, from the figures and
    comments of the actor's scope over the last year."""
    org = _home_org(actor)
    policy.require(actor, "standards.manage", org)
    standard = compliance.visible_standards(actor).filter(pk=standard_id).first()
    if standard is None:
        raise NotFound()
    version = (
        StandardVersion.objects.filter(standard=standard, status=VersionStatus.PUBLISHED)
        .select_related("standard")
        .order_by("-number")
        .first()
    )
    if version is None:
        raise InvalidInput(gettext_lazy("该标准还没有已发布的版本。"), code="no_published_version")
    since = timezone.localdate() - timedelta(days=PROPOSAL_DAYS)
    summary = _summary(actor, version, since)
    proposal_ = RevisionProposal.objects.create(
        standard=standard,
        based_on=version,
        org=org,
        author=actor,
        summary=summary,
        text=_text(summary),
    )
    record(
        "standards.proposal.create",
        actor=actor,
        obj=proposal_,
        changes={
            "standard": standard.code,
            "version": version.number,
            "low": [c["number"] for c in summary["clauses"] if c["low"]],
            "never_exercised": [c["number"] for c in summary["clauses"] if c["never_exercised"]],
        },
    )
    return proposal_
