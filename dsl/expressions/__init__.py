"""The wfdsl expression language (docs/expressions.md).

Text inside ``${ ... }`` is parsed once (a Lark LALR grammar shipped in this
package), checked against the bounds, and compiled into Python closures;
evaluation then reads only dict keys and list items of the scope it is
given, and reaches the outside world only through :class:`Hooks`.

Typical use::

    from wfdsl.dsl.expressions import compile_value, parse_expression

    condition = parse_expression("vars.total > 1000 and input.country in ['DE', 'FR']")
    condition.evaluate({"vars": {"total": 1200}, "input": {"country": "DE"}})   # True

    args = compile_value({"to": "${ input.email }", "subject": "Hi ${ input.name }"})
    args.evaluate({"input": {"email": "a@b.c", "name": "Ada"}})
    # {'to': 'a@b.c', 'subject': 'Hi Ada'}

The parser, the compiler and the function library (:data:`BUILTIN_FUNCTIONS`)
are imported when first needed, so a process that only holds compiled
workflows, such as an engine serving parked runs, does not load them.
"""

from typing import TYPE_CHECKING

from .compiled import (
    CompiledValue,
    Constant,
    ListValue,
    MappingValue,
    compile_string,
    compile_value,
)
from .expression import Call, Expression, NameUse, explain, parse_expression
from .function_spec import FunctionSpec
from .hooks import NO_HOOKS, FixedHooks, Hooks
from .limits import MAX_DEPTH, MAX_INTEGER, MAX_LENGTH, MAX_SOURCE_LENGTH
from .template import (
    ExpressionSpan,
    Template,
    contains_expression,
    escape_text,
    join_template,
    split_template,
)

__all__ = [
    "BUILTIN_FUNCTIONS",
    "MAX_DEPTH",
    "MAX_INTEGER",
    "MAX_LENGTH",
    "MAX_SOURCE_LENGTH",
    "NO_HOOKS",
    "SCOPE_NAMES",
    "Call",
    "CompiledValue",
    "Constant",
    "Expression",
    "ExpressionSpan",
    "FixedHooks",
    "FunctionSpec",
    "Hooks",
    "ListValue",
    "MappingValue",
    "NameUse",
    "Template",
    "compile_string",
    "compile_value",
    "contains_expression",
    "escape_text",
    "explain",
    "join_template",
    "parse_expression",
    "split_template",
]

if TYPE_CHECKING:  # pragma: no cover
    from .functions import BUILTIN_FUNCTIONS

#: The names the interpreter puts in scope (docs/expressions.md). ``result``, ``error``
#: and ``args`` exist only where they apply; a map state's item name and
#: ``index`` are added by the caller that knows them.
SCOPE_NAMES: frozenset[str] = frozenset({"input", "vars", "run", "result", "error", "args"})


def __getattr__(name: str) -> object:
    if name == "BUILTIN_FUNCTIONS":
        from .functions import BUILTIN_FUNCTIONS

        return BUILTIN_FUNCTIONS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
