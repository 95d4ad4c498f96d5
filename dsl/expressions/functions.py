"""The registry of built-in functions: the only functions an expression can call."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .function_spec import FunctionSpec
from .functions_collections import COLLECTION_FUNCTIONS
from .functions_convert import CONVERSION_FUNCTIONS
from .functions_numbers import NUMBER_FUNCTIONS
from .functions_text import TEXT_FUNCTIONS
from .functions_time import TIME_FUNCTIONS
from .functions_types import TYPE_FUNCTIONS

__all__ = ["BUILTIN_FUNCTIONS", "FunctionSpec"]

#: Every built-in function by name, in alphabetical order; read-only.
BUILTIN_FUNCTIONS: Mapping[str, FunctionSpec] = MappingProxyType(
    dict(
        sorted(
            {
                **CONVERSION_FUNCTIONS,
                **NUMBER_FUNCTIONS,
                **TEXT_FUNCTIONS,
                **COLLECTION_FUNCTIONS,
                **TIME_FUNCTIONS,
                **TYPE_FUNCTIONS,
            }.items()
        )
    )
)
