import pytest

from dayuan.audit.models import AuditEntry
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.standards import queries, services
from dayuan.standards.effective import effective_rules
from dayuan.standards.models import Clause, Rule, Standard, StandardVersion

from .factories_core import (
    SLA_P1,
    arrive_minutes,
    build_standard,
    fresh_effective_cache,  # noqa: F401 (autouse fixture)
    revise,
    sla,
)

pytestmark = pytest.mark.django_db


def test_it_creates_a_draft_then_publishes_it_immutable(world):
    manager = world.user("city_manager")
    std, v1 = build_standard(manager, world.city, publish=False)
    assert std.status == "draft" and v1.status == "draft" and v1.number == 1
    assert Clause.objects.filter(version=v1).count() == 3
    rule = Rule.objects.get(version=v1, key="p1_arrive")
    assert rule.target == "workorder:repair.urgent"

    published = services.publish(actor=manager, version_id=v1.pk, change_note="首版")
    std.refresh_from_db()
    assert published.status == "published" and published.general_release
    assert published.published_by == manager and published.released_at is not None
    assert len(published.content_hash) == 64
    assert std.status == "published"

    clause = Clause.objects.get(version=v1, number="P1")
    with pytest.raises(Conflict) as exc:
        services.upsert_clause(
            actor=manager, version_id=v1.pk, number="P1", text="改", severity="key", binding=True
        )
    assert exc.value.code == "version_published"
    with pytest.raises(Conflict) as exc:
        services.upsert_rule(
            actor=manager, clause_id=clause.pk, key="p1_arrive", kind="sla", params=sla(10)
        )
    assert exc.value.code == "version_published"
    with pytest.raises(Conflict):
        services.delete_rule(actor=manager, rule_id=rule.pk)
    with pytest.raises(Conflict):
        services.delete_clause(actor=manager, clause_id=clause.pk)
    with pytest.raises(Conflict):
        services.publish(actor=manager, version_id=v1.pk)
    rule.refresh_from_db()
    assert rule.params == SLA_P1  # nothing changed


def test_it_copies_the_latest_published_version_into_a_new_draft(world):
    manager = world.user("city_manager")
    std, v1 = build_standard(manager, world.city)
    v2 = services.new_draft(actor=manager, standard_id=std.pk)
    assert v2.number == 2 and v2.status == "draft"
    assert sorted(Clause.objects.filter(version=v2).values_list("number", flat=True)) == [
        "P1",
        "P2",
        "P3",
    ]
    copied = Rule.objects.get(version=v2, key="p1_arrive")
    original = Rule.objects.get(version=v1, key="p1_arrive")
    assert copied.pk != original.pk and copied.params == original.params
    assert copied.clause.version_id == v2.pk

    with pytest.raises(Conflict) as exc:
        services.new_draft(actor=manager, standard_id=std.pk)
    assert exc.value.code == "draft_exists" and exc.value.details["draft_id"] == v2.pk

    # The unchanged copy hashes like the original; a change gives another hash.
    services.publish(actor=manager, version_id=v2.pk)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v2.content_hash == v1.content_hash
    assert v1.status == "superseded" and v2.status == "published"
    v3 = revise(manager, std, "p1_arrive", sla(20))
    assert v3.number == 3 and v3.content_hash != v2.content_hash
    v2.refresh_from_db()
    assert v2.status == "superseded"


def test_it_edits_a_draft_and_deletes_clauses_and_rules(world):
    manager = world.user("city_manager")
    _std, v1 = build_standard(manager, world.city, publish=False)
    clause = services.upsert_clause(
        actor=manager,
        version_id=v1.pk,
        number="P1",
        text="新文本",
        severity="important",
        binding=False,
    )
    assert Clause.objects.filter(version=v1, number="P1").count() == 1
    assert clause.text == "新文本" and not clause.binding
    new = services.upsert_clause(
        actor=manager, version_id=v1.pk, number="P9", text="避雷", severity="general", binding=False
    )
    assert new.position == 3  # appended after P1..P3
    rule = Rule.objects.get(version=v1, key="p2_pass_rate")
    services.delete_rule(actor=manager, rule_id=rule.pk)
    assert not Rule.objects.filter(pk=rule.pk).exists()
    p3 = Clause.objects.get(version=v1, number="P3")
    services.delete_clause(actor=manager, clause_id=p3.pk)
    assert not Rule.objects.filter(version=v1, key="p3_structure").exists()


