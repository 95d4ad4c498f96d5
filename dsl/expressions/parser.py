"""Text to syntax tree: the Lark grammar, the guards before it, the tree builder.

Guards run before Lark sees the text, so a hostile expression cannot make the
parser or the tree builder recurse deeply: the text's length is bounded, and
brackets may nest at most MAX_DEPTH deep. Deep nesting without brackets
(``not not not ... x``) is caught while the tree is built, by a transformer
that does not recurse.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
from lark.lexer import PatternStr

from wfdsl.errors import ExpressionError

from .limits import MAX_DEPTH, MAX_SOURCE_LENGTH, too_deep
from .literals import decode_number, decode_string
from .nodes import (
    Accessor,
    Arithmetic,
    Comparison,
    Comprehension,
    Conditional,
    FunctionCall,
    ListLiteral,
    Literal,
    Logical,
    MapLiteral,
    Name,
    Node,
    Operation,
    Path,
    Power,
    Unary,
)

__all__ = ["parse_tree"]

_STRING_LITERAL = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""", re.DOTALL)

# Words that Python users may reach for but that the language does not have.
_FOREIGN_KEYWORDS = frozenset(
    {
        "lambda",
        "for",  # only inside a list comprehension: its own message below
        "while",
        "import",
        "from",
        "def",
        "class",
        "is",
        "yield",
        "await",
        "async",
        "with",
        "global",
        "nonlocal",
        "del",
        "pass",
        "return",
        "raise",
        "try",
        "except",
        "finally",
        "assert",
        "elif",
    }
)

_TERMINAL_NAMES = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "$END": "the end of the expression",
}


@functools.cache
def _lark() -> Lark:
    """The parser, built once per process from the grammar shipped in the package.

    Building the LALR tables takes ~40 ms, a fifth of a ``wfdsl validate``;
    they are kept in the user's own cache folder (Lark's ``cache``: checked
    against a hash of the grammar and options, rebuilt when it differs or
    cannot be read), never in a folder other users can write.
    """
    return Lark.open_from_package(
        "wfdsl.dsl.expressions",
        "grammar.lark",
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=_table_cache() or False,
    )


def _table_cache() -> str | None:
    """Where the parse tables are cached, or None where no private folder can be had."""
    import lark

    if os.environ.get("WFDSL_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "wfdsl")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder)
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o022 or not os.access(folder, os.W_OK):
        return None  # someone else's folder, or writable by others: no pickles from it
    version = "".join(map(str, sys.version_info[:2]))
    return os.path.join(folder, f"expressions-lark{lark.__version__}-py{version}.tables")


def parse_tree(text: str) -> Node:
    """Parse the body of one ``${ ... }`` into a syntax tree.

    Raises ExpressionError (with a 1-based ``column`` when known) for empty
    or over-long text, brackets nested deeper than MAX_DEPTH, syntax errors,
    bad literals, and trees nested deeper than MAX_DEPTH.
    """
    if len(text) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text):,} characters long, more than the limit "
            f"of {MAX_SOURCE_LENGTH:,}",
            expression=text[:100],
        )
    if not text.strip():
        raise ExpressionError("empty expression", expression=text, column=1)
    blanked = _blank_strings(text)
    _check_bracket_depth(text, blanked)
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(text, blanked, error) from None
    try:
        node: Node = _TreeBuilder(text).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, ExpressionError):
            error.orig_exc.expression = text
            raise error.orig_exc from None
        raise  # pragma: no cover - a bug in the tree builder, not in the text
    return node


def _blank_strings(text: str) -> str:
    """``text`` with the inside of every string literal replaced by spaces.

    Positions stay the same, so scans for brackets and words can ignore what
    is quoted without re-implementing the lexer.
    """
    return _STRING_LITERAL.sub(
        lambda m: m.group()[0] + " " * (len(m.group()) - 2) + m.group()[-1], text
    )


def _check_bracket_depth(text: str, blanked: str) -> None:
    depth = 0
    for position, char in enumerate(blanked):
        if char in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ExpressionError(
                    f"brackets are nested deeper than {MAX_DEPTH} levels",
                    expression=text,
                    column=position + 1,
                )
        elif char in ")]}":
            depth -= 1


# -- syntax errors --------------------------------------------------------------


def _syntax_error(text: str, blanked: str, error: UnexpectedInput) -> ExpressionError:
    position = error.pos_in_stream if error.pos_in_stream is not None else len(text)
    foreign = _foreign_keyword(blanked, position)
    if foreign is not None and foreign[0] == "for":
        # `for` exists only inside a list comprehension, in one shape.
        return ExpressionError(
            "a list comprehension is [element for name in list] or "
            "[element for name in list if condition], with one `for` and at most one `if`: "
            "[l.price for l in input.lines if l.qty > 0]",
            expression=text,
            column=min(position, len(text) - 1) + 1,
        )
    if foreign is not None:
        word, start = foreign
        return ExpressionError(
            f"'{word}' is not part of the expression language "
            "(it has no lambdas, loops, imports or statements)",
            expression=text,
            column=start + 1,
        )
    if isinstance(error, UnexpectedCharacters):
        message = _unexpected_character(text, position)
    elif isinstance(error, UnexpectedToken):
        message = _unexpected_token(text, blanked, error)
    else:  # pragma: no cover - LALR reports the end of input as a token
        message = "syntax error"
    return ExpressionError(message, expression=text, column=min(position, len(text) - 1) + 1)


