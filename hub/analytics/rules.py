"""The segment rule language: a small boolean language over member facts, parsed by a
tokenizer and a recursive-descent parser (never eval), checked against the fact catalogue, and
compiled to a SQL condition whose every value is a bound parameter.

    rule    := or
    or      := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | "(" rule ")" | test
    test    := FACT OP value
             | FACT ["not"] "in" "(" value ("," value)* ")"
             | FACT "is" ["not"] "null"
             | ("category" | "store") "has" STRING
    OP      := "=" | "!=" | "<" | "<=" | ">" | ">="
    value   := NUMBER | STRING            (strings in "double" or 'single' quotes)

Example: `rfm_cell in ("at_risk", "dormant") and spend_365d >= 50000 and not store has "s3"`.
Keywords are case-insensitive; facts are listed in FACTS. A fact with no value (a member who
never bought has no days_since_purchase) makes every comparison on it false, `not` included;
`is null` finds it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

MAX_LEN = 2000
MAX_DEPTH = 32
MAX_TESTS = 64


class RuleError(ValueError):
    """A rule that cannot be used; the message says where and why (422)."""


@dataclass(frozen=True)
class Fact:
    kind: str  # "int" | "num" | "text" | "days" (days since a date column) | "set"
    sql: str  # the column, over the aliases segments.py joins
    join: str = ""  # which optional table it needs
    doc: str = ""


FACTS: dict[str, Fact] = {
    "spend_365d": Fact("int", "f.spend_365d_fen", doc="net spend in the last 365 days, fen"),
    "visits_365d": Fact("int", "f.visits_365d", doc="purchases in the last 365 days"),
    "spend_total": Fact("int", "f.spend_total_fen", doc="net spend ever, fen"),
    "visits_total": Fact("int", "f.visits_total", doc="purchases ever"),
    "days_since_purchase": Fact("days", "f.last_purchase", doc="days since the last purchase"),
    "days_since_first_purchase": Fact("days", "f.first_purchase", doc="days since the first"),
    "tier": Fact("text", "t.tier_code", "t", "tier code"),
    "channel": Fact("text", "m.channel", "m", doc="registration channel: lane, mini_program, api"),
    "home_store": Fact("text", "m.origin_store", "m", doc="the store the member registered at"),
    # the birthday is sealed (hub/members/vault.py); its month alone is kept in clear for this
    "birthday_month": Fact("int", "m.birth_month", "m", doc="1-12"),
    "heat": Fact("int", "COALESCE(h.heat, 0)", "h", "heat of the newest computed week"),
    "rfm_cell": Fact("text", "r.cell", "r", "RFM cell key (hub/analytics/rfm.py)"),
    "r": Fact("int", "r.r", "r", "RFM recency score 1-5"),
    "f": Fact("int", "r.f", "r", "RFM frequency score 1-5"),
    "m": Fact("int", "r.m", "r", "RFM monetary score 1-5"),
    "intimacy": Fact("int", "i.score", "i", "intimacy 0-100"),
    "predicted_value": Fact("int", "l.expected_value_fen", "l", "LTV over the horizon, fen"),
    "p_alive": Fact("num", "l.p_alive", "l", "BG/NBD probability the member is still active"),
    "category": Fact("set", "line.category", doc='`category has "X"`: bought X in 365 days'),
    "store": Fact("set", "s.store_id", doc='`store has "X"`: bought at store X in 365 days'),
}

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>-?\d+(?:\.\d+)?)
    | (?P<str>"[^"\n]*"|'[^'\n]*')
    | (?P<op><=|>=|!=|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "is", "null", "has"}


@dataclass(frozen=True)
class Token:
    kind: str  # num str op punct word kw end
    text: str
    at: int  # 1-based character position


def tokenize(source: str) -> list[Token]:
    if len(source) > MAX_LEN:
        raise RuleError(f"rule is {len(source)} characters, at most {MAX_LEN}")
    out: list[Token] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        m = _TOKEN.match(source, pos)
        if not m or m.end() == pos:
            start = pos + len(source[pos:]) - len(source[pos:].lstrip())
            raise RuleError(f"at {start + 1}: unexpected {source[start]!r}")
        group = m.lastgroup or ""
        kind, text = group, m.group(group)
        if kind == "word" and text.lower() in KEYWORDS:
            kind, text = "kw", text.lower()
        out.append(Token(kind, text, m.start(group) + 1))
        pos = m.end()
    out.append(Token("end", "", len(source) + 1))
    return out


# the syntax tree
@dataclass(frozen=True)
class Test:
    fact: str
    op: str  # = != < <= > >= in notin null notnull has
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    inner: Any


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    parts: tuple[Any, ...]


Node = Test | Not | BoolOp


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.t = tokens
        self.i = 0
        self.depth = 0
        self.tests = 0

    def peek(self) -> Token:
        return self.t[self.i]

    def take(self) -> Token:
        tok = self.t[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, text: str | None, what: str) -> Token:
        tok = self.take()
        if tok.kind != kind or (text is not None and tok.text != text):
            raise RuleError(f"at {tok.at}: expected {what}, found {_show(tok)}")
        return tok

    def rule(self) -> Node:
        node = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            raise RuleError(f"at {tok.at}: expected 'and', 'or' or the end, found {_show(tok)}")
        return node

    def or_(self) -> Node:
        parts = [self.and_()]
        while self.peek() == Token("kw", "or", self.peek().at):
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def and_(self) -> Node:
        parts = [self.unary()]
        while self.peek() == Token("kw", "and", self.peek().at):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RuleError(f"at {self.peek().at}: nested deeper than {MAX_DEPTH}")
        tok = self.peek()
        if tok.kind == "kw" and tok.text == "not":
            self.take()
            node: Node = Not(self.unary())
        elif tok.kind == "punct" and tok.text == "(":
            self.take()
            node = self.or_()
            self.expect("punct", ")", "')'")
        else:
            node = self.test()
        self.depth -= 1
        return node

    def test(self) -> Test:
        tok = self.take()
        if tok.kind != "word":
            raise RuleError(f"at {tok.at}: expected a fact, found {_show(tok)}")
        fact = FACTS.get(tok.text)
        if fact is None:
            raise RuleError(f"at {tok.at}: unknown fact {tok.text!r} (facts: {', '.join(FACTS)})")
        self.tests += 1
        if self.tests > MAX_TESTS:
            raise RuleError(f"at {tok.at}: more than {MAX_TESTS} tests in one rule")
        name = tok.text
        nxt = self.take()
        if fact.kind == "set":
            if nxt.kind != "kw" or nxt.text != "has":
                raise RuleError(f'at {nxt.at}: {name} takes `has "…"`, found {_show(nxt)}')
            return Test(name, "has", (self.value(name, "text"),))
        if nxt.kind == "op":
            if fact.kind == "text" and nxt.text not in ("=", "!="):
                raise RuleError(f"at {nxt.at}: {name} is text: only = and != compare it")
            return Test(name, nxt.text, (self.value(name, fact.kind),))
        if nxt.kind == "kw" and nxt.text in ("in", "not"):
            negated = nxt.text == "not"
            if negated:
                self.expect("kw", "in", "'in' after 'not'")
            self.expect("punct", "(", "'(' opening the list")
            values = [self.value(name, fact.kind)]
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                values.append(self.value(name, fact.kind))
            self.expect("punct", ")", "')' closing the list")
            return Test(name, "notin" if negated else "in", tuple(values))
        if nxt.kind == "kw" and nxt.text == "is":
            negated = self.peek().kind == "kw" and self.peek().text == "not"
            if negated:
                self.take()
            self.expect("kw", "null", "'null'")
            return Test(name, "notnull" if negated else "null", ())
        raise RuleError(f"at {nxt.at}: expected a comparison after {name}, found {_show(nxt)}")

    def value(self, fact: str, kind: str) -> Any:
        tok = self.take()
        if kind == "text":
            if tok.kind != "str":
                raise RuleError(f"at {tok.at}: {fact} takes a quoted text, found {_show(tok)}")
            return tok.text[1:-1]
        if tok.kind != "num":
            raise RuleError(f"at {tok.at}: {fact} takes a number, found {_show(tok)}")
        if kind == "num":
            return float(tok.text)
        if "." in tok.text:
            raise RuleError(f"at {tok.at}: {fact} takes a whole number, found {tok.text}")
        v = int(tok.text)
        if abs(v) > 10**15:
            raise RuleError(f"at {tok.at}: {v} is out of range")
        return v


def _show(tok: Token) -> str:
    return "the end of the rule" if tok.kind == "end" else repr(tok.text)


def parse(source: str) -> Node:
    if not source.strip():
        raise RuleError("the rule is empty")
    return _Parser(tokenize(source)).rule()


@dataclass
class Compiled:
    where: str
    params: dict[str, Any]
    joins: set[str]


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


def _has(fact: str, value: str, correlated: bool) -> str:
    """`store has` / `category has`: bought there / that within 365 days. Correlated (for a
    few members: their sales through the member_id index) or as one semi-join (everybody)."""
    lines = " JOIN sale_lines line ON line.sale_id = s.id" if fact == "category" else ""
    col = "s.store_id" if fact == "store" else "line.category"
    bought = (
        f"SELECT s.member_id FROM sales s{lines} WHERE {col} = {value}"
        " AND s.business_day > :since AND s.refunded_fen < s.total_fen"
    )
    if correlated:
        return (
            f"EXISTS ({bought} AND s.member_id IN (SELECT x.id FROM members x"
            " WHERE x.id = f.member_id OR x.merged_into = f.member_id))"
        )
    return (
        f"f.member_id IN (SELECT COALESCE(mm.merged_into, b.member_id) FROM ({bought}) b"
        " LEFT JOIN (SELECT id, merged_into FROM members WHERE merged_into IS NOT NULL) mm"
        " ON mm.id = b.member_id)"
    )


def compile_sql(node: Node, as_of: date, dialect: str, correlated: bool = True) -> Compiled:
    """The SQL condition of a parsed rule, over the aliases segments.py provides; values
    only as bound parameters (p0, p1, …; `since` = as_of - 365 days). `correlated`: for a
    few members (ingest) rather than everybody (the daily job)."""
    params: dict[str, Any] = {"since": as_of - timedelta(days=365)}
    joins: set[str] = set()

    def bind(v: Any) -> str:
        name = f"p{len(params) - 1}"
        params[name] = v
        return f":{name}"

    def walk(n: Node) -> str:
        if isinstance(n, BoolOp):
            return "(" + f" {n.op.upper()} ".join(walk(p) for p in n.parts) + ")"
        if isinstance(n, Not):
            return f"(NOT {walk(n.inner)})"
        fact = FACTS[n.fact]
        if fact.join:
            joins.add(fact.join)
        col = fact.sql
        if n.op == "null":
            return f"({col} IS NULL)"
        if n.op == "notnull":
            return f"({col} IS NOT NULL)"
        if n.op == "has":
            return _has(n.fact, bind(n.values[0]), correlated)
        if fact.kind == "days":
            # days since D op N  ⇔  D (flipped op) as_of - N
            if n.op in ("in", "notin"):
                days = ", ".join(bind(as_of - timedelta(days=v)) for v in n.values)
                return f"({col} {'NOT IN' if n.op == 'notin' else 'IN'} ({days}))"
            return f"({col} {_FLIP[n.op]} {bind(as_of - timedelta(days=n.values[0]))})"
        if n.op in ("in", "notin"):
            vals = ", ".join(bind(v) for v in n.values)
            return f"({col} {'NOT IN' if n.op == 'notin' else 'IN'} ({vals}))"
        return f"({col} {'<>' if n.op == '!=' else n.op} {bind(n.values[0])})"

    where = walk(node)
    return Compiled(where, params, joins)
