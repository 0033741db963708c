"""Tokenizer and parser for the XLSForm/ODK XPath subset used in form expressions.

The parser turns form text into an immutable tree of frozen dataclasses and refuses, with a message
a form author can act on, anything the evaluator in survey_flows.expressions cannot run.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from re import _constants as sre_constants  # the compiled-pattern tree has no public API
from re import _parser as sre_parser
from typing import Any


class ExpressionError(ValueError):
    """A form expression that cannot be used; str(err) is a clear message for the form author."""


@dataclass(frozen=True)
class Literal:
    """A quoted string or a number written in the expression."""

    value: str | int | float


@dataclass(frozen=True)
class Reference:
    """${name}: the answer to another question."""

    name: str


@dataclass(frozen=True)
class Current:
    """'.': the answer being checked."""


@dataclass(frozen=True)
class ChoiceColumn:
    """A bare name such as `group`: a column of the candidate choice in a choice_filter."""

    name: str


@dataclass(frozen=True)
class Negate:
    """Unary minus."""

    operand: Node


@dataclass(frozen=True)
class Operation:
    """A left-associative run of operators of one precedence, e.g. `a + b - c`.

    Keeping the run flat (rather than nesting a binary node per operator) means a long sum of
    answers does not make a deep tree, so evaluating it cannot exhaust Python's stack.
    """

    first: Node
    rest: tuple[tuple[str, Node], ...]


@dataclass(frozen=True)
class Call:
    """A function call whose name and argument count were checked at parse time."""

    name: str
    args: tuple[Node, ...]


Node = Literal | Reference | Current | ChoiceColumn | Negate | Operation | Call

# name -> (fewest, most) arguments; None means any number.
FUNCTION_ARITY: dict[str, tuple[int, int | None]] = {
    "not": (1, 1),
    "selected": (2, 2),
    "count-selected": (1, 1),
    "string-length": (1, 1),
    "regex": (2, 2),
    "if": (3, 3),
    "coalesce": (2, 2),
    "today": (0, 0),
    "true": (0, 0),
    "false": (0, 0),
    "number": (1, 1),
    "int": (1, 1),
    "string": (1, 1),
    "concat": (0, None),
    "round": (1, 2),
    "profile": (1, 1),
}

# XPath precedence, loosest first; unary minus binds tighter than all of these.
_PRECEDENCE: dict[str, int] = {
    "or": 0,
    "and": 1,
    "=": 2,
    "!=": 2,
    "<": 3,
    "<=": 3,
    ">": 3,
    ">=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "div": 5,
    "mod": 5,
}
_WORD_OPERATORS = frozenset({"or", "and", "div", "mod"})

# Parentheses, function calls and unary minus each add a level; the limit keeps both the parser
# and the evaluator far from Python's recursion limit whatever the form author writes.
_MAX_NESTING = 50

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_SYMBOLS = ("!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "(", ")", ",")
_CURLY_QUOTES = "\u2018\u2019\u201c\u201d"


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "string", "reference", "dot", "name", "symbol" or "end"
    text: str  # as written, for error messages
    position: int  # 1-based character position, for error messages
    value: str | int | float = ""


def parse(source: str) -> Node:
    """Parse form text into an expression tree; raise ExpressionError if it cannot be used."""
    return _Parser(_tokenize(source)).parse()


def walk(node: Node) -> Iterator[Node]:
    """Yield node and every node below it."""
    yield node
    if isinstance(node, Negate):
        yield from walk(node.operand)
    elif isinstance(node, Operation):
        yield from walk(node.first)
        for _, operand in node.rest:
            yield from walk(operand)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from walk(arg)


def _is_name(text: str) -> bool:
    # An XML NCName, simplified: what pyxform accepts as a question or column name.
    return (
        text != ""
        and (text[0] == "_" or text[0].isalpha())
        and all(_is_name_char(char) for char in text)
    )


def _is_name_char(char: str) -> bool:
    # Combining marks are part of words in Thai (e.g. the vowel in อายุ), so names may contain them.
    return char.isalnum() or char in "_-." or unicodedata.category(char) in ("Mn", "Mc")


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(source):
        char = source[i]
        following = source[i + 1 : i + 2]
        if char.isspace():
            i += 1
        elif char in "'\"":
            end = source.find(char, i + 1)  # XPath strings have no escapes
            if end < 0:
                raise ExpressionError(f"unclosed string starting at character {i + 1}")
            tokens.append(_Token("string", source[i : end + 1], i + 1, source[i + 1 : end]))
            i = end + 1
        elif char == "$" and following == "{":
            end = source.find("}", i + 2)
            if end < 0:
                raise ExpressionError(f"unclosed '${{' at character {i + 1}")
            tokens.append(_reference_token(source[i : end + 1], i + 1))
            i = end + 1
        elif number := _NUMBER.match(source, i):
            tokens.append(_Token("number", number.group(), i + 1, _number_value(number.group())))
            i = number.end()
        elif char == "/" or (char == "." and following in ("/", ".")):
            raise _path_error(source, i)
        elif char == ".":
            tokens.append(_Token("dot", ".", i + 1))
            i += 1
        elif char == "_" or char.isalpha():
            end = i + 1
            while end < len(source) and _is_name_char(source[end]):
                end += 1
            if source.startswith("/", end):
                raise _path_error(source, i)
            tokens.append(_Token("name", source[i:end], i + 1))
            i = end
        elif source.startswith("==", i):
            raise ExpressionError(f"use '=' to compare, not '==' (character {i + 1})")
        elif symbol := next((s for s in _SYMBOLS if source.startswith(s, i)), None):
            tokens.append(_Token("symbol", symbol, i + 1))
            i += len(symbol)
        elif char in _CURLY_QUOTES:
            raise ExpressionError(
                f"curly quote {char} at character {i + 1}: use a straight quote ' or \""
            )
        else:
            raise ExpressionError(f"unexpected character {char!r} at character {i + 1}")
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


def _reference_token(text: str, position: int) -> _Token:
    name = text[2:-1]
    if name == "":
        raise ExpressionError(f"empty reference '${{}}' at character {position}")
    if not _is_name(name):
        raise ExpressionError(
            f"invalid name '{text}' at character {position}: a name starts with a letter or '_'"
            " and contains only letters, digits, '_', '-' and '.'"
        )
    return _Token("reference", text, position, name)


def _number_value(text: str) -> int | float:
    # Whole numbers stay ints so calculations print "5", not "5.0". Past 15 digits a double cannot
    # hold them exactly anyway, and int() refuses very long digit strings, so those become floats.
    if "." not in text and len(text) <= 15:
        return int(text)
    return float(text)


def _path_error(source: str, start: int) -> ExpressionError:
    end = start
    while end < len(source) and (source[end] == "/" or _is_name_char(source[end])):
        end += 1
    path = source[start:end]
    last_step = path.rsplit("/", 1)[-1]
    if "/" in path and _is_name(last_step):
        return ExpressionError(f"unsupported path '{path}': use ${{{last_step}}}")
    return ExpressionError(
        f"unsupported '{path}' at character {start + 1}: refer to questions as ${{name}},"
        " and divide with 'div'"
    )


class _Parser:
    """Recursive descent with precedence climbing over the token list."""

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._index = 0
        self._nesting = 0

    def parse(self) -> Node:
        if self._peek().kind == "end":
            raise ExpressionError("empty expression")
        tree = self._expression()
        if self._peek().kind != "end":
            raise _unexpected(self._peek())
        return tree

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _at(self, symbol: str) -> bool:
        return self._peek().kind == "symbol" and self._peek().text == symbol

    def _nested(self, parse_inner: Callable[[], Node]) -> Node:
        self._nesting += 1
        if self._nesting > _MAX_NESTING:
            raise ExpressionError(
                f"expression is nested too deeply (more than {_MAX_NESTING} levels)"
            )
        tree = parse_inner()
        self._nesting -= 1
        return tree

    def _expression(self) -> Node:
        return self._nested(lambda: self._binary(0))

    def _operator(self) -> str | None:
        token = self._peek()
        is_operator = (token.kind == "symbol" and token.text in _PRECEDENCE) or (
            token.kind == "name" and token.text in _WORD_OPERATORS
        )
        return token.text if is_operator else None

    def _binary(self, min_precedence: int) -> Node:
        left = self._unary()
        while (op := self._operator()) is not None and _PRECEDENCE[op] >= min_precedence:
            precedence = _PRECEDENCE[op]
            rest: list[tuple[str, Node]] = []
            # Gather every operator of this precedence into one flat run; tighter operators are
            # parsed by the recursive call, looser ones by the enclosing loop.
            while (op := self._operator()) is not None and _PRECEDENCE[op] == precedence:
                self._advance()
                rest.append((op, self._binary(precedence + 1)))
            left = Operation(left, tuple(rest))
        return left

    def _unary(self) -> Node:
        if self._at("-"):
            self._advance()
            return Negate(self._nested(self._unary))
        return self._primary()

    def _primary(self) -> Node:
        token = self._advance()
        if token.kind in ("number", "string"):
            return Literal(token.value)
        if token.kind == "reference":
            return Reference(str(token.value))
        if token.kind == "dot":
            return Current()
        if token.kind == "symbol" and token.text == "(":
            inner = self._expression()
            self._expect_close(token)
            return inner
        if token.kind == "name" and token.text not in _WORD_OPERATORS:
            return self._call(token) if self._at("(") else ChoiceColumn(token.text)
        raise _unexpected(token)

    def _call(self, name: _Token) -> Call:
        if name.text not in FUNCTION_ARITY:
            raise ExpressionError(f"unknown function '{name.text}()'")
        opening = self._advance()
        args: list[Node] = []
        if not self._at(")"):
            args.append(self._expression())
            while self._at(","):
                self._advance()
                args.append(self._expression())
        self._expect_close(opening)
        _check_arity(name.text, len(args))
        if name.text == "regex":
            _check_pattern(args[1])
        if name.text == "profile" and not (
            isinstance(args[0], Literal) and isinstance(args[0].value, str)
        ):
            raise ExpressionError("profile() takes the quoted name of a profile field")
        return Call(name.text, tuple(args))

    def _expect_close(self, opening: _Token) -> None:
        token = self._advance()
        if token.kind == "end":
            raise ExpressionError(f"missing ')' to close the '(' at character {opening.position}")
        if token.kind != "symbol" or token.text != ")":
            raise _unexpected(token)


def _unexpected(token: _Token) -> ExpressionError:
    if token.kind == "end":
        return ExpressionError("unexpected end of expression")
    shown = token.text if token.kind == "string" else f"'{token.text}'"
    return ExpressionError(f"unexpected {shown} at character {token.position}")


def _check_arity(name: str, count: int) -> None:
    fewest, most = FUNCTION_ARITY[name]
    if count >= fewest and (most is None or count <= most):
        return
    if most == 0:
        expected = "no arguments"
    elif fewest == most:
        expected = f"{fewest} argument{'s' if fewest > 1 else ''}"
    else:
        expected = f"{fewest} or {most} arguments"
    raise ExpressionError(f"{name}() takes {expected}, got {count}")


def _check_pattern(pattern: Node) -> None:
    # The pattern must be written in the form: a pattern taken from an answer would let a
    # respondent choose one that takes forever to match.
    if not isinstance(pattern, Literal) or not isinstance(pattern.value, str):
        raise ExpressionError("regex() pattern must be a quoted string")
    try:
        re.compile(pattern.value)
    except (re.error, OverflowError, RecursionError) as err:
        raise ExpressionError(f"invalid regex() pattern {pattern.value!r}: {err}") from None
    if _nests_repeats(pattern.value):
        raise ExpressionError(
            f"regex() pattern {pattern.value!r} repeats a group that contains another repeat,"
            " which can take forever on some answers; make the inner repeat possessive"
            " (e.g. '[a-z]++' instead of '[a-z]+') or remove the outer repeat"
        )


def _nests_repeats(pattern: str) -> bool:
    """True if a backtracking repeat contains another multi-character repeat, as in (a+)+.

    That shape backtracks exponentially on a near-miss, so one long answer could hang the bot.
    """
    backtracking = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)
    never_backtrack = (sre_constants.POSSESSIVE_REPEAT, sre_constants.ATOMIC_GROUP)
    pending: list[tuple[Any, bool]] = [(item, False) for item in sre_parser.parse(pattern)]
    while pending:
        (op, arg), inside_repeat = pending.pop()
        if op in backtracking:
            fewest, most, body = arg
            if inside_repeat and most > 1 and fewest != most:
                return True
            pending.extend((item, inside_repeat or most > 1) for item in body)
        elif op in never_backtrack:
            # An outer repeat cannot re-split what these matched, but their insides still backtrack.
            pending.extend((item, False) for item in _sub_items(arg))
        else:
            pending.extend((item, inside_repeat) for item in _sub_items(arg))
    return False


def _sub_items(arg: Any) -> Iterator[Any]:
    """The (op, arg) items of every sub-pattern in a regex node's argument (groups, branches)."""
    parts = arg if isinstance(arg, (tuple, list)) else (arg,)
    for part in parts:
        for sub in part if isinstance(part, list) else (part,):
            if isinstance(sub, sre_parser.SubPattern):
                yield from sub
