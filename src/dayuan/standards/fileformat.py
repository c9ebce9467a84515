"""The ``*.standard.yaml`` file format: one standard per file, loaded with located errors.

``load(text, filename)`` returns ``(document, errors)``; every error is
``{"line", "loc", "msg"}`` with the 1-based line of the offending YAML node, so an
operator can fix a file from the message alone. Structure is checked with the JSON
Schema of ``build_schema()`` (committed as ``schema/standard.schema.json`` for editors),
rule parameters with the kinds' Pydantic models in ``rules.py`` (the same models the
services use), then the cross-references a schema cannot express (duplicate clause
numbers and rule keys, checklist items citing unknown clauses, undefined CEL vars).

``dump(document)`` writes the canonical form: fixed key order, dict-valued parameters
sorted (PostgreSQL's jsonb does not keep key order), empty optional fields left out.
Export writes this form, so export → import → export is byte-identical.

Scalars follow YAML 1.2's core schema (``13:00`` is text, not the sexagesimal 780 of
YAML 1.1; dates stay text; only ``true``/``false`` are booleans), and the dumper
quotes anything a YAML 1.1 reader would take for something else.
"""

from __future__ import annotations

import json
import re
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .choices import Domain, Severity
from .rules import KINDS

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "standard.schema.json"
LIBRARY_DIR = Path(__file__).resolve().parent / "library"
SCHEMA_ID = "https://dayuan.gov.cn/schema/standard.schema.json"

Error = dict[str, Any]  # {"line": int, "loc": str, "msg": str}

# --- YAML: core-schema loader, careful dumper ---------------------------------------


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.2 core scalars; no sexagesimal numbers, no timestamps, no merge keys.

    libyaml's parser when PyYAML has it (ten times faster); nodes keep their marks.
    """


Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first))


def _construct_int(loader: Loader, node: ScalarNode) -> int:
    value = str(loader.construct_scalar(node))
    if value.startswith("0x"):
        return int(value[2:], 16)
    if value.startswith("0o"):
        return int(value[2:], 8)
    return int(value, 10)


Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


class Dumper(yaml.SafeDumper):
    """Safe dumper that also quotes clock times (``"08:00"``), whatever the reader."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as people write them.
        super().increase_indent(flow, False)


Dumper.add_implicit_resolver(
    "tag:dayuan,2026:clock", re.compile(r"^[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?$"), list("0123456789")
)


def _represent_str(dumper: Dumper, data: str) -> ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _represent_list(dumper: Dumper, data: list[Any]) -> SequenceNode:
    # Short lists of plain values read best inline: months: [6, 7, 8].
    flow = bool(data) and all(
        isinstance(v, int | float | bool) or (isinstance(v, str) and len(v) <= 30 and "\n" not in v)
        for v in data
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _is_plain(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, int | float | bool)
        or (isinstance(value, str) and "\n" not in value)
    )


def _represent_dict(dumper: Dumper, data: dict[str, Any]) -> MappingNode:
    # Small mappings of plain values inline: frequency: {every: 1, unit: quarter}.
    flow = (
        0 < len(data) <= 4
        and all(_is_plain(v) for v in data.values())
        and sum(len(str(k)) + len(str(v)) + 4 for k, v in data.items()) <= 60
    )
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


Dumper.add_representer(str, _represent_str)
Dumper.add_representer(list, _represent_list)
Dumper.add_representer(dict, _represent_dict)


# --- JSON Schema ---------------------------------------------------------------------

# The same patterns as the services, so whatever the UI authors can be exported and re-imported.
RULE_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,59}$"
STANDARD_CODE = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$"
TOP_ORDER = ["code", "title", "domain", "issuing_org", "description", "version", "clauses"]


