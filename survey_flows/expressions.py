"""Safe evaluation of the XLSForm/ODK expressions in relevant, constraint, calculation and the like.

Form text is never handed to Python's eval: survey_flows.expression_parser builds a tree and this
module walks it, following ODK/JavaRosa (XPath 1.0) semantics where a form author would notice.
"""

from __future__ import annotations

import math
import operator
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from survey_flows.expression_parser import (
    Call,
    ChoiceColumn,
    Current,
    ExpressionError,
    Literal,
    Negate,
    Node,
    Operation,
    Reference,
    parse,
    walk,
)

__all__ = ["Expression", "ExpressionError", "Scope", "Value", "compile_expression"]

# list[str] is the picked names of a select_multiple; None is an unanswered question.
Value = str | int | float | bool | date | list[str] | None


@dataclass(frozen=True)
class Scope:
    """Everything an expression can see: answers, the answer being checked, today, a choice row."""

    values: Mapping[str, Value]
    current: Value = None
    today: date | None = None
    choice: Mapping[str, str] | None = None
    #: The respondent's profile answers, read by profile('group').
    profile: Mapping[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class Expression:
    """A compiled form expression, ready to evaluate any number of times."""

    source: str
    references: frozenset[str]
    uses_choice_columns: frozenset[str]
    tree: Node = field(repr=False)
    #: Profile fields read with profile('name'), so the loader can check they exist.
    profile_fields: frozenset[str] = frozenset()

    def evaluate(self, scope: Scope) -> Value:
        """The expression's value in scope; None if evaluation fails. Never raises."""
        try:
            return _evaluate(self.tree, scope)
        except Exception:  # last line of defence: a strange value must never crash a conversation
            return None

    def is_true(self, scope: Scope) -> bool:
        """The expression's value converted to a boolean the XPath way. Never raises."""
        return _boolean(self.evaluate(scope))


def compile_expression(source: str) -> Expression:
    """Parse form text into an Expression; raise ExpressionError if it cannot be used."""
    tree = parse(source)
    nodes = list(walk(tree))
    return Expression(
        source=source,
        references=frozenset(node.name for node in nodes if isinstance(node, Reference)),
        uses_choice_columns=frozenset(
            node.name for node in nodes if isinstance(node, ChoiceColumn)
        ),
        tree=tree,
        profile_fields=frozenset(
            str(node.args[0].value)  # type: ignore[union-attr]  # checked by the parser
            for node in nodes
            if isinstance(node, Call) and node.name == "profile"
        ),
    )


def _evaluate(node: Node, scope: Scope) -> Value:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Reference):
        return scope.values.get(node.name)
    if isinstance(node, Current):
        return scope.current
    if isinstance(node, ChoiceColumn):
        return None if scope.choice is None else scope.choice.get(node.name)
    if isinstance(node, Negate):
        operand = _evaluate(node.operand, scope)
        return -operand if _is_int(operand) else -_number(operand)
    if isinstance(node, Operation):
        return _operation(node, scope)
    return _call(node, scope)


def _operation(node: Operation, scope: Scope) -> Value:
    value = _evaluate(node.first, scope)
    for op, operand in node.rest:
        # `and` and `or` only look at the right-hand side when they need to, as in XPath.
        if op == "or":
            value = _boolean(value) or _boolean(_evaluate(operand, scope))
        elif op == "and":
            value = _boolean(value) and _boolean(_evaluate(operand, scope))
        elif op in _COMPARISONS:
            value = _compare(op, value, _evaluate(operand, scope))
        else:
            value = _arithmetic(op, value, _evaluate(operand, scope))
    return value


def _call(node: Call, scope: Scope) -> Value:
    args = node.args
    # if() and coalesce() evaluate lazily; today() and profile() read the scope, not the world.
    if node.name == "if":
        return _evaluate(args[1] if _boolean(_evaluate(args[0], scope)) else args[2], scope)
    if node.name == "coalesce":
        first = _evaluate(args[0], scope)
        return _evaluate(args[1], scope) if _string(first) == "" else first
    if node.name == "today":
        return scope.today
    if node.name == "profile":
        return scope.profile.get(str(_evaluate(args[0], scope)))
    return _FUNCTIONS[node.name]([_evaluate(arg, scope) for arg in args])


# ---- conversions (XPath 1.0 string(), number(), boolean()) ----------------------------------

_FLOAT_MAX = sys.float_info.max
_EPOCH = date(1970, 1, 1)
# XPath numbers: optional minus, digits with an optional fraction; no exponent, no "inf"/"nan".
_NUMBER_TEXT = re.compile(r"\s*(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*", re.ASCII)
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ]|$)", re.ASCII)


