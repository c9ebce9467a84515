"""Builders for the core standards tests: a small property standard through the services."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dayuan.standards import effective, services

SLA_P1 = {
    "category": "repair.urgent",
    "timers": [{"name": "arrive", "label": "到场", "minutes": 30}],
    "escalation": [
        {"at_percent": 80, "action": "warn"},
        {"at_percent": 100, "action": "escalate"},
    ],
}
KPI_P2 = {"indicator": "repair_pass_rate", "comparison": ">=", "threshold": 95, "unit": "%"}
SCHEDULE_P3 = {
    "target": {"location_tag": "办公楼", "activity": "patrol.structure"},
    "frequency": {"every": 1, "unit": "quarter"},
}
RECORD_C1 = {
    "record_type": "canteen.sample",
    "vars": {"min_weight_g": {"value": 125, "stricter": "higher", "unit": "g"}},
    "check": "record.weight_g >= vars.min_weight_g",
    "message": "留样不足 125 克",
}

# number, text, severity, binding, [(key, kind, params)]
DEFAULT_CLAUSES: list[tuple[str, str, str, bool, list[tuple[str, str, dict[str, Any]]]]] = [
    ("P1", "急修到场时限", "key", True, [("p1_arrive", "sla", SLA_P1)]),
    ("P2", "零修合格率 100%", "important", False, [("p2_pass_rate", "kpi", KPI_P2)]),
    (
        "P3",
        "房屋结构每季度巡查一次",
        "important",
        True,
        [("p3_structure", "schedule", SCHEDULE_P3)],
    ),
]


def build_standard(
    actor: Any,
    org: Any,
    code: str = "sc-property",
    *,
    clauses: list[Any] | None = None,
    publish: bool = True,
    pilot_org_ids: list[int] | None = None,
    domain: str = "property",
):
    std = services.create_standard(
        actor=actor, code=code, title=f"{code} 物业服务标准", issuing_org_id=org.pk, domain=domain
    )
    draft = std.versions.get()
    for number, text, severity, binding, rules in clauses or DEFAULT_CLAUSES:
        clause = services.upsert_clause(
            actor=actor,
            version_id=draft.pk,
            number=number,
            text=text,
            severity=severity,
            binding=binding,
        )
        for key, kind, params in rules:
            services.upsert_rule(
                actor=actor, clause_id=clause.pk, key=key, kind=kind, params=copy.deepcopy(params)
            )
    if publish:
        services.publish(actor=actor, version_id=draft.pk, pilot_org_ids=pilot_org_ids)
    std.refresh_from_db()
    draft.refresh_from_db()
    return std, draft


def revise(actor: Any, std: Any, key: str, params: dict[str, Any], **publish_kw: Any):
    """A new version of ``std`` with rule ``key``'s params replaced, published."""
    from dayuan.standards.models import Rule

    draft = services.new_draft(actor=actor, standard_id=std.pk)
    rule = Rule.objects.get(version=draft, key=key)
    services.upsert_rule(
        actor=actor, clause_id=rule.clause_id, key=key, kind=rule.kind, params=params
    )
    return services.publish(actor=actor, version_id=draft.pk, **publish_kw)


def sla(minutes: int) -> dict[str, Any]:
    params = copy.deepcopy(SLA_P1)
    params["timers"][0]["minutes"] = minutes
    return params


def arrive_minutes(rules: list[effective.EffectiveRule]) -> int:
    (rule,) = [r for r in rules if r.key == "p1_arrive"]
    return rule.params.timers[0].minutes


@pytest.fixture(autouse=True)
def fresh_effective_cache():
    """Test databases roll back and reuse ids: never let a cached rule set leak."""
    effective.invalidate()
    yield
    effective.invalidate()
