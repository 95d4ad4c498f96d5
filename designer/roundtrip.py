"""Load and dump a workflow so that what an edit did not touch stays byte for byte.

ruamel's round-trip mode keeps comments, key order, quotes and flow style,
but its emitter still normalises a few things (one indentation for every
sequence, ``null`` written as nothing, long lines...). So the dump is not
returned as it is: the original text is dumped unedited too (the
*baseline*), the difference baseline -> edited is the edit, and that
difference is applied to the original text. Lines the edit did not change
come from the original, whatever ruamel would have made of them.
"""

from __future__ import annotations

import copy
import difflib
import io
import re
import warnings
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

__all__ = ["delete_key", "dump", "load", "splice"]


def _yaml(sequence: int, offset: int) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.allow_duplicate_keys = True
    # Mappings are indented by 2 in nearly every workflow; block sequences
    # vary ("- " under its key, or indented), so that is what is chosen.
    yaml.indent(mapping=2, sequence=sequence, offset=offset)
    yaml.representer.add_representer(
        type(None), lambda r, _d: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


_CANDIDATES = ((2, 0), (4, 2), (6, 4), (3, 1))
_KEY_LINE = re.compile(r"^( *)[^\s#-][^#]*:\s*(#.*)?$")
_DASH_LINE = re.compile(r"^( *)- ")


def _guess_sequence_indent(body: str) -> tuple[int, int]:
    """(sequence indent, dash offset) of the first block sequence under a key,
    read from the text (ruamel's own guess parses the whole document again)."""
    previous = None
    for line in body.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        dash = _DASH_LINE.match(line)
        if dash and previous is not None:
            key = _KEY_LINE.match(previous)
            if key:
                offset = max(0, len(dash.group(1)) - len(key.group(1)))
                return offset + 2, offset
        previous = line
    return 2, 0


def load(text: str) -> tuple[Any, YAML, str]:
    """The round-trip tree of ``text``, the YAML object whose rendering of it
    is closest to ``text`` (ideally identical), and that rendering (the
    baseline of :func:`splice`)."""
    body = text[1:] if text.startswith("\ufeff") else text
    guess = _guess_sequence_indent(body)
    best: tuple[int, YAML, str] | None = None
    lines = body.splitlines(keepends=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = _yaml(*guess).load(body)
    for sequence, off in dict.fromkeys((guess, *_CANDIDATES)):
        yaml = _yaml(sequence, off)
        rendered = dump(tree, yaml)
        if rendered == body:
            return tree, yaml, rendered
        matcher = difflib.SequenceMatcher(None, lines, rendered.splitlines(keepends=True))
        distance = len(lines) - sum(block.size for block in matcher.get_matching_blocks())
        if best is None or distance < best[0]:
            best = (distance, yaml, rendered)
    assert best is not None
    return tree, best[1], best[2]


def delete_key(mapping: Any, key: Any) -> None:
    """``del mapping[key]``, keeping the comment ruamel hangs on its value.

    A comment (and blank lines) after a value belong to that value in
    ruamel's tree, though they introduce what comes next: deleting
    ``next: b``, the last line of state ``a``, would take the comment above
    state ``b`` with it. The comment moves to the key before (to the last
    value inside it, where ruamel would have put it).
    """
    entry = getattr(mapping, "ca", None) and mapping.ca.items.get(key)
    tail = entry[2] if entry and len(entry) > 2 else None
    keys = list(mapping)
    at = keys.index(key)
    del mapping[key]
    if tail is not None and tail.value.startswith("#"):
        # The deleted line's own end-of-line comment goes with it.
        rest = tail.value[tail.value.find("\n") + 1 :] if "\n" in tail.value else ""
        tail = copy.copy(tail) if rest else None
        if tail is not None:
            tail.value = rest
    if tail is None or at == 0:
        return
    holder, last = mapping, keys[at - 1]
    while (
        isinstance(holder[last], CommentedMap)
        and len(holder[last])
        and not holder[last].fa.flow_style()
    ):
        holder = holder[last]
        last = list(holder)[-1]
    if isinstance(holder[last], (CommentedMap, CommentedSeq)):
        return  # a flow mapping, a sequence or an empty one: no slot for it there
    slot = holder.ca.items.setdefault(last, [None, None, None, None])
    if slot[2] is None:
        slot[2] = tail
    else:
        slot[2].value += tail.value


def dump(tree: Any, yaml: YAML) -> str:
    stream = io.StringIO()
    yaml.dump(tree, stream)
    return stream.getvalue()


def splice(original: str, baseline: str, edited: str) -> str:
    """Apply the change ``baseline -> edited`` to ``original`` (of which
    ``baseline`` is ruamel's rendering), keeping the original's lines
    wherever the change does not reach."""
    if baseline == original:
        return edited
    o = original.splitlines(keepends=True)
    a = baseline.splitlines(keepends=True)
    b = edited.splitlines(keepends=True)
    align = difflib.SequenceMatcher(None, a, o, autojunk=False).get_opcodes()
    rewritten = [(i1, i2) for tag, i1, i2, _, _ in align if tag != "equal"]

    # Each change baseline -> edited, widened until it covers every region
    # ruamel rewrote that it touches: such a region is then replaced as a
    # whole by its edited rendering, and no original line is lost.
    patches: list[list[int]] = []
    edits = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in edits:
        if tag == "equal":
            continue
        patch = [i1, i2, j1, j2]
        changed = True
        while changed:
            changed = False
            for r1, r2 in rewritten:
                inside = (
                    patch[0] < r2 and r1 < patch[1] if patch[0] < patch[1] else r1 < patch[0] < r2
                )
                if not inside:
                    continue
                if r1 < patch[0]:
                    patch[2] -= patch[0] - r1
                    patch[0] = r1
                    changed = True
                if r2 > patch[1]:
                    patch[3] += r2 - patch[1]
                    patch[1] = r2
                    changed = True
        if patches and patch[0] <= patches[-1][1]:
            last = patches[-1]
            last[1], last[3] = max(last[1], patch[1]), max(last[3], patch[3])
        else:
            patches.append(patch)

    def to_original(pos: int, *, end: bool) -> int:
        for tag, i1, i2, j1, _ in align:
            if tag == "equal" and i1 <= pos <= i2:
                return j1 + (pos - i1)
        for tag, i1, i2, j1, j2 in align:
            if tag != "equal" and pos in (i1, i2):
                return (j2 if end else j1) if i1 == i2 else (j1 if pos == i1 else j2)
        return len(o)

    out = list(o)
    for i1, i2, j1, j2 in reversed(patches):
        start = to_original(i1, end=False)
        stop = max(start, to_original(i2, end=True))
        out[start:stop] = b[j1:j2]
    return "".join(out)
