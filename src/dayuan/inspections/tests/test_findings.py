"""Findings: failed items become findings bound to clause, severity, location and the
responsible party; ad hoc findings; withdrawal."""

from __future__ import annotations

import pytest

from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.notifications.models import Notification
from dayuan.standards.models import Clause
from dayuan.workorders.tests import core_factories as wo

from .. import events, queries, services
from ..models import Finding, FindingEvent, FindingPhoto, Rectification
from .factories import ALL_PASS, at, build, upload
from .helpers import start, submit

pytestmark = pytest.mark.django_db


def _clause(number: str, standard) -> Clause:
    return Clause.objects.get(number=number, version__standard=standard)


def test_failed_items_become_findings_bound_to_clause_and_party(world):
    s = build(world)
    insp = start(s, vendor_id=world.vendor.pk)
    done = submit(
        s,
        insp,
        answers={**ALL_PASS, "fire_exit": "fail", "server_temp": {"value": 35}},
        notes={"fire_exit": "通道堆放纸箱"},
    )
    findings = {f.item_key: f for f in Finding.objects.filter(inspection=done)}
    assert set(findings) == {"fire_exit", "server_temp"}
    fire = findings["fire_exit"]
    assert fire.clause == _clause("X5", s.standard) and fire.severity == "key"
    assert fire.rule_id == done.rule_id and fire.source == "inspection"
    assert fire.location == s.building_a and fire.vendor == world.vendor
    assert fire.org == world.county_a and fire.raised_by == s.user("a_inspector")
    assert fire.description == "消防通道畅通：通道堆放纸箱"
    assert fire.number.startswith("WT-20250602-") and fire.raised_at == at(2025, 6, 2, 10)
    assert findings["server_temp"].severity == "important"
    assert findings["server_temp"].description == "机房温度"
    # each opened a rectification order and has its history
    assert Rectification.objects.filter(finding__inspection=done).count() == 2
    assert FindingEvent.objects.filter(finding=fire, action="raised").count() == 1
    # the vendor's people are told (by the orders), nobody else
    told = Notification.objects.filter(event__type=events.RECTIFICATION_ORDERED)
    assert set(told.values_list("recipient__username", flat=True)) == {"vendor_worker"}
    # the vendor sees its findings; county B sees none
    assert queries.findings(s.user("vendor_worker")).count() == 2
    assert not queries.findings(s.user("b_manager")).exists()


def test_a_passed_inspection_raises_nothing(world):
    s = build(world)
    submit(s, start(s))
    assert not Finding.objects.exists() and not Rectification.objects.exists()


def test_without_a_vendor_the_unit_answers(world):
    s = build(world)
    done = submit(s, start(s), answers={**ALL_PASS, "floor_clean": "fail"})
    finding = Finding.objects.get(inspection=done)
    assert finding.vendor is None and finding.clause == _clause("X4", s.standard)
    assert finding.rectification.assignee_org == world.county_a


def test_ad_hoc_finding_from_a_work_order(world):
    s = build(world)
    w = wo.build(world)
    order = wo.submit(w, now=at(2025, 6, 1, 9))
    order.vendor = world.vendor
    order.save()
    finding = services.raise_finding(
        actor=s.user("a_manager"),
        org_id=world.county_a.pk,
        clause_id=_clause("X1", s.standard).pk,
        description="楼梯连续三天未清扫",
        workorder_id=order.pk,
        photos=[upload()],
        now=at(2025, 6, 2, 11),
    )
    assert finding.source == "workorder" and finding.workorder == order
    assert finding.severity == "general"  # the clause's
    assert finding.location == order.location and finding.vendor == world.vendor
    assert finding.rule is None and finding.rectification.assignee_org == world.vendor
    assert FindingPhoto.objects.filter(finding=finding).count() == 1


def test_ad_hoc_finding_checks(world):
    s = build(world)
    x1 = _clause("X1", s.standard)
    manager = s.user("a_manager")

    def raise_(actor=manager, **kw):
        kw.setdefault("org_id", world.county_a.pk)
        kw.setdefault("clause_id", x1.pk)
        kw.setdefault("description", "领导巡查发现楼道堆物")
        return services.raise_finding(actor=actor, now=at(2025, 6, 2, 11), **kw)

    f = raise_(source="walkround", severity="key", location_id=s.stairs_a.pk)
    assert f.source == "walkround" and f.severity == "key" and f.location == s.stairs_a
    with pytest.raises(PermissionDenied):
        raise_(actor=s.user("a_staff"))
    with pytest.raises(NotFound):
        raise_(actor=s.user("b_manager"))
    with pytest.raises(InvalidInput):
        raise_(location_id=s.stairs_b.pk, actor=s.user("city_manager"))  # B's stairs
    with pytest.raises(InvalidInput):
        raise_(severity="huge")
    with pytest.raises(InvalidInput):
        raise_(source="missed")
    with pytest.raises(InvalidInput):
        raise_(description=" ")
    # a clause of a standard nobody adopted is not on the list
    w = wo.build(world)
    from dayuan.standards.models import Adoption

    Adoption.objects.filter(standard=w.standard).delete()
    from dayuan.standards import effective

    effective.invalidate()
    with pytest.raises(InvalidInput) as exc:
        raise_(clause_id=Clause.objects.filter(version__standard=w.standard).first().pk)
    assert exc.value.code == "invalid_clause"


def test_cancel_a_finding_withdraws_its_order(world):
    s = build(world)
    done = submit(s, start(s), answers={**ALL_PASS, "floor_clean": "fail"})
    finding = Finding.objects.get(inspection=done)
    with pytest.raises(NotFound):
        services.cancel_finding(
            actor=s.user("b_manager"), finding_id=finding.pk, version=finding.version, reason="x"
        )
    with pytest.raises(StaleVersion):
        services.cancel_finding(
            actor=s.user("a_manager"), finding_id=finding.pk, version=99, reason="误报"
        )
    gone = services.cancel_finding(
        actor=s.user("a_manager"), finding_id=finding.pk, version=finding.version, reason="误报"
    )
    assert gone.status == "cancelled"
    assert Rectification.objects.get(finding=finding).status == "cancelled"
    assert FindingEvent.objects.filter(finding=finding, action="cancelled").get().note == "误报"
    with pytest.raises(Conflict):
        services.cancel_finding(
            actor=s.user("a_manager"), finding_id=finding.pk, version=gone.version, reason="x"
        )