def build_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a standard file; params from the Pydantic models."""
    from pydantic.json_schema import models_json_schema

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a model method shadowing a field name
        refs, generated = models_json_schema(
            [(model, "validation") for model in KINDS.values()], ref_template="#/$defs/{model}"
        )
    defs: dict[str, Any] = dict(sorted(generated["$defs"].items()))
    # ScheduleParams.target is a required field even where a method shadows it.
    schedule = defs.get("ScheduleParams", {})
    if "target" in schedule.get("properties", {}):
        schedule["properties"]["target"].pop("default", None)
        schedule["required"] = sorted({*schedule.get("required", []), "target"})
    text = {"type": "string"}
    defs["source"] = {
        "type": "object",
        "description": "数值出处：文件、版本/文号、条款；verified=false 表示待与正式文本核对。",
        "additionalProperties": False,
        "properties": {
            "document": {**text, "maxLength": 200},
            "edition": {**text, "maxLength": 100},
            "clause": {**text, "maxLength": 60},
            "verified": {"type": "boolean", "default": True},
        },
    }
    defs["rule"] = {
        "type": "object",
        "description": "条款的机器规则：类型 kind 与其参数 params（参数模型见 $defs 中同名对象）。",
        "additionalProperties": False,
        "required": ["key", "kind", "params"],
        "properties": {
            "key": {**text, "pattern": RULE_KEY},
            "kind": {"enum": list(KINDS)},
            "params": {"type": "object"},
            "source": {"$ref": "#/$defs/source"},
        },
        "oneOf": [
            {"properties": {"kind": {"const": kind}, "params": refs[(model, "validation")]}}
            for kind, model in KINDS.items()
        ],
    }
    defs["clause"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["number", "text", "severity"],
        "properties": {
            "number": {**text, "minLength": 1, "maxLength": 20},
            "text": {**text, "minLength": 1},
            "severity": {"enum": list(Severity.values)},
            "binding": {"type": "boolean", "default": False},
            "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
        },
    }
    defs["version"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "number": {"type": "integer", "minimum": 1},
            "change_note": text,
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Dayuan 服务标准文件 (*.standard.yaml)",
        "type": "object",
        "additionalProperties": False,
        "required": ["code", "title", "domain", "issuing_org", "clauses"],
        "properties": {
            "code": {**text, "pattern": STANDARD_CODE},
            "title": {**text, "minLength": 1, "maxLength": 200},
            "domain": {"enum": list(Domain.values)},
            "issuing_org": {**text, "minLength": 1, "maxLength": 40},
            "description": text,
            "version": {"$ref": "#/$defs/version"},
            "clauses": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/clause"}},
        },
        "$defs": defs,
    }


def render_schema() -> str:
    return json.dumps(build_schema(), ensure_ascii=False, indent=2) + "\n"


@cache
def _schema() -> dict[str, Any]:
    return build_schema()


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(_schema())


# --- locating nodes ------------------------------------------------------------------


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _locate(root: Node | None, path: list[Any]) -> tuple[int, int, Node | None]:
    """(line, parts resolved, node) for a path of keys and indexes into the YAML tree.

    A mapping value is reported at its key's line (where ``check:`` is written, even
    when the value is a block below it); a path that runs past the tree (a missing
    field, a union tag in a Pydantic loc) stops at the deepest node that exists.
    """
    if root is None:
        return 1, 0, None
    node, line = root, _line(root)
    for n, part in enumerate(path):
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.value == str(part):
                    node, line = value, _line(key)
                    break
            else:
                return line, n, node
        elif isinstance(node, SequenceNode):
            try:
                index = int(part)
            except (TypeError, ValueError):
                return line, n, node
            if not 0 <= index < len(node.value):
                return line, n, node
            node = node.value[index]
            line = _line(node)
        else:
            return line, n, node
    return line, len(path), node


def _loc(path: list[Any]) -> str:
    return ".".join(str(p) for p in path)


def _structure_errors(root: Node) -> list[Error]:
    """Duplicate mapping keys (YAML would silently keep the last) and aliases."""
    errors: list[Error] = []
    seen: set[int] = set()

    def walk(node: Node, path: list[Any]) -> None:
        if id(node) in seen:
            errors.append(
                {"line": _line(node), "loc": _loc(path), "msg": _("不支持 YAML 锚点和别名。")}
            )
            return
        seen.add(id(node))
        if isinstance(node, MappingNode):
            keys: dict[str, int] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, ScalarNode) else "?"
                if name in keys:
                    errors.append(
                        {
                            "line": _line(key),
                            "loc": _loc([*path, name]),
                            "msg": _("字段 %(key)s 重复（第 %(line)s 行已有）。")
                            % {"key": name, "line": keys[name]},
                        }
                    )
                else:
                    keys[name] = _line(key)
                walk(value, [*path, name])
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, [*path, i])

    walk(root, [])
    return errors


# --- messages ------------------------------------------------------------------------

TYPE_NAMES = {
    "object": gettext_noop("映射（键: 值）"),
    "array": gettext_noop("列表"),
    "string": gettext_noop("文本"),
    "integer": gettext_noop("整数"),
    "number": gettext_noop("数字"),
    "boolean": gettext_noop("true 或 false"),
    "null": gettext_noop("空值"),
}


def _type_name(name: Any) -> str:
    names = name if isinstance(name, list) else [name]
    return "、".join(_(TYPE_NAMES.get(n, str(n))) for n in names)


def _schema_error(err: Any, root: Node) -> list[Error]:
    """One located, translated message per JSON Schema error."""
    path = list(err.absolute_path)
    kind = err.validator
    if kind == "required":
        present = err.instance if isinstance(err.instance, dict) else {}
        line, _n, _node = _locate(root, path)
        return [
            {
                "line": line,
                "loc": _loc([*path, name]),
                "msg": _("缺少必填字段 %(field)s。") % {"field": name},
            }
            for name in err.validator_value
            if name not in present
        ]
    if kind == "additionalProperties":
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        out = []
        for name in extra:
            line, _n, _node = _locate(root, [*path, name])
            out.append(
                {
                    "line": line,
                    "loc": _loc([*path, name]),
                    "msg": _("不允许的字段 %(field)s（可用：%(allowed)s）。")
                    % {"field": name, "allowed": "、".join(sorted(allowed))},
                }
            )
        return out
    line, _n, _node = _locate(root, path)
    value = err.instance
    if kind == "type":
        msg = _("应为%(type)s，实为 %(value)r。") % {
            "type": _type_name(err.validator_value),
            "value": value,
        }
    elif kind == "enum":
        msg = _("取值 %(value)s 无效（可选：%(options)s）。") % {
            "value": value,
            "options": "、".join(str(o) for o in err.validator_value),
        }
    elif kind == "pattern":
        msg = _("格式不正确：%(value)s（须匹配 %(pattern)s）。") % {
            "value": value,
            "pattern": err.validator_value,
        }
    elif kind == "minLength":
        msg = _("不能为空。")
    elif kind == "maxLength":
        msg = _("过长（最多 %(n)s 个字符）。") % {"n": err.validator_value}
    elif kind == "minItems":
        msg = _("至少需要 %(n)s 项。") % {"n": err.validator_value}
    elif kind == "minimum":
        msg = _("应不小于 %(n)s。") % {"n": err.validator_value}
    elif kind == "maximum":
        msg = _("应不大于 %(n)s。") % {"n": err.validator_value}
    else:
        msg = err.message
    return [{"line": line, "loc": _loc(path), "msg": msg}]


PYDANTIC_MESSAGES = {
    "int_type": gettext_noop("应为整数。"),
    "int_parsing": gettext_noop("应为整数。"),
    "int_from_float": gettext_noop("应为整数。"),
    "float_type": gettext_noop("应为数字。"),
    "float_parsing": gettext_noop("应为数字。"),
    "string_type": gettext_noop("应为文本。"),
    "bool_type": gettext_noop("应为 true 或 false。"),
    "bool_parsing": gettext_noop("应为 true 或 false。"),
    "list_type": gettext_noop("应为列表。"),
    "dict_type": gettext_noop("应为映射（键: 值）。"),
    "model_type": gettext_noop("应为映射（键: 值）。"),
    "model_attributes_type": gettext_noop("应为映射（键: 值）。"),
    "time_type": gettext_noop("应为时刻，如 '08:00'。"),
    "time_parsing": gettext_noop("应为时刻，如 '08:00'。"),
    "literal_error": gettext_noop("取值无效（可选：%(expected)s）。"),
    "greater_than_equal": gettext_noop("应不小于 %(ge)s。"),
    "greater_than": gettext_noop("应大于 %(gt)s。"),
    "less_than_equal": gettext_noop("应不大于 %(le)s。"),
    "less_than": gettext_noop("应小于 %(lt)s。"),
    "string_pattern_mismatch": gettext_noop("格式不正确（须匹配 %(pattern)s）。"),
    "string_too_short": gettext_noop("不能为空。"),
    "string_too_long": gettext_noop("过长（最多 %(max_length)s 个字符）。"),
    "too_short": gettext_noop("至少需要 %(min_length)s 项。"),
    "too_long": gettext_noop("最多 %(max_length)s 项。"),
}


def _pydantic_message(err: dict[str, Any]) -> str:
    field = str(err["loc"][-1]) if err.get("loc") else ""
    if err["type"] == "missing":
        return _("缺少必填字段 %(field)s。") % {"field": field}
    if err["type"] == "extra_forbidden":
        return _("不允许的字段 %(field)s。") % {"field": field}
    template = PYDANTIC_MESSAGES.get(err["type"])
    if template is None:
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    try:
        return _(template) % (err.get("ctx") or {})
    except (KeyError, TypeError, ValueError):
        return str(err["msg"])


_CEL_ERROR = re.compile(r"<input>:(\d+):(\d+): ([^\n]*)")


def _params_errors(kind: str, params: dict[str, Any], base: list[Any], root: Node) -> list[Error]:
    """Validate params with the kind's Pydantic model; locate each error in the file."""
    try:
        KINDS[kind].model_validate(params)
    except ValidationError as exc:
        out: list[Error] = []
        seen_partial: set[str] = set()
        for err in exc.errors():
            loc = [p for p in err["loc"] if p != ""]
            line, resolved, node = _locate(root, [*base, *loc])
            where = _loc([*base, *loc[: max(resolved - len(base), 0)]])
            if resolved < len(base) + len(loc) and err["type"] != "missing":
                # A union's tags (value.float, value.int): one message per node is enough.
                if where in seen_partial:
                    continue
                seen_partial.add(where)
                loc = loc[: max(resolved - len(base), 0)]
            msg = _pydantic_message(err)
            if err["type"] == "value_error" and "CEL" in msg:
                line, msg = _cel_line(line, node, msg)
            out.append({"line": line, "loc": _loc([*base, *loc]), "msg": msg})
        return out
    return []


