"""Comments on clauses and revision proposals: permission, scope, audit, content."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dayuan.audit.models import AuditEntry
from dayuan.core.errors import InvalidInput, NotFound, PermissionDenied
from dayuan.standards import feedback
from dayuan.standards.models import ClauseComment, RevisionProposal

from .test_compliance import judge, make_standard


@pytest.fixture
def built(world):
    return make_standard(world.city)


def test_it_files_a_comment_under_the_home_org_and_audits_it(world, built):
    user = world.user("a_staff")
    c = feedback.comment_on_clause(
        actor=user,
        clause_id=built.clauses["4.1"].pk,
        text="留样冰箱容量不够",
        suggestion="增配留样冰箱",
    )
    assert c.org == world.county_a and c.author == user
    entry = AuditEntry.objects.get(action="standards.comment.create", object_id=str(c.pk))
    assert entry.outcome == "success" and entry.org_id == world.county_a.pk
    assert entry.changes["clause"] == "4.1" and entry.changes["standard"] == "canteen-food"


def test_it_refuses_an_empty_comment_and_keeps_the_refusal(world, built):
    with pytest.raises(InvalidInput):
        feedback.comment_on_clause(
            actor=world.user("a_staff"), clause_id=built.clauses["4.1"].pk, text="  "
        )
    assert not ClauseComment.objects.exists()
    assert AuditEntry.objects.filter(action="standards.comment.create", outcome="refused").exists()


def test_it_refuses_a_comment_on_a_standard_out_of_the_library(world):
    county_std = make_standard(world.county_a, code="a-only")
    with pytest.raises(NotFound):
        feedback.comment_on_clause(
            actor=world.user("b_staff"), clause_id=county_std.clauses["4.1"].pk, text="x"
        )
    assert not ClauseComment.objects.exists()


def test_it_scopes_comments_by_the_commenters_org(world, built):
    feedback.comment_on_clause(
        actor=world.user("a_staff"), clause_id=built.clauses["4.1"].pk, text="甲县意见"
    )
    feedback.comment_on_clause(
        actor=world.user("b_staff"), clause_id=built.clauses["4.1"].pk, text="乙县意见"
    )

    def texts(u):
        return {c.text for c in feedback.comments(world.user(u), standard_id=built.standard.pk)}

    assert texts("city_manager") == {"甲县意见", "乙县意见"}
    assert texts("a_manager") == {"甲县意见"}
    assert texts("b_manager") == {"乙县意见"}
    assert texts("vendor_worker") == set()


def test_it_lets_only_managers_propose_revisions(world, built):
    with pytest.raises(PermissionDenied):
        feedback.propose_revision(actor=world.user("a_staff"), standard_id=built.standard.pk)
    assert not RevisionProposal.objects.exists()
    assert AuditEntry.objects.filter(action="standards.proposal.create", outcome="refused").exists()


def test_it_needs_a_published_version(world, built):
    built.version.status = "draft"
    built.version.save()
    with pytest.raises(InvalidInput):
        feedback.propose_revision(actor=world.user("city_manager"), standard_id=built.standard.pk)


def test_it_builds_a_proposal_from_figures_and_comments(world, built):
    a, b = world.county_a, world.county_b
    judge(built.rules["sample"], a, "pass", 6)
    judge(built.rules["sample"], b, "fail", 4)  # 4.1: 60 %: low
    judge(built.rules["urgent"], a, "pass", 20)  # 4.2: 100 %
    judge(built.rules["urgent"], b, "fail", 1, at=timezone.now() - timedelta(days=400))  # too old
    feedback.comment_on_clause(
        actor=world.user("b_staff"),
        clause_id=built.clauses["4.1"].pk,
        text="晚餐菜品少，125克难以做到",
        suggestion="小份菜品留样 100 克",
    )
    proposal = feedback.propose_revision(
        actor=world.user("city_manager"), standard_id=built.standard.pk
    )
    assert proposal.based_on == built.version and proposal.org == world.city
    rows = {c["number"]: c for c in proposal.summary["clauses"]}
    assert rows["4.1"]["low"] and rows["4.1"]["rate"] == pytest.approx(0.6)
    assert not rows["4.2"]["low"] and rows["4.2"]["total"] == 20
    assert rows["4.3"]["never_exercised"] and not rows["4.4"]["never_exercised"]
    text = proposal.text
    low_section = text.split("二、")[0]
    assert (
        "4.1" in low_section
        and "60.0%" in low_section
        and "4.2" not in low_section.split("一、")[1]
    )
    assert "避雷针巡查" in text.split("二、")[1].split("三、")[0]
    assert "晚餐菜品少，125克难以做到" in text and "小份菜品留样 100 克" in text
    entry = AuditEntry.objects.get(action="standards.proposal.create", outcome="success")
    assert entry.object_id == str(proposal.pk) and entry.changes["low"] == ["4.1"]


def test_it_builds_a_county_proposal_from_the_county_only(world, built):
    judge(built.rules["sample"], world.county_b, "fail", 4)
    feedback.comment_on_clause(
        actor=world.user("b_staff"), clause_id=built.clauses["4.1"].pk, text="乙县的意见"
    )
    proposal = feedback.propose_revision(
        actor=world.user("a_manager"), standard_id=built.standard.pk
    )
    rows = {c["number"]: c for c in proposal.summary["clauses"]}
    assert rows["4.1"]["total"] == 0 and rows["4.1"]["comments"] == []
    assert "乙县的意见" not in proposal.text
    # Proposals are scoped like comments.
    assert list(feedback.proposals(world.user("b_manager"))) == []
    assert list(feedback.proposals(world.user("city_manager"))) == [proposal]
    with pytest.raises(NotFound):
        feedback.proposal(world.user("b_manager"), proposal.pk)