def test_it_refuses_invalid_rule_params_with_located_errors(world):
    manager = world.user("city_manager")
    _std, v1 = build_standard(manager, world.city, publish=False)
    clause = Clause.objects.get(version=v1, number="P1")
    bad = {
        "category": "repair.urgent",
        "timers": [{"name": "arrive", "label": "到场", "minutes": 0}],
    }
    with pytest.raises(InvalidInput) as exc:
        services.upsert_rule(
            actor=manager, clause_id=clause.pk, key="p1_arrive", kind="sla", params=bad
        )
    assert exc.value.code == "invalid_rule"
    assert any("timers" in e["loc"] for e in exc.value.details["errors"])
    with pytest.raises(InvalidInput) as exc:
        services.upsert_rule(actor=manager, clause_id=clause.pk, key="x", kind="nope", params={})
    assert exc.value.code == "invalid_rule"
    bad_cel = {"record_type": "canteen.sample", "check": "record.weight_g >=", "message": "m"}
    with pytest.raises(InvalidInput) as exc:
        services.upsert_rule(
            actor=manager, clause_id=clause.pk, key="c1", kind="record", params=bad_cel
        )
    assert "CEL" in str(exc.value.details["errors"])
    # A refusal is audited, the rule unchanged.
    assert Rule.objects.get(version=v1, key="p1_arrive").params == SLA_P1
    assert AuditEntry.objects.filter(action="standards.rule.upsert", outcome="refused").exists()


def test_it_refuses_empty_and_duplicate_and_unauthorised_authoring(world):
    manager = world.user("city_manager")
    std = services.create_standard(
        actor=manager, code="empty", title="空", issuing_org_id=world.city.pk, domain="general"
    )
    with pytest.raises(InvalidInput) as exc:
        services.publish(actor=manager, version_id=std.versions.get().pk)
    assert exc.value.code == "empty_version"
    with pytest.raises(InvalidInput) as exc:
        services.create_standard(
            actor=manager, code="empty", title="x", issuing_org_id=world.city.pk, domain="general"
        )
    assert exc.value.code == "duplicate_code"
    # A county manager sees the city's library but cannot author it.
    std2, _v1 = build_standard(manager, world.city, "shared", publish=True)
    with pytest.raises(PermissionDenied):
        services.new_draft(actor=world.user("a_manager"), standard_id=std2.pk)
    # The city's unpublished draft is not even visible to the county.
    with pytest.raises(NotFound):
        services.upsert_clause(
            actor=world.user("a_manager"),
            version_id=std.versions.get().pk,
            number="X",
            text="x",
            severity="general",
            binding=False,
        )
    # Staff cannot create standards; nobody creates one in a county they do not reach.
    with pytest.raises(PermissionDenied):
        services.create_standard(
            actor=world.user("a_staff"),
            code="s",
            title="s",
            issuing_org_id=world.county_a.pk,
            domain="general",
        )
    with pytest.raises(NotFound):
        services.create_standard(
            actor=world.user("b_manager"),
            code="s",
            title="s",
            issuing_org_id=world.county_a.pk,
            domain="general",
        )


def test_it_updates_a_standard_with_optimistic_version(world):
    manager = world.user("city_manager")
    std, _ = build_standard(manager, world.city)
    updated = services.update_standard(
        actor=manager, standard_id=std.pk, version=std.version, title="新名称"
    )
    assert updated.title == "新名称" and updated.version == std.version + 1
    with pytest.raises(StaleVersion):
        services.update_standard(actor=manager, standard_id=std.pk, version=std.version, title="x")


def test_it_pilots_a_version_then_releases_it(world):
    manager = world.user("city_manager")
    std, v1 = build_standard(manager, world.city)
    services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    v2 = revise(manager, std, "p1_arrive", sla(20), pilot_org_ids=[world.county_a.pk])
    assert v2.status == "published" and not v2.general_release and v2.released_at is None
    v1.refresh_from_db()
    assert v1.status == "published"  # still in force outside the pilot

    assert arrive_minutes(effective_rules(world.county_a)) == 20
    assert arrive_minutes(effective_rules(world.vendor)) == 20  # the pilot's subtree
    assert arrive_minutes(effective_rules(world.county_b)) == 30
    assert arrive_minutes(effective_rules(world.city)) == 30

    services.release_generally(actor=manager, version_id=v2.pk)
    v1.refresh_from_db()
    assert v1.status == "superseded"
    for org in (world.city, world.county_a, world.county_b):
        assert arrive_minutes(effective_rules(org)) == 20
    with pytest.raises(Conflict) as exc:
        services.release_generally(actor=manager, version_id=v2.pk)
    assert exc.value.code == "not_in_pilot"


def test_it_refuses_pilots_outside_the_issuing_org(world):
    a_manager = world.user("a_manager")
    _std, v1 = build_standard(a_manager, world.county_a, "county-a-std", publish=False)
    with pytest.raises(InvalidInput) as exc:
        services.publish(actor=a_manager, version_id=v1.pk, pilot_org_ids=[world.county_b.pk])
    assert exc.value.code == "invalid_pilot_org"
    v1.refresh_from_db()
    assert v1.status == "draft"