def _cel_line(line: int, node: Node | None, msg: str) -> tuple[int, str]:
    """A CEL syntax error: its file line (inside a block scalar too) and a short message."""
    m = _CEL_ERROR.search(msg)
    if m is None:
        return line, msg.splitlines()[0][:300]
    row, col, problem = int(m.group(1)), int(m.group(2)), m.group(3)
    problem = problem.split(" expecting {", 1)[0].strip()
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        line = _line(node) + row
    return line, _("CEL 表达式无效（表达式第 %(row)s 行第 %(col)s 列）：%(problem)s") % {
        "row": row,
        "col": col,
        "problem": problem,
    }


_VARS_REF = re.compile(r"\bvars\.([A-Za-z_][A-Za-z0-9_]*)")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


# --- load ----------------------------------------------------------------------------


def load(text: str, filename: str = "") -> tuple[dict[str, Any] | None, list[Error]]:
    """Parse and validate a standard file: ``(document, errors)``, errors sorted by line.

    The document is returned even when invalid (None only when the YAML itself cannot
    be read), so callers can show what was understood.
    """
    loader = Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        return None, [
            {
                "line": mark.line + 1 if mark else 1,
                "loc": "",
                "msg": _("YAML 语法错误：%(problem)s。") % {"problem": problem},
            }
        ]
    except yaml.YAMLError as exc:
        return None, [{"line": 1, "loc": "", "msg": _("YAML 无法读取：%(e)s") % {"e": exc}}]
    finally:
        loader.dispose()
    if root is None or not isinstance(data, dict):
        return None, [
            {"line": 1, "loc": "", "msg": _("文件须为一个映射（键: 值），描述一项标准。")}
        ]

    errors = _structure_errors(root)
    for err in _validator().iter_errors(data):
        path = list(err.absolute_path)
        # The rule-level oneOf only repeats what the params model reports, less clearly.
        if err.validator == "oneOf" and len(path) == 4 and path[0] == "clauses":
            continue
        errors.extend(_schema_error(err, root))
    errors.extend(_semantic_errors(data, root))

    unique: dict[tuple[int, str, str], Error] = {}
    for e in errors:
        unique.setdefault((e["line"], e["loc"], e["msg"]), e)
    return data, sorted(unique.values(), key=lambda e: (e["line"], e["loc"]))


