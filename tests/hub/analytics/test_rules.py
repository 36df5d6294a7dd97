"""The segment rule language: what it accepts, how it refuses (with the place), and that a
value can never become SQL."""

from __future__ import annotations

from datetime import date

import pytest

from hub.analytics import rules

AS_OF = date(2026, 6, 30)


def test_parses_precedence_and_lists() -> None:
    tree = rules.parse('heat < 30 and rfm_cell in ("at_risk", \'dormant\') or not tier = "gold"')
    assert isinstance(tree, rules.BoolOp) and tree.op == "or"
    left, right = tree.parts
    assert left == rules.BoolOp(
        "and",
        (rules.Test("heat", "<", (30,)), rules.Test("rfm_cell", "in", ("at_risk", "dormant"))),
    )
    assert right == rules.Not(rules.Test("tier", "=", ("gold",)))
    assert rules.parse("days_since_purchase IS NULL") == rules.Test(
        "days_since_purchase", "null", ()
    )
    assert rules.parse("(p_alive >= 0.5)") == rules.Test("p_alive", ">=", (0.5,))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "the rule is empty"),
        ("heat <", "at 7: heat takes a number, found the end of the rule"),
        ("hat > 3", "at 1: unknown fact 'hat'"),
        ("heat > '3'", "at 8: heat takes a number"),
        ("tier > 'gold'", "at 6: tier is text: only = and != compare it"),
        ("heat > 3 and", "at 13: expected a fact, found the end of the rule"),
        ("(heat > 3", "at 10: expected ')'"),
        ("heat > 3 heat", "at 10: expected 'and', 'or' or the end"),
        ("heat > 3.5", "at 8: heat takes a whole number"),
        ("heat > 3; drop table members", "at 9: unexpected ';'"),
        ("store = 's1'", "at 7: store takes `has"),
        ("rfm_cell in ('a',)", "at 18: rfm_cell takes a quoted text"),
        ("not " * 40 + "heat > 1", "nested deeper than 32"),
        (" or ".join(["heat > 1"] * 70), "more than 64 tests"),
        ("x" * 2001, "at most 2000"),
    ],
)
def test_refusals_say_where(source: str, message: str) -> None:
    with pytest.raises(rules.RuleError) as err:
        rules.parse(source)
    assert message in str(err.value)


def test_values_are_bound_never_spliced() -> None:
    c = rules.compile_sql(
        rules.parse("home_store = \"x' OR 1=1 --\" and store has 's1'"), AS_OF, "sqlite"
    )
    assert "1=1" not in c.where
    assert c.params["p0"] == "x' OR 1=1 --"
    assert c.params["p1"] == "s1"


def test_days_since_turns_into_a_date_bound() -> None:
    c = rules.compile_sql(rules.parse("days_since_purchase > 90"), AS_OF, "postgresql")
    # more than 90 days since the last purchase: it was before as_of - 90 days
    assert c.where == "(f.last_purchase < :p0)"
    assert c.params["p0"] == date(2026, 4, 1)
