"""Which run ids a caller may choose, and which ids can name a stored run.

A run id chosen by a caller (``Engine.submit(..., run_id=)``, ``wfdsl run
--run-id``, ``POST /api/runs``) is shown in every CLI line, URL, log and
idempotency key (``run id/state path/attempt``), so it must read as what it
is. docs/decisions.md ("Run ids") gives the reasons; in short, refused
(``ValidationError``, WF604, nothing stored) are:

- anything but a non-empty ``str`` (an empty id used to be replaced by a
  generated one without a word: DBOS's empty-id incident);
- more than :data:`MAX_RUN_ID` characters;
- ``/``, which wfdsl keeps for the ids it derives (a subflow's child run is
  ``parent/state``): a chosen ``p/c`` could take the id of ``p``'s child and
  leave ``p`` waiting for a child that is not its own;
- characters that do not show as themselves: controls (NUL, newline, tab,
  DEL, C1), format characters (bidi overrides and isolates, zero-width
  spaces and joiners, the BOM, soft hyphens), lone surrogates (no UTF-8
  form, so not storable), line and paragraph separators, and white space at
  either end.

Letters of every script, right-to-left ones included, digits, spaces inside
and punctuation are accepted and come back unchanged.

A lookup (``get``, ``signal``, ``cancel``, ...) with an id that has no UTF-8
form (a lone surrogate, or bytes a shell passed that are not UTF-8) cannot
name a stored run: :func:`storable` lets the engine answer ``RunNotFound``
instead of failing on the encoding.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from wfdsl.dsl.findings import Finding

from wfdsl.errors import ValidationError

__all__ = ["MAX_RUN_ID", "RUN_ID_CODE", "check_run_id", "storable"]

#: The finding code of a run id a caller may not choose.
RUN_ID_CODE = "WF604"
#: The longest run id a caller may choose, in characters.
MAX_RUN_ID = 200

# Unicode categories that never show as themselves in a terminal or a page.
_HIDDEN = {
    "Cc": "a control character",
    "Cf": "an invisible format character (a bidi control, a zero-width character, a BOM)",
    "Cs": "a lone surrogate, which has no UTF-8 form",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def storable(run_id: object) -> bool:
    """Whether ``run_id`` could be the id of a stored run at all."""
    if not isinstance(run_id, str):
        return False
    try:
        run_id.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _problem(run_id: object) -> str | None:
    if not isinstance(run_id, str):
        return f"is a {type(run_id).__name__}, not text"
    if not run_id:
        return "is empty (leave it out to get a generated id)"
    if len(run_id) > MAX_RUN_ID:
        return f"has {len(run_id)} characters, more than {MAX_RUN_ID}"
    if "/" in run_id:
        return "contains '/', which wfdsl keeps for the ids of child runs (parent/state)"
    for index, char in enumerate(run_id):
        category = unicodedata.category(char)
        if category in _HIDDEN:
            return f"contains U+{ord(char):04X} at position {index + 1}, {_HIDDEN[category]}"
    if run_id != run_id.strip():
        return "starts or ends with white space"
    return None


def _shown(run_id: Any) -> str:
    text = repr(run_id)
    return text if len(text) <= 60 else text[:45] + "..." + text[-12:]


def check_run_id(run_id: object) -> str:
    """Return ``run_id`` if a caller may choose it; raise ``ValidationError``
    (WF604) saying why not."""
    problem = _problem(run_id)
    if problem is None:
        assert isinstance(run_id, str)
        return run_id
    message = f"run id {_shown(run_id)} {problem}"
    finding = Finding(
        code=RUN_ID_CODE,
        severity="error",
        message=message,
        suggestion="use letters, digits and punctuation other than '/', "
        f"at most {MAX_RUN_ID} characters",
    )
    raise ValidationError([finding], message)
