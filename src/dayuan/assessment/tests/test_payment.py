"""Payment formulas: checked before use, evaluated with their working, cents, floor 0."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dayuan.core.errors import InvalidInput

from ..payment import check_formula, payable
from .factories import FORMULA


def _vars(score, *, fee=100000, money=0, points=0, pass_line=60):
    return {
        "score": Decimal(str(score)),
        "passed": score >= pass_line,
        "fee": Decimal(str(fee)),
        "deduction_money": Decimal(str(money)),
        "deduction_points": Decimal(str(points)),
        "pass_line": Decimal(str(pass_line)),
    }


@pytest.mark.parametrize(
    "score, money, expected",
    [
        (95, 0, "100000.00"),  # full fee above 90
        (90, 2500, "97500.00"),  # the line itself counts as above
        (85.5, 2500, "83000.00"),  # passed: proportion of the fee (85500 − 2500)
        (60, 0, "60000.00"),
        (59.99, 1000, "79000.00"),  # failed: 80 % of the fee
    ],
)
def test_the_sample_formula(score, money, expected):
    amount, working = payable(FORMULA, _vars(score, money=money))
    assert amount == Decimal(expected)
    steps = {s["step"] for s in working}
    assert {"variable", "formula", "substituted", "raw", "result"} <= steps
    assert working[-1]["value"] == expected


def test_working_shows_every_variable_the_formula_and_the_values_put_in():
    amount, working = payable(FORMULA, _vars(85.5, money=2500, points=7))
    variables = {s["name"]: s["value"] for s in working if s["step"] == "variable"}
    assert variables == {
        "score": "85.5",
        "passed": "true",
        "fee": "100000",
        "deduction_money": "2500",
        "deduction_points": "7",
        "pass_line": "60",
    }
    assert all(s["label"] for s in working)
    formula = next(s for s in working if s["step"] == "formula")
    assert formula["value"] == FORMULA
    substituted = next(s for s in working if s["step"] == "substituted")["value"]
    assert substituted.startswith("85.5 >= 90.0 ? 100000 - 2500 : (true ? 100000 * 85.5 / 100.0")
    assert amount == Decimal("83000.00")


def test_rounded_half_up_to_cents():
    # 100 × 0.00012345 + 0.005 = 0.017345 → 0.02
    assert payable("fee * 0.00012345 + 0.005", _vars(70, fee=100))[0] == Decimal("0.02")
    assert payable("fee / 3.0", _vars(70, fee=100))[0] == Decimal("33.33")
    assert payable("fee * 2.0 / 3.0", _vars(70, fee=100))[0] == Decimal("66.67")
    assert payable("0.125", _vars(70))[0] == Decimal("0.13")  # exact half → up


def test_never_below_zero():
    amount, working = payable("fee * 0.1 - deduction_money", _vars(40, fee=1000, money=5000))
    assert amount == Decimal("0.00")
    assert working[-1]["note"]
    raw = next(s for s in working if s["step"] == "raw")
    assert raw["value"] == "-4900"


def test_integer_results_are_amounts():
    assert payable("1000", _vars(70))[0] == Decimal("1000.00")


@pytest.mark.parametrize(
    "source",
    [
        "",  # empty
        "score +",  # syntax
        "foo * 2.0",  # unknown variable
        "score > 60.0",  # a bool, not an amount
        "'100'",  # a string
        "fee * 2",  # CEL does not mix double and int
        "passed ? fee : fee - 1",  # … even in one branch only
        "score >= 60.0 ? fee : 1 / 0",  # division by zero in the failing branch
        "fee / (score - score)",  # infinite
        "max(fee, 1.0)",  # no such function
        "x" * 2001,  # too long
    ],
)
def test_bad_formulas_are_refused_with_a_code(source):
    with pytest.raises(InvalidInput) as exc:
        check_formula(source)
    assert exc.value.code == "invalid_formula"
    assert exc.value.details["field"] == "payment_formula"


def test_good_formulas_pass_the_check():
    check_formula(FORMULA)
    check_formula("fee - deduction_money")
    check_formula("deduction_points > 10.0 ? fee * 0.5 : fee * score / 100.0")
    check_formula("score >= pass_line ? fee : 0.0")


def test_payable_refuses_a_bad_formula_too():
    with pytest.raises(InvalidInput) as exc:
        payable("fee * 2", _vars(70))
    assert exc.value.code == "invalid_formula"
