"""The *.standard.yaml format: located errors, canonical dump, import/export round trip."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from dayuan.audit.models import AuditEntry
from dayuan.core.errors import InvalidInput, PermissionDenied
from dayuan.standards import fileformat
from dayuan.standards.importer import export_standard, import_standard
from dayuan.standards.models import Clause, Rule, Standard, StandardVersion

GOOD = textwrap.dedent(
    """\
    code: T-GOOD
    title: 测试标准
    domain: canteen
    issuing_org: city
    version:
      change_note: 测试
    clauses:
      - number: "1"
        text: 留样不少于 125 g
        severity: key
        binding: true
        rules:
          - key: sample
            kind: record
            params:
              record_type: canteen.food_sample
              vars:
                min_weight_g: {value: 125, stricter: higher, unit: g}
              check: record.weight_g >= vars.min_weight_g
              message: 留样不少于 {min_weight_g} g
            source: {document: 操作规范, edition: "2018", clause: C1, verified: false}
      - number: "2"
        text: 开放时段
        severity: general
        rules:
          - key: hall
            kind: booking
            params:
              resource_class: large_hall
              lead_time_minutes: 4320
              windows:
                - {start: 08:00, end: 11:30}
                - {start: 13:00, end: 17:00}
          - key: daily
            kind: checklist
            params:
              checklist: canteen.daily
              title: 每日检查
              items:
                - {key: sample_ok, text: 留样合格, clause: "1"}
    """
)

# Each case: (text, expected {line: substring of the message}).
BROKEN_SYNTAX = "code: X\ntitle: [unclosed\ndomain: canteen\n"
UNKNOWN_KIND = GOOD.replace("kind: booking", "kind: bookings")
BAD_CEL = GOOD.replace(
    "check: record.weight_g >= vars.min_weight_g",
    "check: |\n            record.weight_g >=\n            vars.min_weight_g >>> 1",
)
BAD_TYPE = GOOD.replace("lead_time_minutes: 4320", "lead_time_minutes: three days")
DUPLICATE_CLAUSE = GOOD.replace('number: "2"', 'number: "1"')


def line_of(text: str, needle: str, nth: int = 1) -> int:
    count = 0
    for i, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            count += 1
            if count == nth:
                return i
    raise AssertionError(needle)


def test_it_accepts_a_good_file():
    doc, errors = fileformat.load(GOOD, "good.standard.yaml")
    assert errors == []
    # YAML 1.2 scalars: clock times stay text (YAML 1.1 would read 13:00 as 780).
    windows = doc["clauses"][1]["rules"][0]["params"]["windows"]
    assert windows[1] == {"start": "13:00", "end": "17:00"}


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (BROKEN_SYNTAX, 3, "YAML 语法错误"),
        (UNKNOWN_KIND, line_of(UNKNOWN_KIND, "kind: bookings"), "bookings"),
        # the error is on the second line of the block scalar
        (BAD_CEL, line_of(BAD_CEL, "vars.min_weight_g >>> 1"), "CEL"),
        (BAD_TYPE, line_of(BAD_TYPE, "lead_time_minutes"), "整数"),
        (DUPLICATE_CLAUSE, line_of(DUPLICATE_CLAUSE, 'number: "1"', 2), "条款号 1 重复"),
    ],
    ids=["syntax", "unknown-kind", "bad-cel", "bad-param-type", "duplicate-clause"],
)
def test_it_reports_each_error_at_its_line(text, line, fragment):
    _doc, errors = fileformat.load(text, "x.standard.yaml")
    assert [(e["line"], fragment in e["msg"]) for e in errors] == [(line, True)], errors


def test_it_reports_cross_reference_errors_with_lines():
    text = (
        GOOD.replace("- key: daily", "- key: sample")
        .replace('clause: "1"}', 'clause: "9"}')
        .replace("message: 留样不少于 {min_weight_g} g", "message: 留样不少于 {max_weight_g} g")
        .replace("check: record.weight_g >= vars.min_weight_g", "check: record.w >= vars.minimum")
        .replace("severity: general", "severity: general\n    severity: key")
    )
    _doc, errors = fileformat.load(text)
    got = {(e["line"], e["msg"].split("（")[0].split(" ")[0]) for e in errors}
    assert (line_of(text, "key: sample", 2), "规则标识") in got
    assert (line_of(text, 'clause: "9"'), "检查项引用的条款") in got
    assert (line_of(text, "check: record.w"), "表达式使用了未定义的变量") in got
    assert (line_of(text, "message: 留样"), "提示语中的") in got
    assert (line_of(text, "severity: key", 2), "字段") in got  # duplicate YAML key
    assert len(errors) == 5, errors


def test_it_reports_missing_and_unknown_fields_where_they_belong():
    text = GOOD.replace("title: 测试标准\n", "").replace(
        "binding: true", "binding: true\n    bind: 1"
    )
    text = re.sub(r" +record_type: canteen.food_sample\n", "", text)
    _doc, errors = fileformat.load(text)
    by_loc = {e["loc"]: e for e in errors}
    assert by_loc["title"]["line"] == 1 and "title" in by_loc["title"]["msg"]
    assert by_loc["clauses.0.bind"]["line"] == line_of(text, "bind: 1")
    missing = by_loc["clauses.0.rules.0.params.record_type"]
    assert missing["line"] == line_of(text, "params:") and "record_type" in missing["msg"]


def test_it_locates_errors_in_english_too():
    from django.utils import translation

    with translation.override("en"):
        _doc, errors = fileformat.load(DUPLICATE_CLAUSE)
    assert errors and errors[0]["line"] == line_of(DUPLICATE_CLAUSE, 'number: "1"', 2)


def test_it_dumps_a_canonical_form_that_loads_back_the_same():
    doc, _ = fileformat.load(GOOD)
    text = fileformat.dump(doc)
    again, errors = fileformat.load(text)
    assert errors == []
    assert fileformat.dump(again) == text
    assert "start: '13:00'" in text  # quoted for YAML 1.1 readers too
    assert "binding: false" in text  # defaults written out


def test_it_commits_the_schema_it_builds():
    committed = fileformat.SCHEMA_PATH.read_text(encoding="utf-8")
    assert json.loads(committed) == fileformat.build_schema()
    assert committed == fileformat.render_schema()


def test_it_validates_library_files_against_the_json_schema_too():
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(fileformat.build_schema())
    bad = {"code": "X", "title": "t", "domain": "canteen", "issuing_org": "city", "clauses": []}
    assert list(validator.iter_errors(bad))
    for path in fileformat.library_files():
        doc, _ = fileformat.load(path.read_text(encoding="utf-8"))
        assert list(validator.iter_errors(doc)) == [], path.name


# --- CLI -------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_it_validates_from_the_command_line_with_exit_codes(tmp_path, capsys):
    good = write(tmp_path, "good.standard.yaml", GOOD)
    call_command("standards", "validate", str(good))
    assert "1 file(s) valid" in capsys.readouterr().out

    bad = write(tmp_path, "bad.standard.yaml", DUPLICATE_CLAUSE)
    syntax = write(tmp_path, "syntax.standard.yaml", BROKEN_SYNTAX)
    with pytest.raises(CommandError) as exc:
        call_command("standards", "validate", str(good), str(bad), str(syntax))
    assert exc.value.returncode == 1
    out = capsys.readouterr().out
    dup_line = line_of(DUPLICATE_CLAUSE, 'number: "1"', 2)
    assert f"{bad}:{dup_line}: 条款号 1 重复" in out
    assert f"{syntax}:3: YAML 语法错误" in out


@pytest.mark.django_db
def test_it_imports_and_exports_from_the_command_line(world, tmp_path, capsys):
    good = write(tmp_path, "good.standard.yaml", GOOD)
    call_command("standards", "import", str(good), "--org", "county-a", "--as", "a_admin")
    std = Standard.objects.get(code="T-GOOD")
    assert std.issuing_org == world.county_a
    entry = AuditEntry.objects.filter(action="standards.import").latest("id")
    assert entry.source == "cli" and entry.actor_name == "a_admin"

    out = tmp_path / "out.yaml"
    call_command("standards", "export", "T-GOOD", "-o", str(out))
    capsys.readouterr()
    exported = out.read_text(encoding="utf-8")
    assert "issuing_org: county-a" in exported
    call_command("standards", "export", "T-GOOD", "--version", "1")
    assert capsys.readouterr().out == exported
    with pytest.raises(CommandError):
        call_command("standards", "export", "T-GOOD", "--version", "2")

    # default actor: the root org's administrator; a refused import exits 1 with lines
    bad = write(tmp_path, "bad.standard.yaml", DUPLICATE_CLAUSE.replace("T-GOOD", "T-BAD"))
    with pytest.raises(CommandError) as exc:
        call_command("standards", "import", str(bad), "--org", "city")
    assert exc.value.returncode == 1
    assert "条款号 1 重复" in capsys.readouterr().err
    assert not Standard.objects.filter(code="T-BAD").exists()


# --- import / export -------------------------------------------------------------------


@pytest.mark.django_db
def test_it_round_trips_export_import_export_byte_identical(world):
    admin = world.user("admin")
    ver = import_standard(actor=admin, text=GOOD, filename="good.standard.yaml")
    assert ver.status == "draft" and ver.number == 1
    first = export_standard(actor_or_user=admin, code="T-GOOD")

    again = import_standard(actor=admin, text=first, filename="exported.yaml")
    assert again.pk == ver.pk  # the draft's content was replaced, not duplicated
    second = export_standard(actor_or_user=admin, code="T-GOOD")
    assert second == first

    # and the database holds what the file says, in the file's order
    doc, _ = fileformat.load(GOOD)
    clauses = list(Clause.objects.filter(version=ver).order_by("position"))
    assert [c.number for c in clauses] == ["1", "2"]
    assert [(c.severity, c.binding) for c in clauses] == [("key", True), ("general", False)]
    rules = list(Rule.objects.filter(version=ver).order_by("pk"))
    assert [(r.key, r.kind, r.target) for r in rules] == [
        ("sample", "record", "record:canteen.food_sample"),
        ("hall", "booking", "booking:large_hall"),
        ("daily", "checklist", "checklist:canteen.daily"),
    ]
    assert rules[0].params == doc["clauses"][0]["rules"][0]["params"]
    assert (rules[0].source_document, rules[0].source_edition, rules[0].verified) == (
        "操作规范",
        "2018",
        False,
    )
    assert rules[1].verified is True


@pytest.mark.django_db
def test_it_reproduces_a_published_version_in_a_fresh_import(world):
    services = pytest.importorskip("dayuan.standards.services")
    if not hasattr(services, "publish"):
        pytest.skip("services.publish not available yet")
    admin = world.user("admin")
    ver = import_standard(actor=admin, text=GOOD, publish=True)
    assert ver.status == "published" and ver.change_note == "测试"
    published = export_standard(actor_or_user=admin, code="T-GOOD")

    # a fresh database: the standard gone, the exported text imported again
    Standard.objects.filter(code="T-GOOD").delete()
    import_standard(actor=admin, text=published, publish=True)
    assert export_standard(actor_or_user=admin, code="T-GOOD") == published

    # a second import makes draft v2; the export still shows the published v1
    v2 = import_standard(actor=admin, text=published.replace("留样合格", "留样合格并记录"))
    assert (v2.number, v2.status) == (2, "draft")
    assert export_standard(actor_or_user=admin, code="T-GOOD") == published
    assert "留样合格并记录" in export_standard(actor_or_user=admin, code="T-GOOD", version_number=2)


@pytest.mark.django_db
def test_it_refuses_an_invalid_file_and_writes_nothing(world):
    before = (Standard.objects.count(), StandardVersion.objects.count(), Clause.objects.count())
    with pytest.raises(InvalidInput) as exc:
        import_standard(actor=world.user("admin"), text=DUPLICATE_CLAUSE, filename="d.yaml")
    assert exc.value.code == "invalid_standard_file"
    errors = exc.value.details["errors"]
    assert errors[0]["line"] == line_of(DUPLICATE_CLAUSE, 'number: "1"', 2)
    assert set(errors[0]) == {"line", "loc", "msg"}
    after = (Standard.objects.count(), StandardVersion.objects.count(), Clause.objects.count())
    assert after == before
    refused = AuditEntry.objects.filter(action="standards.import").latest("id")
    assert refused.outcome == "refused"


@pytest.mark.django_db
def test_it_requires_manage_permission_at_the_issuing_org(world):
    with pytest.raises(PermissionDenied):
        import_standard(actor=world.user("a_staff"), text=GOOD, org_code="county-a")
    # county B cannot import into county A: the org is outside its scope
    with pytest.raises(InvalidInput) as exc:
        import_standard(actor=world.user("b_manager"), text=GOOD, org_code="county-a")
    assert exc.value.code == "unknown_org"
    assert not Standard.objects.filter(code="T-GOOD").exists()
    ver = import_standard(actor=world.user("a_manager"), text=GOOD, org_code="county-a")
    assert ver.standard.issuing_org == world.county_a


# --- API -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_validates_through_the_api(world, api):
    client = api(world.user("a_staff"))
    resp = client.post(
        "/api/v1/standards/files/validate", {"text": GOOD, "filename": "good.standard.yaml"}
    )
    assert resp.status_code == 200
    assert resp.json() == {"valid": True, "errors": [], "code": "T-GOOD", "clauses": 2, "rules": 3}

    for text, line in (
        (UNKNOWN_KIND, line_of(UNKNOWN_KIND, "kind: bookings")),
        (BAD_CEL, line_of(BAD_CEL, ">>>")),
        (BAD_TYPE, line_of(BAD_TYPE, "lead_time_minutes")),
        (DUPLICATE_CLAUSE, line_of(DUPLICATE_CLAUSE, 'number: "1"', 2)),
        (BROKEN_SYNTAX, 3),
    ):
        body = client.post("/api/v1/standards/files/validate", {"text": text}).json()
        assert body["valid"] is False
        assert [e["line"] for e in body["errors"]] == [line], body
    assert api().post("/api/v1/standards/files/validate", {"text": GOOD}).status_code == 401
    assert not Standard.objects.exists()  # validation writes nothing


@pytest.mark.django_db
def test_it_imports_and_exports_through_the_api(world, api):
    manager = api(world.user("a_manager"))
    resp = manager.post(
        "/api/v1/standards/files/import", {"text": GOOD, "filename": "g.yaml", "org": "county-a"}
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert (body["code"], body["number"], body["status"]) == ("T-GOOD", 1, "draft")
    assert (body["clauses"], body["rules"]) == (2, 3)

    resp = manager.get("/api/v1/standards/T-GOOD/export")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("text/yaml")
    assert resp.content.decode() == export_standard(actor_or_user=None, code="T-GOOD")

    resp = manager.post("/api/v1/standards/files/import", {"text": BAD_TYPE, "org": "county-a"})
    assert resp.status_code == 422
    assert resp.json()["code"] == "invalid_standard_file"
    assert resp.json()["details"]["errors"][0]["line"] == line_of(BAD_TYPE, "lead_time_minutes")


@pytest.mark.django_db
def test_it_keeps_county_b_out_of_county_a_standards(world, api):
    services = pytest.importorskip("dayuan.standards.services")
    import_standard(actor=world.user("a_manager"), text=GOOD, org_code="county-a")
    b_manager = api(world.user("b_manager"))
    # draft of county A: invisible to B, and so is the published version
    assert b_manager.get("/api/v1/standards/T-GOOD/export").status_code == 404
    assert api(world.user("a_staff")).get("/api/v1/standards/T-GOOD/export").status_code == 404
    if hasattr(services, "publish"):
        std = Standard.objects.get(code="T-GOOD")
        services.publish(actor=world.user("a_manager"), version_id=std.versions.get().pk)
        assert api(world.user("a_staff")).get("/api/v1/standards/T-GOOD/export").status_code == 200
        assert b_manager.get("/api/v1/standards/T-GOOD/export").status_code == 404
    # B cannot import over A's standard either (the org is not B's)
    resp = b_manager.post("/api/v1/standards/files/import", {"text": GOOD, "org": "county-a"})
    assert resp.status_code == 422 and resp.json()["code"] == "unknown_org"
    resp = b_manager.post("/api/v1/standards/files/import", {"text": GOOD, "org": "county-b"})
    assert resp.status_code == 409 and resp.json()["code"] == "standard_org_mismatch"
    assert Standard.objects.get(code="T-GOOD").issuing_org == world.county_a
