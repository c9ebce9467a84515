"""Payment linked to the score: a contract's formula (CEL) gives the payable amount.

The formula is a CEL expression over six variables, all doubles but ``passed``:

- ``score`` — the final score (0–100), ``passed`` — score ≥ pass line (bool),
- ``fee`` — the fee for the period (monthly fee × months, prorated by the days the
  contract covers), ``deduction_money`` and ``deduction_points`` — the deductions,
- ``pass_line`` — the scheme's pass line.

e.g. ``score >= 90.0 ? fee - deduction_money : (passed ? fee * score / 100.0 -
deduction_money : fee * 0.8 - deduction_money)``. CEL does not mix ints and doubles in
arithmetic (``fee * 0.8``, not ``fee * 1``), which ``check_formula`` catches by running
the formula on sample values through every branch a score can take. The result is
rounded half-up to cents and never below 0; ``payable`` also returns its working, the
steps shown to people: each variable with its value, the formula, the formula with the
values put in, the raw result and the amount.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dayuan.core.errors import InvalidInput
from dayuan.standards.engine import compile_cel

MAX_FORMULA = 2000
CENT = Decimal("0.01")
VARIABLES = ("score", "passed", "fee", "deduction_money", "deduction_points", "pass_line")
_LABELS = {
    "score": gettext_lazy("得分"),
    "passed": gettext_lazy("是否合格"),
    "fee": gettext_lazy("应付基数（元）"),
    "deduction_money": gettext_lazy("扣款（元）"),
    "deduction_points": gettext_lazy("扣分"),
    "pass_line": gettext_lazy("合格线"),
}
# Scores across the bands, passed or not, with and without deductions: a type error
# hidden in one branch of a conditional shows on one of these.
_SAMPLES = [
    {"score": s, "fee": 100000.0, "deduction_money": m, "deduction_points": p, "pass_line": 60.0}
    for s in (100.0, 95.0, 90.0, 85.0, 75.0, 60.0, 59.5, 30.0, 0.0)
    for m, p in ((0.0, 0.0), (2500.0, 7.0))
]
_NAME = re.compile(r"(?<![\w.])(" + "|".join(VARIABLES) + r")\b")
_STRING = re.compile(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*\"""")


def _invalid(message: str, **details: Any) -> InvalidInput:
    return InvalidInput(message, code="invalid_formula", field="payment_formula", **details)


def _program(source: str) -> Any:
    if not isinstance(source, str) or not source.strip():
        raise _invalid(_("请填写付款公式。"))
    if len(source) > MAX_FORMULA:
        raise _invalid(_("付款公式不能超过 %(n)s 个字符。") % {"n": MAX_FORMULA})
    try:
        program = compile_cel(source)
    except (ValueError, RuntimeError) as exc:
        raise _invalid(_("付款公式有语法错误：%(error)s") % {"error": str(exc)[:200]}) from exc
    unknown = sorted(set(program.variables()) - set(VARIABLES))
    if unknown:
        raise _invalid(
            _("付款公式使用了未知变量：%(names)s（可用：%(known)s）")
            % {"names": "、".join(unknown), "known": "、".join(VARIABLES)},
            unknown=unknown,
        )
    return program


def _run(program: Any, values: Mapping[str, Any]) -> float:
    try:
        result = program.execute(dict(values))
    except Exception as exc:  # CEL raises TypeError, RuntimeError, ZeroDivisionError …
        raise _invalid(
            _("付款公式无法计算：%(error)s") % {"error": str(exc)[:200]}, values=dict(values)
        ) from exc
    if isinstance(result, bool) or not isinstance(result, int | float):
        raise _invalid(_("付款公式的结果必须是金额（数字）。"), result=repr(result)[:60])
    if not math.isfinite(result):
        raise _invalid(_("付款公式的结果不是有限的数（是否除以零？）。"))
    return float(result)


def check_formula(source: str) -> None:
    """Refuse (``invalid_formula``) a formula that does not parse, names an unknown
    variable or does not give a finite number for every sample."""
    program = _program(source)
    for sample in _SAMPLES:
        _run(program, {**sample, "passed": sample["score"] >= sample["pass_line"]})


def _cel_value(name: str, value: Any) -> Any:
    if name == "passed":
        return bool(value)
    return float(value)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _substituted(source: str, values: Mapping[str, Any]) -> str:
    """The formula with each variable replaced by its value (string literals untouched)."""
    out, pos = [], 0
    for literal in _STRING.finditer(source):
        out.append(_NAME.sub(lambda m: _shown(values[m.group(1)]), source[pos : literal.start()]))
        out.append(literal.group(0))
        pos = literal.end()
    out.append(_NAME.sub(lambda m: _shown(values[m.group(1)]), source[pos:]))
    return "".join(out)


def payable(formula: str, variables: Mapping[str, Any]) -> tuple[Decimal, list[dict[str, Any]]]:
    """The amount the formula gives for these variables (cents, half-up, never below 0)
    and its working. Pure: the same formula and values give the same amount."""
    program = _program(formula)
    missing = [name for name in VARIABLES if name not in variables]
    if missing:
        raise _invalid(_("缺少变量：%(names)s") % {"names": "、".join(missing)})
    values = {name: _cel_value(name, variables[name]) for name in VARIABLES}
    raw = _run(program, values)
    amount = Decimal(repr(raw)).quantize(CENT, rounding=ROUND_HALF_UP)
    floored = amount < 0
    if floored:
        amount = Decimal("0.00")
    working: list[dict[str, Any]] = [
        {
            "step": "variable",
            "name": name,
            "label": str(_LABELS[name]),
            "value": _shown(values[name]),
        }
        for name in VARIABLES
    ]
    working.append({"step": "formula", "label": _("付款公式"), "value": formula})
    working.append(
        {"step": "substituted", "label": _("代入"), "value": _substituted(formula, values)}
    )
    working.append({"step": "raw", "label": _("计算结果"), "value": _shown(raw)})
    working.append(
        {
            "step": "result",
            "label": _("应付金额（元）"),
            "value": str(amount),
            "note": _("结果为负，按 0 计") if floored else _("四舍五入到分"),
        }
    )
    return amount, working