def _semantic_errors(data: dict[str, Any], root: Node) -> list[Error]:
    """Params by kind, and the cross-references the schema cannot express."""
    errors: list[Error] = []
    clauses = data.get("clauses")
    if not isinstance(clauses, list):
        return errors
    numbers: dict[str, int] = {}
    keys: dict[str, int] = {}
    items_to_check: list[tuple[str, list[Any]]] = []
    for ci, clause in enumerate(clauses):
        if not isinstance(clause, dict):
            continue
        number = clause.get("number")
        if isinstance(number, str):
            line, _n, _node = _locate(root, ["clauses", ci, "number"])
            if number in numbers:
                errors.append(
                    {
                        "line": line,
                        "loc": f"clauses.{ci}.number",
                        "msg": _("条款号 %(number)s 重复（第 %(line)s 行已有）。")
                        % {"number": number, "line": numbers[number]},
                    }
                )
            else:
                numbers[number] = line
        rules = clause.get("rules")
        if not isinstance(rules, list):
            continue
        for ri, rule in enumerate(rules):
            if not isinstance(rule, dict):
                continue
            base = ["clauses", ci, "rules", ri]
            key = rule.get("key")
            if isinstance(key, str):
                line, _n, _node = _locate(root, [*base, "key"])
                if key in keys:
                    errors.append(
                        {
                            "line": line,
                            "loc": _loc([*base, "key"]),
                            "msg": _("规则标识 %(key)s 重复（第 %(line)s 行已有）。")
                            % {"key": key, "line": keys[key]},
                        }
                    )
                else:
                    keys[key] = line
            kind, params = rule.get("kind"), rule.get("params")
            if kind not in KINDS or not isinstance(params, dict):
                continue  # reported by the schema
            found = _params_errors(kind, params, [*base, "params"], root)
            errors.extend(found)
            if kind == "schedule" and "target" not in params and not found:
                line, _n, _node = _locate(root, [*base, "params"])
                errors.append(
                    {
                        "line": line,
                        "loc": _loc([*base, "params", "target"]),
                        "msg": _("缺少必填字段 %(field)s。") % {"field": "target"},
                    }
                )
            if found:
                continue
            if kind == "record":
                errors.extend(_vars_errors(params, [*base, "params"], root))
            if kind == "checklist":
                for ii, item in enumerate(params.get("items") or []):
                    if isinstance(item, dict) and item.get("clause") is not None:
                        items_to_check.append(
                            (str(item["clause"]), [*base, "params", "items", ii, "clause"])
                        )
    for ref, path in items_to_check:
        if ref not in numbers:
            line, _n, _node = _locate(root, path)
            errors.append(
                {
                    "line": line,
                    "loc": _loc(path),
                    "msg": _("检查项引用的条款 %(number)s 不在本标准中。") % {"number": ref},
                }
            )
    return errors