def _is_int(value: Value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and -_FLOAT_MAX <= value <= _FLOAT_MAX:
        return str(value)  # exact; str() would refuse the 4300+ digit ints past this range
    if isinstance(value, int | float):
        return _float_string(_number(value))
    if isinstance(value, date):
        return _plain_date(value).isoformat()
    return " ".join(value)


def _float_string(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer():
        return str(int(number))
    return format(Decimal(repr(number)), "f")  # XPath writes 0.0000001, never 1e-07


def _number(value: Value) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int):
        # float() raises past the float range; XPath numbers are doubles, so that is infinity.
        in_range = -_FLOAT_MAX <= value <= _FLOAT_MAX
        return float(value) if in_range else math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return value
    if isinstance(value, date):
        return float((_plain_date(value) - _EPOCH).days)  # JavaRosa: days since 1970-01-01
    match = _NUMBER_TEXT.fullmatch(_string(value))
    return float(match.group(1)) if match else math.nan


def _boolean(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value == value and value != 0  # NaN is the only value not equal to itself
    if isinstance(value, str | list):
        return len(value) > 0
    return True  # a date


def _plain_date(value: date) -> date:
    # A datetime is a date subclass that refuses to compare with a plain date, so drop the time.
    return value.date() if isinstance(value, datetime) else value


def _as_date(value: Value) -> date | None:
    if isinstance(value, date):
        return _plain_date(value)
    text = _string(value)
    if not _DATE_TEXT.match(text):
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:  # well-formed but impossible, like 2024-02-30
        return None


# ---- operators ------------------------------------------------------------------------------

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(op: str, left: Value, right: Value) -> bool:
    compare = _COMPARISONS[op]
    if op in ("=", "!=") and (isinstance(left, bool) or isinstance(right, bool)):
        return compare(_boolean(left), _boolean(right))  # XPath: `. = true()` compares truth
    if isinstance(left, int | float) or isinstance(right, int | float):
        return compare(_number(left), _number(right))  # NaN makes all but != false
    if isinstance(left, date) or isinstance(right, date):
        left_date, right_date = _as_date(left), _as_date(right)
        if left_date is None or right_date is None:
            return op == "!="  # like NaN: a non-date is unequal to, and unordered with, a date
        return compare(left_date, right_date)
    left_text, right_text = _string(left), _string(right)
    if op in ("=", "!="):
        return compare(left_text, right_text)
    # Two texts that both read as numbers order as numbers, so '10' > '9'.
    left_number, right_number = _number(left_text), _number(right_text)
    if not (math.isnan(left_number) or math.isnan(right_number)):
        return compare(left_number, right_number)
    return compare(left_text, right_text)


def _arithmetic(op: str, left: Value, right: Value) -> Value:
    if op in ("+", "-") and (isinstance(left, date) or isinstance(right, date)):
        return _date_arithmetic(op, left, right)
    x, y = _number(left), _number(right)
    if op == "+":
        result = x + y
    elif op == "-":
        result = x - y
    elif op == "*":
        result = x * y
    elif op == "div":
        return _divide(x, y)
    else:
        result = _modulo(x, y)
    if _is_int(left) and _is_int(right) and result.is_integer():
        return int(result)
    return result


def _divide(x: float, y: float) -> float:
    if y != 0:
        return x / y
    if x == 0 or math.isnan(x):
        return math.nan
    return math.copysign(math.inf, x) * math.copysign(1.0, y)  # XPath: 1 div 0 is Infinity


def _modulo(x: float, y: float) -> float:
    if y == 0 or math.isinf(x):
        return math.nan  # XPath says NaN where math.fmod raises
    return math.fmod(x, y)  # XPath mod keeps the dividend's sign, like fmod, unlike Python's %


def _date_arithmetic(op: str, left: Value, right: Value) -> Value:
    left_date, right_date = _as_date(left), _as_date(right)
    if left_date is not None and right_date is not None and op == "-":
        return (left_date - right_date).days
    if left_date is not None and right_date is None:
        return _shift(left_date, _number(right) if op == "+" else -_number(right))
    if right_date is not None and left_date is None and op == "+":
        return _shift(right_date, _number(left))
    return _arithmetic(op, _number(left), _number(right))  # date + date, number - date


def _shift(day: date, days: float) -> date | float:
    if math.isnan(days) or math.isinf(days):
        return math.nan
    ordinal = day.toordinal() + math.floor(days)
    if 1 <= ordinal <= date.max.toordinal():
        return date.fromordinal(ordinal)
    return math.nan  # before year 1 or after 9999: no such date


# ---- functions ------------------------------------------------------------------------------


def _choices(value: Value) -> list[str]:
    if isinstance(value, list):
        return value
    return _string(value).split()  # a select_multiple saved as "a b c"


def _truncate(value: Value) -> int | float:
    number = _number(value)
    return int(number) if math.isfinite(number) else number


_ROUNDING = Context(prec=1000)  # enough digits for any double at any clamped number of places


def _round(value: Value, places: Value = 0) -> int | float:
    number, digits = _number(value), _number(places)
    if not math.isfinite(number):
        return number
    if math.isnan(digits):
        return math.nan
    # Past 400 places either way every double rounds the same, so clamping changes nothing.
    whole_places = int(max(-400.0, min(400.0, digits)))
    # Round the shortest decimal form half away from zero, so round(2.675, 2) is 2.68 as written.
    rounded = Decimal(repr(number)).quantize(
        Decimal(1).scaleb(-whole_places), ROUND_HALF_UP, _ROUNDING
    )
    return int(rounded) if whole_places <= 0 else float(rounded)


_FUNCTIONS: dict[str, Callable[[Sequence[Value]], Value]] = {
    "not": lambda args: not _boolean(args[0]),
    "true": lambda args: True,
    "false": lambda args: False,
    "selected": lambda args: _string(args[1]).strip() in _choices(args[0]),
    "count-selected": lambda args: len(_choices(args[0])),
    "string-length": lambda args: len(_string(args[0])),
    # The pattern is a literal, checked when the form was loaded; regex() matches the whole answer.
    "regex": lambda args: re.fullmatch(_string(args[1]), _string(args[0])) is not None,
    "number": lambda args: _number(args[0]),
    "int": lambda args: _truncate(args[0]),
    "string": lambda args: _string(args[0]),
    "concat": lambda args: "".join(_string(arg) for arg in args),
    "round": lambda args: _round(*args),
}