def test_it_retires_a_standard_and_its_rules_stop_applying(world):
    manager = world.user("city_manager")
    std, _ = build_standard(manager, world.city)
    services.adopt(actor=manager, org_id=world.city.pk, standard_id=std.pk)
    assert effective_rules(world.county_a)
    services.retire(actor=manager, standard_id=std.pk)
    assert effective_rules(world.county_a) == []
    assert Standard.objects.get(pk=std.pk).status == "retired"
    with pytest.raises(Conflict) as exc:
        services.new_draft(actor=manager, standard_id=std.pk)
    assert exc.value.code == "standard_retired"
    with pytest.raises(Conflict):
        services.adopt(actor=world.user("a_manager"), org_id=world.county_a.pk, standard_id=std.pk)


def test_it_audits_authoring_in_the_standard_history(world):
    manager = world.user("city_manager")
    std, v1 = build_standard(manager, world.city)
    adoption = services.adopt(
        actor=world.user("a_manager"), org_id=world.county_a.pk, standard_id=std.pk
    )
    actions = list(queries.history(manager, std.pk).values_list("action", flat=True))
    assert actions[-1] == "standards.standard.create"
    assert "standards.version.publish" in actions
    assert actions.count("standards.rule.upsert") == 3
    assert "standards.adoption.create" in actions  # the city sees the county's adoption
    entry = AuditEntry.objects.get(action="standards.version.publish")
    assert entry.actor_name == "city_manager"
    assert entry.changes["content_hash"] == v1.content_hash
    # County B sees the standard's history but not county A's adoption.
    b_entries = list(queries.history(world.user("b_manager"), std.pk))
    assert "standards.version.publish" in {e.action for e in b_entries}
    assert all(e.object_type != "standards.adoption" for e in b_entries)
    assert str(adoption.pk) not in {
        e.object_id for e in b_entries if e.object_type != "standards.standard"
    }


def test_it_shares_the_city_library_down_but_not_across(world):
    manager = world.user("city_manager")
    city_std, _ = build_standard(manager, world.city, "city-std")
    a_std, _ = build_standard(world.user("a_manager"), world.county_a, "a-std")
    b_std, _ = build_standard(world.user("b_manager"), world.county_b, "b-std")
    draft_std, _ = build_standard(manager, world.city, "city-draft", publish=False)

    def codes(user):
        return set(queries.library(user).values_list("code", flat=True))

    assert codes(world.user("a_staff")) == {"city-std", "a-std"}
    assert codes(world.user("b_staff")) == {"city-std", "b-std"}
    assert codes(world.user("vendor_worker")) == {"city-std", "a-std"}
    assert codes(manager) == {"city-std", "a-std", "b-std", "city-draft"}
    assert codes(world.user("assessor")) == {"city-std"}
    assert queries.sees_standard(world.user("a_staff"), city_std)
    assert not queries.sees_standard(world.user("a_staff"), b_std)
    assert not queries.sees_standard(world.user("a_manager"), draft_std)
    with pytest.raises(NotFound):
        queries.standard(world.user("b_staff"), a_std.pk)
    # Drafts of a visible standard are hidden from those who cannot edit it.
    services.new_draft(actor=manager, standard_id=city_std.pk)
    assert [v.number for v in queries.versions(world.user("a_staff"), city_std.pk)] == [1]
    assert [v.number for v in queries.versions(manager, city_std.pk)] == [2, 1]
    assert StandardVersion.objects.filter(standard=city_std).count() == 2


def test_it_pins_only_versions_in_force_for_the_adopting_org(world):
    manager = world.user("city_manager")
    std, v1 = build_standard(manager, world.city)
    v2 = revise(manager, std, "p1_arrive", sla(20), pilot_org_ids=[world.county_a.pk])
    draft = services.new_draft(actor=manager, standard_id=std.pk)
    b_manager = world.user("b_manager")
    with pytest.raises(InvalidInput) as exc:
        services.adopt(
            actor=b_manager, org_id=world.county_b.pk, standard_id=std.pk, version_id=v2.pk
        )
    assert exc.value.code == "version_not_in_force"
    with pytest.raises(InvalidInput) as exc:
        services.adopt(
            actor=b_manager, org_id=world.county_b.pk, standard_id=std.pk, version_id=draft.pk
        )
    assert exc.value.code == "invalid_version"
    pinned = services.adopt(
        actor=world.user("a_manager"),
        org_id=world.county_a.pk,
        standard_id=std.pk,
        version_id=v2.pk,
    )
    assert pinned.pinned_version_id == v2.pk and pinned.version == 1
    adoption = services.adopt(
        actor=b_manager, org_id=world.county_b.pk, standard_id=std.pk, version_id=v1.pk
    )
    assert arrive_minutes(effective_rules(world.county_b)) == 30
    assert adoption.pinned_version_id == v1.pk