def _vars_errors(params: dict[str, Any], base: list[Any], root: Node) -> list[Error]:
    """``vars.x`` in a CEL expression and ``{x}`` in the message must be declared vars."""
    declared = set(params.get("vars") or {})
    out = []
    for field in ("when", "check"):
        src = params.get(field)
        if not isinstance(src, str):
            continue
        for name in sorted(set(_VARS_REF.findall(src)) - declared):
            line, _n, _node = _locate(root, [*base, field])
            out.append(
                {
                    "line": line,
                    "loc": _loc([*base, field]),
                    "msg": _("表达式使用了未定义的变量 vars.%(name)s（请在 vars 中声明）。")
                    % {"name": name},
                }
            )
    message = params.get("message")
    if isinstance(message, str):
        for name in sorted(set(_PLACEHOLDER.findall(message)) - declared):
            line, _n, _node = _locate(root, [*base, "message"])
            out.append(
                {
                    "line": line,
                    "loc": _loc([*base, "message"]),
                    "msg": _("提示语中的 {%(name)s} 不是已声明的变量。") % {"name": name},
                }
            )
    return out


# --- dump ----------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], value: Any) -> dict[str, Any]:
    """Follow ``$ref`` and pick the ``anyOf`` branch that fits the value's shape."""
    defs = _schema()["$defs"]
    for _depth in range(10):
        if "$ref" in schema:
            schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
            continue
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches and "properties" not in schema:
            want = (
                "object"
                if isinstance(value, dict)
                else "array"
                if isinstance(value, list)
                else None
            )
            pick = next((b for b in branches if _branch_type(b) == want), None)
            if pick is None:
                return {}
            schema = pick
            continue
        return schema
    return schema


