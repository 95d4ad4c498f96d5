"""``did you mean 'welcome'?``: the closest known name to a misspelt one."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]


def closest(word: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The candidate most like ``word``, or ``None`` when nothing is close.

    Case is ignored for the comparison (``Welcome`` finds ``welcome``).
    """
    options = {c.lower(): c for c in sorted(set(candidates)) if c != word}
    if not options:
        return None
    # difflib is imported at the first misspelling: it is about half a
    # megabyte, and most processes (a serving engine) never need it.
    import difflib

    found = difflib.get_close_matches(word.lower(), list(options), n=1, cutoff=cutoff)
    return options[found[0]] if found else None


def did_you_mean(word: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """``"did you mean 'x'?"`` for the closest candidate, else ``None``."""
    match = closest(word, candidates, cutoff=cutoff)
    return f"did you mean '{match}'?" if match is not None else None