def _foreign_keyword(blanked: str, position: int) -> tuple[str, int] | None:
    """A Python-only keyword at or before the error, if the text has one."""
    found = None
    end = position
    while end < len(blanked) and (blanked[end].isalnum() or blanked[end] == "_"):
        end += 1
    for match in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", blanked[:end]):
        preceded_by_dot = blanked[: match.start()].rstrip().endswith(".")
        if match.group() in _FOREIGN_KEYWORDS and not preceded_by_dot:
            found = (match.group(), match.start())
    return found


def _unexpected_character(text: str, position: int) -> str:
    char = text[position]
    if char in "'\"":
        return f"unterminated string: the {char} here has no closing {char}"
    if text.startswith("${", position):
        return "'${' inside an expression: write the expression itself, e.g. ${ vars.a + vars.b }"
    hints = {
        "=": "use '==' to compare",
        "!": "use 'not' (or '!=' to compare)",
        "&": "use 'and'",
        "|": "use 'or'",
        ":": "slices and lambdas are not supported",
        "@": "the expression language has no decorators or matrix products",
    }
    hint = hints.get(char)
    shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
    return f"unexpected character {shown}" + (f"; {hint}" if hint else "")


def _unexpected_token(text: str, blanked: str, error: UnexpectedToken) -> str:
    token = error.token
    if token.type == "$END":
        unclosed = _unclosed_bracket(blanked)
        if unclosed is not None:
            return f"the expression is incomplete: the {blanked[unclosed]!r} at column {unclosed + 1} is never closed"
        return "the expression is incomplete" + _expected(error.expected)
    before = blanked[: token.start_pos].rstrip()
    if token.type == "LPAR" and before and (before[-1] in ")]" or _ends_with_path(before)):
        return "only built-in functions can be called, by name: write upper(x), not x.upper()"
    if token.type == "COLON":
        return "unexpected ':'; slices (x[1:2]) are not supported"
    shown = token.value if len(token.value) <= 30 else token.value[:27] + "..."
    return f"unexpected {shown!r}" + _expected(error.expected)


def _unclosed_bracket(blanked: str) -> int | None:
    """The position of the innermost bracket left open at the end, if any."""
    opened: list[int] = []
    for position, char in enumerate(blanked):
        if char in "([{":
            opened.append(position)
        elif char in ")]}" and opened:
            opened.pop()
    return opened[-1] if opened else None


def _ends_with_path(before: str) -> bool:
    """Whether the text before '(' ends with ``something.name``."""
    match = re.search(r"\.\s*[A-Za-z_][A-Za-z0-9_]*$", before)
    return match is not None


def _expected(terminals: Sequence[str] | set[str]) -> str:
    names = sorted(_terminal_display(name) for name in terminals)
    if not names or len(names) > 8:
        return ""
    return "; expected " + (names[0] if len(names) == 1 else "one of " + ", ".join(names))