def _branch_type(branch: dict[str, Any]) -> str | None:
    if "$ref" in branch:
        return "object"
    return branch.get("type")


def _canonical(value: Any, schema: dict[str, Any]) -> Any:
    """Order keys as the schema lists them; free-form maps alphabetically."""
    schema = _resolve(schema, value)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        ordered = [k for k in props if k in value] + sorted(k for k in value if k not in props)
        out = {}
        for k in ordered:
            sub = props.get(k) if k in props else (extra if isinstance(extra, dict) else {})
            out[k] = _canonical(value[k], sub or {})
        return out
    if isinstance(value, list):
        items = schema.get("items", {})
        return [_canonical(v, items if isinstance(items, dict) else {}) for v in value]
    return value


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    """The document in the canonical shape ``dump`` writes (a new dict)."""
    doc: dict[str, Any] = {}
    for key in TOP_ORDER:
        value = document.get(key)
        if key == "description" and not value:
            continue
        if key == "version":
            version = {
                k: value[k]
                for k in ("number", "change_note")
                if isinstance(value, dict) and value.get(k) not in (None, "")
            }
            if version:
                doc["version"] = version
            continue
        if key == "clauses":
            doc["clauses"] = [_clause(c) for c in value or []]
            continue
        if value is not None:
            doc[key] = _strip(value) if key == "title" else value
    for key in sorted(set(document) - set(TOP_ORDER)):
        doc[key] = document[key]
    return doc


def _strip(value: Any) -> Any:
    """Titles and clause texts are kept without surrounding blanks (as the services do)."""
    return value.strip() if isinstance(value, str) else value


def _clause(clause: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": clause.get("number"),
        "text": _strip(clause.get("text")),
        "severity": clause.get("severity"),
        "binding": bool(clause.get("binding", False)),
    }
    rules = [_rule(r) for r in clause.get("rules") or []]
    if rules:
        out["rules"] = rules
    return out


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    kind = rule.get("kind")
    model = KINDS.get(kind)  # type: ignore[arg-type]
    schema = {"$ref": f"#/$defs/{model.__name__}"} if model else {}
    out: dict[str, Any] = {
        "key": rule.get("key"),
        "kind": kind,
        "params": _canonical(rule.get("params") or {}, schema),
    }
    source = rule.get("source") or {}
    src = {k: source[k] for k in ("document", "edition", "clause") if source.get(k)}
    src["verified"] = bool(source.get("verified", True))
    out["source"] = src
    return out


def dump(document: dict[str, Any]) -> str:
    """The canonical YAML text of a standard document."""
    return yaml.dump(
        canonical(document),
        Dumper=Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        indent=2,
        width=120,
    )


def library_files() -> list[Path]:
    """The shipped seed standards, in name order."""
    return sorted(LIBRARY_DIR.glob("*.standard.yaml"))
