"""The standards pages: library, detail, editor, adoption, compliance, export."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from dayuan.standards import feedback, services
from dayuan.standards.models import Adoption, Clause, Rule, StandardVersion
from dayuan.standards.templatetags.standards_text import describe_override, describe_rule

from .test_compliance import LIGHTNING, SAMPLE, URGENT, judge, make_standard


def login(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def built(world):
    return make_standard(world.city)


@pytest.fixture
def published(world):
    """A standard written and published through the core services (for adoption)."""
    actor = world.user("city_manager")
    std = services.create_standard(
        actor=actor,
        code="canteen-svc",
        title="食堂留样标准",
        issuing_org_id=world.city.pk,
        domain="canteen",
    )
    draft = std.versions.get()
    clause = services.upsert_clause(
        actor=actor,
        version_id=draft.pk,
        number="5.1",
        text="食品留样不少于125克",
        severity="key",
        binding=True,
    )
    services.upsert_rule(
        actor=actor, clause_id=clause.pk, key="canteen.sample", kind="record", params=SAMPLE
    )
    services.publish(actor=actor, version_id=draft.pk)
    std.refresh_from_db()
    return std


# --- plain Chinese ---------------------------------------------------------------------


def test_it_describes_every_rule_kind_in_plain_chinese():
    sla = describe_rule("sla", URGENT)
    assert "到场 30 分钟内" in sla and "24小时制" in sla and "80% 预警、100% 升级" in sla
    record = describe_rule("record", SAMPLE, severity="key")
    assert "留样量 125 g" in record and "留样时间 48 小时" in record
    assert "违反即拒绝保存" in record
    assert "违反记为不符合项" in describe_rule("record", SAMPLE, severity="general")
    schedule = describe_rule("schedule", LIGHTNING)
    assert schedule.endswith("每季度一次；雷雨季 4–9 月每半月一次，其余每季度一次")
    checklist = describe_rule(
        "checklist",
        {
            "checklist": "meeting.after",
            "title": "会后检查",
            "items": [
                {"key": "docs", "text": "检查遗留文件", "severity": "key"},
                {"key": "temp", "text": "室温", "type": "measure", "max": 25, "unit": "℃"},
            ],
            "grades": [{"grade": "pass", "label": "合格", "max_failed": {"key": 0}}],
            "pass_line": 80,
        },
    )
    assert "1. 检查遗留文件［关键］" in checklist and "室温（测量值 ≤ 25℃）" in checklist
    assert "合格线 80 分" in checklist and "关键项不合格 ≤ 0 → 合格" in checklist
    assert describe_rule("kpi", {"indicator": "satisfaction_rate", "threshold": 95}) == (
        "满意率 ≥ 95%（每月）"
    )
    booking = describe_rule(
        "booking",
        {
            "resource_class": "meeting_room",
            "lead_time_minutes": 120,
            "windows": [
                {"start": "08:00", "end": "11:30"},
                {"start": "13:00", "end": "17:00"},
            ],
        },
    )
    assert "提前 ≥ 2 小时" in booking
    assert "受理时段 工作日 08:00–11:30、13:00–17:00" in booking
    assert describe_rule("kpi", {"indicator": "nope"}).startswith("（参数无效）")


def test_it_describes_what_an_override_tightened():
    assert describe_override("record", SAMPLE, "vars.min_weight_g.value", 150) == (
        "留样量 125 → 150 g"
    )
    assert describe_override("sla", URGENT, "timers.arrive.minutes", 20) == "到场时限 30 → 20 分钟"
    assert describe_override(
        "schedule", LIGHTNING, "frequency.period_days", {"every": 1, "unit": "month"}
    ) == ("频次 每季度一次 → 每月一次")


# --- library and detail ------------------------------------------------------------------


def test_it_lists_the_library_with_filters(client, world, built):
    make_standard(world.city, code="meeting-svc", title="会议服务标准", domain="meeting")
    login(client, world.user("a_staff"))
    body = client.get(reverse("standards:library")).content.decode()
    assert "canteen-food" in body and "meeting-svc" in body
    assert 'data-nav="standards"' in body
    body = client.get(reverse("standards:library"), {"domain": "meeting"}).content.decode()
    assert "meeting-svc" in body and "canteen-food" not in body


def test_it_hides_a_county_standard_from_the_other_county(client, world):
    own = make_standard(world.county_a, code="a-local", title="甲县本地标准")
    login(client, world.user("b_staff"))
    assert "a-local" not in client.get(reverse("standards:library")).content.decode()
    assert client.get(reverse("standards:detail", args=[own.standard.pk])).status_code == 404


def test_it_shows_a_standard_read_only_to_staff(client, world, built):
    login(client, world.user("a_staff"))
    resp = client.get(reverse("standards:detail", args=[built.standard.pk]))
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "食品留样不少于125克" in body
    assert "留样量 125 g" in body and "到场 30 分钟内" in body  # rules in plain Chinese
    assert 'class="sev sev-key"' in body and "约束性" in body
    assert 'data-testid="unverified"' in body  # the sample rule is not verified
    assert "餐饮服务食品安全操作规范" in body
    for control in ("editor-controls", "new-draft", "publish-form", "adopt-link", "propose"):
        assert f'data-testid="{control}"' not in body
    assert 'data-testid="comment-form"' in body  # everyone may comment


def test_it_shows_the_editor_to_managers_of_the_issuing_org(client, world, built):
    login(client, world.user("city_manager"))
    body = client.get(reverse("standards:detail", args=[built.standard.pk])).content.decode()
    assert 'data-testid="new-draft"' in body and 'data-testid="propose"' in body
    # County managers may adopt but not edit the city's standard.
    login(client, world.user("a_manager"))
    body = client.get(reverse("standards:detail", args=[built.standard.pk])).content.decode()
    assert 'data-testid="adopt-link"' in body and 'data-testid="new-draft"' not in body


def test_it_edits_a_draft_through_the_services(client, world, published):
    login(client, world.user("city_manager"))
    resp = client.post(reverse("standards:new_draft", args=[published.pk]))
    draft = StandardVersion.objects.get(standard=published, status="draft")
    assert resp.status_code == 302 and f"v={draft.number}" in resp["Location"]
    body = client.get(resp["Location"]).content.decode()
    assert 'data-testid="editor-controls"' in body and 'data-testid="publish-form"' in body

    url = reverse("standards:clause_new", args=[draft.pk])
    assert client.get(url).status_code == 200
    resp = client.post(url, {"number": "5.2", "text": "急修到场", "severity": "important"})
    assert resp.status_code == 302
    clause = Clause.objects.get(version=draft, number="5.2")
    assert clause.severity == "important" and not clause.binding

    rule_url = reverse("standards:rule_new", args=[clause.pk])
    bad = "category: repair\ntimers:\n  - name: arrive\n    label: 到场\n    minutes: 0\n"
    resp = client.post(rule_url, {"key": "repair.urgent", "kind": "sla", "params": bad})
    assert resp.status_code == 422
    body = resp.content.decode()
    errors = re.search(r'data-testid="errors-params">(.*?)</ul>', body, re.S)
    assert errors and "timers.0.minutes" in errors.group(1)
    assert not Rule.objects.filter(version=draft, key="repair.urgent").exists()
    resp = client.post(rule_url, {"key": "repair.urgent", "kind": "sla", "params": "[unclosed"})
    assert resp.status_code == 422 and "YAML" in resp.content.decode()

    good = bad.replace("minutes: 0", "minutes: 30")
    resp = client.post(
        rule_url,
        {"key": "repair.urgent", "kind": "sla", "params": good, "verified": "on"},
    )
    assert resp.status_code == 302
    assert Rule.objects.get(version=draft, key="repair.urgent").params["timers"][0]["minutes"] == 30

    resp = client.post(
        reverse("standards:publish", args=[draft.pk]),
        {"change_note": "新增急修条款", "pilot_orgs": [world.county_a.pk]},
    )
    assert resp.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "published" and list(draft.pilot_orgs.all()) == [world.county_a]
    history = client.get(reverse("standards:detail", args=[published.pk])).content.decode()
    history = history.split('data-testid="history"')[1]
    assert "编辑条款 · 条款 5.2" in history and "编辑规则 · 规则 repair.urgent" in history
    assert f"发布版本 · 第 {draft.number} 版" in history


def test_it_refuses_editing_to_staff_and_other_counties(client, world, published):
    draft = services.new_draft(actor=world.user("city_manager"), standard_id=published.pk)
    for name in ("a_staff", "a_manager"):
        login(client, world.user(name))
        url = reverse("standards:clause_new", args=[draft.pk])
        assert client.get(url).status_code == 403
        resp = client.post(url, {"number": "9", "text": "x", "severity": "general"})
        assert resp.status_code == 403
    assert not Clause.objects.filter(version=draft, number="9").exists()
    login(client, world.user("a_staff"))
    draft_clause = draft.clauses.get()
    client.post(
        reverse("standards:comment", args=[published.pk]),
        {"clause": draft_clause.pk, "text": "草稿意见"},
    )
    assert not draft_clause.comments.exists()  # drafts are for their editors only
    body = client.get(
        reverse("standards:detail", args=[published.pk]), {"v": draft.number}
    ).content.decode()
    assert 'data-testid="editor-controls"' not in body
    assert "草稿" not in body.split('data-testid="versions"')[1].split("</section>")[0]


def test_it_adopts_tightens_and_cites_the_clause_when_loosening(client, world, published):
    login(client, world.user("a_manager"))
    url = reverse("standards:adopt", args=[published.pk])
    assert client.get(url).status_code == 200
    loosen = {
        "org": world.county_a.pk,
        "overrides": "canteen.sample:\n  vars.min_weight_g.value: 100\n",
    }
    resp = client.post(url, loosen)
    assert resp.status_code == 422
    body = resp.content.decode()
    assert "5.1" in body and "约束性" in body
    assert not Adoption.objects.exists()
    v1 = published.versions.get(number=1)
    tighten = {
        **loosen,
        "version": v1.pk,
        "overrides": "canteen.sample: {vars.min_weight_g.value: 150}",
    }
    resp = client.post(url, tighten)
    assert resp.status_code == 302
    adoption = Adoption.objects.get(org=world.county_a)
    assert adoption.overrides == {"canteen.sample": {"vars.min_weight_g.value": 150}}
    body = client.get(reverse("standards:detail", args=[published.pk])).content.decode()
    assert "留样量 125 → 150 g" in body and 'data-testid="adoption-county-a"' in body
    assert adoption.pinned_version == v1 and "固定第 1 版" in body
    # Posting again changes the overrides of the existing adoption.
    assert "150" in client.get(url).content.decode()  # the form shows the current overrides
    resp = client.post(
        url, {**loosen, "overrides": "canteen.sample: {vars.min_weight_g.value: 160}"}
    )
    assert resp.status_code == 302
    adoption.refresh_from_db()
    assert adoption.overrides == {"canteen.sample": {"vars.min_weight_g.value": 160}}

    # County B sees neither the adoption nor its override, and cannot adopt for county A.
    login(client, world.user("b_manager"))
    body = client.get(reverse("standards:detail", args=[published.pk])).content.decode()
    assert "adoption-county-a" not in body and "150" not in body
    assert client.post(url, tighten).status_code == 422  # county A is not a choice
    # The city sees every county's adoption.
    login(client, world.user("city_manager"))
    body = client.get(reverse("standards:detail", args=[published.pk])).content.decode()
    assert "adoption-county-a" in body


def test_it_refuses_the_adopt_page_to_staff(client, world, published):
    login(client, world.user("a_staff"))
    assert client.get(reverse("standards:adopt", args=[published.pk])).status_code == 403


def test_it_takes_comments_and_keeps_them_in_the_county(client, world, built):
    login(client, world.user("a_staff"))
    resp = client.post(
        reverse("standards:comment", args=[built.standard.pk]),
        {"clause": built.clauses["4.1"].pk, "text": "甲县留样冰箱不够用"},
    )
    assert resp.status_code == 302
    assert "甲县留样冰箱不够用" in client.get(resp["Location"]).content.decode()
    login(client, world.user("b_staff"))
    body = client.get(reverse("standards:detail", args=[built.standard.pk])).content.decode()
    assert "甲县留样冰箱不够用" not in body
    login(client, world.user("city_manager"))
    body = client.get(reverse("standards:detail", args=[built.standard.pk])).content.decode()
    assert "甲县留样冰箱不够用" in body


def test_it_makes_a_proposal_page_scoped_to_its_org(client, world, built):
    judge(built.rules["sample"], world.county_a, "fail", 3)
    login(client, world.user("a_manager"))
    resp = client.post(reverse("standards:propose", args=[built.standard.pk]))
    assert resp.status_code == 302
    body = client.get(resp["Location"]).content.decode()
    assert "符合率偏低的条款" in body and "4.1" in body
    pk = feedback.proposals(world.user("a_manager")).get().pk
    login(client, world.user("b_manager"))
    assert client.get(reverse("standards:proposal", args=[pk])).status_code == 404


# --- compliance ------------------------------------------------------------------------


def test_it_renders_the_compliance_page_with_charts_and_no_inline_script(client, world, built):
    judge(built.rules["sample"], world.county_a, "pass", 3)
    judge(built.rules["sample"], world.county_a, "fail", 1)
    judge(built.rules["urgent"], world.county_b, "fail", 2)
    login(client, world.user("city_manager"))
    resp = client.get(reverse("standards:compliance"))
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "echarts-5.6.0.min.js" in body and "standards/compliance.js" in body
    assert '<script id="compliance-data" type="application/json">' in body
    for script in re.findall(r"<script([^>]*)>(.*?)</script>", body, re.S):
        attrs, content = script
        assert content.strip() == "" or 'type="application/json"' in attrs
    assert 'data-testid="stat-canteen-food-4.1"' in body
    assert world.county_a.name in body and world.county_b.name in body
    assert "避雷针巡查" in body.split('data-testid="never-exercised"')[1]
    worst = body.split('data-testid="most-violated"')[1].split("</section>")[0]
    assert worst.index("4.2") < worst.index("4.1")


def test_it_keeps_county_b_out_of_county_a_compliance(client, world, built):
    judge(built.rules["sample"], world.county_a, "fail", 7)
    judge(built.rules["urgent"], world.county_b, "pass", 2)
    login(client, world.user("b_manager"))
    body = client.get(reverse("standards:compliance")).content.decode()
    assert 'data-testid="stat-canteen-food-4.1"' not in body
    assert world.county_a.name not in body.split('data-testid="by-org"')[1].split("</ul>")[0]
    assert f'<option value="{world.county_a.pk}"' not in body
    resp = client.get(reverse("standards:compliance"), {"org": world.county_a.pk})
    assert resp.status_code == 200  # not a choice: the filter is dropped, B's data only
    assert 'data-testid="stat-canteen-food-4.1"' not in resp.content.decode()
    wb = load_workbook(
        BytesIO(client.get(reverse("standards:compliance_export")).content), read_only=True
    )
    rows = list(wb.active.iter_rows(values_only=True))
    assert [r[2] for r in rows[1:]] == ["4.2"]


def test_it_exports_the_compliance_table(client, world, built):
    judge(built.rules["sample"], world.county_a, "pass", 3)
    judge(built.rules["sample"], world.county_a, "fail", 1)
    login(client, world.user("a_manager"))
    resp = client.get(reverse("standards:compliance_export"), {"standard": built.standard.pk})
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(
        load_workbook(BytesIO(resp.content), read_only=True).active.iter_rows(values_only=True)
    )
    assert rows[0][0] == "标准"
    assert rows[1][:3] == ("canteen-food", 1, "4.1")
    assert rows[1][4:] == ("关键", 4, 3, 1, 0, 0.75)


def test_a_variable_label_reads_as_words_in_each_language():
    from django.utils import translation

    from dayuan.standards.templatetags.standards_text import var_label

    with translation.override("zh-hans"):
        assert var_label("min_temp_c") == "最低温度"
    with translation.override("en"):
        assert var_label("min_temp_c") == "minimum temperature"