def _terminal_display(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:  # pragma: no cover - every expected terminal is defined
        return name
    return repr(pattern.value) if isinstance(pattern, PatternStr) else name


# -- tree building ----------------------------------------------------------------


def _at(token: Token) -> int:
    """Where a token starts (Lark always sets it; its type says Optional)."""
    assert token.start_pos is not None
    return token.start_pos


def _nested(column: int, *children: Node) -> int:
    """The depth of a node over ``children``, refused past MAX_DEPTH."""
    depth = 1 + max((child.depth for child in children), default=0)
    if depth > MAX_DEPTH:
        error = too_deep("the expression")
        error.column = column
        raise error
    return depth


@v_args(meta=True)
class _TreeBuilder(Transformer_NonRecursive[Token, Node]):
    """Lark's parse tree to our frozen syntax nodes, without recursion."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    # literals and names

    def number(self, meta: Any, children: list[Token]) -> Literal:
        token = children[0]
        return Literal(meta.start_pos, meta.end_pos, 0, decode_number(str(token), _at(token) + 1))

    def string(self, meta: Any, children: list[Token]) -> Literal:
        token = children[0]
        return Literal(meta.start_pos, meta.end_pos, 0, decode_string(str(token), _at(token) + 1))

    def true(self, meta: Any, children: list[Token]) -> Literal:
        return Literal(meta.start_pos, meta.end_pos, 0, True)

    def false(self, meta: Any, children: list[Token]) -> Literal:
        return Literal(meta.start_pos, meta.end_pos, 0, False)

    def null(self, meta: Any, children: list[Token]) -> Literal:
        return Literal(meta.start_pos, meta.end_pos, 0, None)

    def name(self, meta: Any, children: list[Token]) -> Name:
        return Name(meta.start_pos, meta.end_pos, 0, str(children[0]))

    # collections and calls

    def arguments(self, meta: Any, children: list[Node]) -> tuple[Node, ...]:
        return tuple(children)

    def list_literal(self, meta: Any, children: list[tuple[Node, ...]]) -> ListLiteral:
        items = children[0] if children else ()
        return ListLiteral(meta.start_pos, meta.end_pos, _nested(meta.start_pos + 1, *items), items)

    def comprehension(self, meta: Any, children: list[Any]) -> Comprehension:
        element: Node = children[0]
        name: Token = children[1]
        iterable: Node = children[2]
        condition: Node | None = children[3] if len(children) > 3 else None
        parts = [element, iterable] + ([condition] if condition is not None else [])
        return Comprehension(
            meta.start_pos,
            meta.end_pos,
            _nested(meta.start_pos + 1, *parts),
            element,
            str(name),
            _at(name),
            iterable,
            condition,
        )

    def pair(self, meta: Any, children: list[Node]) -> tuple[Node, Node]:
        return (children[0], children[1])

    def map_literal(self, meta: Any, children: list[tuple[Node, Node]]) -> MapLiteral:
        entries = tuple(children)
        nodes = [node for entry in entries for node in entry]
        return MapLiteral(
            meta.start_pos, meta.end_pos, _nested(meta.start_pos + 1, *nodes), entries
        )

    def call(self, meta: Any, children: list[Any]) -> FunctionCall:
        name: Token = children[0]
        arguments: tuple[Node, ...] = children[1] if len(children) > 1 else ()
        return FunctionCall(
            meta.start_pos,
            meta.end_pos,
            _nested(meta.start_pos + 1, *arguments),
            str(name),
            arguments,
        )

    # paths

    def key(self, meta: Any, children: list[Token]) -> Accessor:
        token = children[0]
        return Accessor(meta.start_pos, Literal(_at(token), _at(token) + len(token), 0, str(token)))

    def index(self, meta: Any, children: list[Node]) -> Accessor:
        return Accessor(meta.start_pos, children[0])

    def postfix(self, meta: Any, children: list[Any]) -> Path:
        root: Node = children[0]
        accessors = tuple(children[1:])
        depth = _nested(meta.start_pos + 1, root, *(accessor.key for accessor in accessors))
        return Path(meta.start_pos, meta.end_pos, depth, root, accessors)

    # operators

    def neg(self, meta: Any, children: list[Node]) -> Node:
        operand = children[0]
        if isinstance(operand, Literal) and type(operand.value) in (int, float):
            # Folded so that -1 is a literal: a static index in vars.items[-1],
            # and -2**63 stays in range.
            return Literal(meta.start_pos, meta.end_pos, 0, -operand.value)
        return Unary(
            meta.start_pos, meta.end_pos, _nested(meta.start_pos + 1, operand), "-", operand
        )

    def not_op(self, meta: Any, children: list[Node]) -> Unary:
        operand = children[0]
        return Unary(
            meta.start_pos, meta.end_pos, _nested(meta.start_pos + 1, operand), "not", operand
        )

    def power(self, meta: Any, children: list[Node]) -> Power:
        base, exponent = children
        operator_start = self._text.find("**", base.end)
        return Power(
            meta.start_pos,
            meta.end_pos,
            _nested(operator_start + 1, base, exponent),
            base,
            exponent,
            operator_start,
        )

    def _operator(self, meta: Any, children: list[Token]) -> tuple[str, int]:
        return (" ".join(str(token) for token in children), _at(children[0]))

    comp_op = add_op = mul_op = _operator

    def _chain(self, children: list[Any]) -> tuple[Node, tuple[Operation, ...]]:
        rest = tuple(
            Operation(operator, operand, start)
            for (operator, start), operand in zip(children[1::2], children[2::2], strict=True)
        )
        return children[0], rest

    def arith_expr(self, meta: Any, children: list[Any]) -> Arithmetic:
        first, rest = self._chain(children)
        depth = _nested(rest[0].start + 1, first, *(op.operand for op in rest))
        return Arithmetic(meta.start_pos, meta.end_pos, depth, first, rest)

    term = arith_expr

    def comparison(self, meta: Any, children: list[Any]) -> Comparison:
        first, rest = self._chain(children)
        depth = _nested(rest[0].start + 1, first, *(op.operand for op in rest))
        return Comparison(meta.start_pos, meta.end_pos, depth, first, rest)

    def or_test(self, meta: Any, children: list[Node]) -> Logical:
        return Logical(
            meta.start_pos,
            meta.end_pos,
            _nested(meta.start_pos + 1, *children),
            "or",
            tuple(children),
        )

    def and_test(self, meta: Any, children: list[Node]) -> Logical:
        return Logical(
            meta.start_pos,
            meta.end_pos,
            _nested(meta.start_pos + 1, *children),
            "and",
            tuple(children),
        )

    def conditional(self, meta: Any, children: list[Node]) -> Conditional:
        then, condition, otherwise = children
        depth = _nested(meta.start_pos + 1, then, condition, otherwise)
        return Conditional(meta.start_pos, meta.end_pos, depth, then, condition, otherwise)
