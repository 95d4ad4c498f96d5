"""Small edits of a workflow document, applied to its ruamel round-trip tree.

:func:`apply_edit` takes the document's text and one operation (the JSON
``op`` of ``POST /api/files/{path}/edit``, designer/API.md) and returns the
new text. Only the nodes the operation is about change; comments, key
order, quoting and the layout of everything else survive (roundtrip.py).

Operations do not validate: a delete leaves the places that pointed at the
deleted state without a target, and the validator (run on the result by the
API) says where. They refuse (:class:`EditError`) only what they cannot do
at all: an unknown state, a name that is taken or not a name, a text that is
not a mapping.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from . import blocks, roundtrip

__all__ = ["OPS", "EditError", "apply_edit", "reference_slots", "scope_of"]

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
END = "(end)"
WAIT_KINDS = ("any", "all")


class EditError(ValueError):
    """The operation cannot be applied to this document."""


Slot = tuple[Any, str | int]
"""A container and a key in it whose value is a state name (a ``next``, ...)."""


# ------------------------------------------------------------------ finding things


def scope_of(tree: Any, prefix: str) -> Any:
    """The mapping with ``start`` and ``states`` for thread-path prefix ``prefix``:
    ``""`` the top level, ``"fan_out/left"`` a parallel branch, ``"each_line"``
    a map body (parallel and map names nest: ``"a/b/c"``)."""
    scope = tree
    parts = [p for p in prefix.split("/") if p]
    i = 0
    while i < len(parts):
        state = _states(scope).get(parts[i])
        if not isinstance(state, dict):
            raise EditError(f"no parallel or map state {parts[i]!r} in scope {prefix!r}")
        if state.get("type") == "parallel":
            if i + 1 >= len(parts):
                raise EditError(f"{prefix!r}: name a branch of parallel state {parts[i]!r}")
            branches = state.get("branches")
            branch = branches.get(parts[i + 1]) if isinstance(branches, dict) else None
            if not isinstance(branch, dict):
                raise EditError(f"parallel state {parts[i]!r} has no branch {parts[i + 1]!r}")
            scope, i = branch, i + 2
        elif state.get("type") == "map" and isinstance(state.get("do"), dict):
            scope, i = state["do"], i + 1
        else:
            raise EditError(f"state {parts[i]!r} is neither a parallel nor a map state")
    return scope


def _states(scope: Any) -> Any:
    states = scope.get("states") if isinstance(scope, dict) else None
    if not isinstance(states, dict):
        raise EditError("this scope has no 'states' mapping")
    return states


def _locate(tree: Any, op: Mapping[str, Any], key: str = "state") -> tuple[Any, str]:
    """(scope, name) of the state an operation names, as ``state`` (a name or a
    thread path such as ``fan_out/left/notify``) plus an optional ``scope``."""
    ref = _text(op, key)
    prefix = op.get("scope") or ""
    if not isinstance(prefix, str):
        raise EditError("'scope' must be a thread-path prefix (text)")
    if "/" in ref:
        prefix, _, ref = ref.rpartition("/")
    scope = scope_of(tree, prefix)
    if ref not in _states(scope):
        where = f" in {prefix!r}" if prefix else ""
        raise EditError(f"no state {ref!r}{where}")
    return scope, ref


def _wait_slots(node: Any) -> Iterator[tuple[str, Slot]]:
    """(address, slot) of each alternative's ``next`` in a wait tree, in the
    order the graph lists wait edges (nested alternatives first)."""

    def alternatives(holder: Any, base: str) -> Iterator[tuple[str, Slot]]:
        for kind in WAIT_KINDS:
            items = holder.get(kind)
            if isinstance(items, list):
                yield from each(items, f"{base}{kind}.")
        least = holder.get("at_least")
        if isinstance(least, dict) and isinstance(least.get("of"), list):
            yield from each(least["of"], f"{base}at_least.of.")

    def each(items: list[Any], base: str) -> Iterator[tuple[str, Slot]]:
        for i, alt in enumerate(items):
            if not isinstance(alt, dict):
                continue
            yield from alternatives(alt, f"{base}{i}.")
            if "next" in alt:
                yield f"wait:{base}{i}", (alt, "next")

    if isinstance(node, dict):
        yield from alternatives(node, "")


def state_slots(state: Any) -> Iterator[tuple[str, Slot]]:
    """(edge address, slot) of every reference a state makes, in the order
    the graph lists its edges (dsl/graph.py ``_exits``)."""
    if not isinstance(state, dict):
        return
    if state.get("type") == "choice":
        choices = state.get("choices")
        if isinstance(choices, list):
            for i, rule in enumerate(choices):
                if isinstance(rule, dict) and "next" in rule:
                    yield f"choice:{i}", (rule, "next")
        if "default" in state:
            yield "default", (state, "default")
        return
    if state.get("type") == "wait":
        yield from _wait_slots(state)
    if "next" in state:
        yield "next", (state, "next")
    catch = state.get("catch")
    if isinstance(catch, list):
        for i, entry in enumerate(catch):
            if isinstance(entry, dict) and "next" in entry:
                yield f"catch:{i}", (entry, "next")


def reference_slots(scope: Any) -> Iterator[Slot]:
    """Every slot of ``scope`` holding a state name: ``start`` and each state's refs."""
    if isinstance(scope, dict) and "start" in scope:
        yield scope, "start"
    for state in _states(scope).values():
        for _, slot in state_slots(state):
            yield slot


# ------------------------------------------------------------------ operations


def _text(op: Mapping[str, Any], key: str) -> str:
    value = op.get(key)
    if not isinstance(value, str) or not value:
        raise EditError(f"the operation needs {key!r} (text)")
    return value


def _name(op: Mapping[str, Any], key: str, taken: Mapping[str, Any]) -> str:
    name = _text(op, key)
    if not NAME.match(name):
        raise EditError(
            f"{name!r} is not a state name: a letter or '_', then letters, digits, '_' or '-'"
        )
    if name in taken:
        raise EditError(f"a state named {name!r} already exists here")
    return name


#: The least each state type needs to be valid, apart from where it goes next.
_STARTERS: dict[str, Callable[[], dict[str, Any]]] = {
    "task": lambda: {"action": "noop"},
    "choice": lambda: {"choices": []},
    "wait": lambda: {"timer": "1m"},
    "parallel": lambda: {"branches": {"a": {"start": "a1", "states": {"a1": {"type": "succeed"}}}}},
    "map": lambda: {
        "items": "${ input.items }",
        "do": {"start": "each", "states": {"each": {"type": "succeed"}}},
    },
    "set": lambda: {"set": {}},
    "emit": lambda: {"signal": "done"},
    "subflow": lambda: {"workflow": "other.yaml"},
    "compensate": dict,
    "succeed": dict,
    "fail": lambda: {"error": "Failed"},
}


def _as_rt(value: Any) -> Any:
    """Plain JSON as round-trip containers (block style)."""
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _as_rt(v)
        return out
    if isinstance(value, list):
        return CommentedSeq(_as_rt(v) for v in value)
    return value


def _replace_key(mapping: Any, old: str, new: str, value: Any) -> None:
    """Put ``new: value`` where ``old`` was, with ``old``'s comment (and the
    blank line after it, which ruamel keeps there) instead of losing them."""
    if new in mapping and new != old:
        del mapping[new]
    position = list(mapping).index(old)
    comment = mapping.ca.items.pop(old, None)
    del mapping[old]
    mapping.insert(position, new, value)
    if comment is not None:
        mapping.ca.items[new] = comment


def _insert_after(mapping: Any, after: str | None, key: str, value: Any) -> None:
    keys = list(mapping)
    at = keys.index(after) + 1 if after in keys else len(keys)
    mapping.insert(at, key, value)


def _plan_add(tree: Any, op: Mapping[str, Any]) -> tuple[Any, str, Any, str | None, bool]:
    """Wire a new state in (every reference change made in ``tree``) and
    return (scope, name, body, anchor, before): the state itself is not put
    in ``tree``; it belongs next to ``anchor`` (after it, or before it).

    ``after`` names the state the new one follows; ``edge`` which of its
    edges the new state is put on (``next``, ``default``, ``choice:N``,
    ``catch:N``, ``wait``, ``wait:PATH``, ``end``; by default a choice's
    ``default`` and anyone else's ``next``). ``edge: "start"`` (no ``after``)
    puts it before the scope's start state. The new state takes the edge's
    old target as its own ``next`` (a choice: as its ``default``), so nothing
    that was connected is left floating.
    """
    kind = _text(op, "type")
    if kind not in _STARTERS:
        raise EditError(f"unknown state type {kind!r}; one of {', '.join(_STARTERS)}")
    edge = op.get("edge")
    if edge is not None and (not isinstance(edge, str) or not edge):
        raise EditError("'edge' is the address of one of the 'after' state's edges (text)")
    after: str | None = op.get("after") or None
    if after is not None:
        scope, after = _locate(tree, op, "after")
    else:
        scope = scope_of(tree, op.get("scope") or "")
        if edge not in (None, "start"):
            raise EditError(f"edge {edge!r} needs 'after', the state it leaves from")
    states = _states(scope)
    if op.get("name"):
        name = _name(op, "name", states)
    else:
        n = 1
        while f"{kind}_{n}" in states:
            n += 1
        name = f"{kind}_{n}"
    new = _as_rt({"type": kind, **_STARTERS[kind]()})
    exit_key = None if kind in ("succeed", "fail") else "default" if kind == "choice" else "next"
    anchor, before = after, False
    old: Any = None
    ends = False
    if edge == "start":
        old = scope.get("start") if isinstance(scope.get("start"), str) else None
        if old in states:
            anchor, before = old, True
        scope["start"] = name
    elif after is not None:
        prev = states[after]
        if not isinstance(prev, dict):
            raise EditError(f"state {after!r} is not a mapping")
        kind_of_prev = prev.get("type")
        if edge is None:
            if kind_of_prev in ("succeed", "fail"):
                edge = ""
            elif kind_of_prev == "wait" and "next" not in prev and "end" not in prev:
                edge = ""  # every alternative goes its own way: no edge to put it on
            else:
                edge = "default" if kind_of_prev == "choice" else "next"
        if edge == "end":
            if prev.get("end") is not True:
                raise EditError(f"state {after!r} does not end its thread")
            _replace_key(prev, "end", "default" if kind_of_prev == "choice" else "next", name)
            ends = True
        elif edge:
            holder, key = _edge_slot(prev, edge)
            old = holder.get(key)
            if holder is prev and key in ("next", "default") and prev.get("end") is True:
                _replace_key(prev, "end", key, name)
                ends = old is None
            else:
                holder[key] = name
    else:
        ends = True
    if exit_key is not None:
        if isinstance(old, str) and old:
            new[exit_key] = old
        elif ends:
            new["end"] = True
    if not scope.get("start"):
        scope["start"] = name
    return scope, name, new, anchor, before


def add_state(tree: Any, op: Mapping[str, Any]) -> None:
    """The tree-only form of add_state (flow-style ``states``): see :func:`_plan_add`."""
    scope, name, new, anchor, before = _plan_add(tree, op)
    states = _states(scope)
    if before and anchor is not None:
        keys = list(states)
        states.insert(keys.index(anchor), name, new)
    else:
        _insert_after(states, anchor, name, new)


def delete_state(tree: Any, op: Mapping[str, Any]) -> None:
    scope, name = _locate(tree, op)
    del _states(scope)[name]
    _drop_references(scope, name)


def _drop_references(scope: Any, name: str) -> None:
    """Remove every reference to the (deleted) state ``name`` in ``scope``."""
    states = _states(scope)
    for holder, key in list(reference_slots(scope)):
        if holder.get(key) == name and not (holder is scope and key == "start"):
            roundtrip.delete_key(holder, key)
    if scope.get("start") == name:
        if states:
            scope["start"] = next(iter(states))
        else:
            del scope["start"]


def rename_state(tree: Any, op: Mapping[str, Any]) -> None:
    scope, name = _locate(tree, op)
    states = _states(scope)
    to = _name(op, "to", states)
    slots = [s for s in reference_slots(scope) if s[0].get(s[1]) == name]
    keys = list(states)
    position = keys.index(name)
    value = states[name]
    # Keep the comment attached to the old key (ruamel keeps it per key).
    comment = states.ca.items.pop(name, None)
    del states[name]
    states.insert(position, to, value)
    if comment is not None:
        states.ca.items[to] = comment
    for holder, key in slots:
        holder[key] = to


def connect(tree: Any, op: Mapping[str, Any]) -> None:
    scope, name = _locate(tree, op)
    state = _states(scope)[name]
    edge = _text(op, "edge")
    to = op.get("to")
    if to is not None and (not isinstance(to, str) or not to):
        raise EditError("'to' is a state name, '(end)' or null")
    if isinstance(to, str) and to != END and to not in _states(scope):
        raise EditError(f"no state {to!r} in the same scope as {name!r}")
    holder, key = _edge_slot(state, edge)
    if to is None:
        if key in holder:
            roundtrip.delete_key(holder, key)
    elif to == END:
        if key != "next" or holder is not state:
            raise EditError("only a state's own 'next' can become 'end: true'")
        if "next" in holder:
            _replace_key(holder, "next", "end", True)
        else:
            holder["end"] = True
    else:
        if holder is state and key == "next" and "end" in state and key not in state:
            _replace_key(state, "end", key, to)
        else:
            holder[key] = to
            if holder is state and key == "next" and "end" in state:
                roundtrip.delete_key(state, "end")


def _edge_slot(state: Any, edge: str) -> Slot:
    if not isinstance(state, dict):
        raise EditError("the state is not a mapping")
    if edge in ("next", "default", "wait"):
        return state, "next" if edge == "wait" else edge
    kind, _, rest = edge.partition(":")
    if kind in ("choice", "catch"):
        items: Any = state.get("choices" if kind == "choice" else "catch")
        try:
            entry = items[int(rest)]
        except (TypeError, ValueError, IndexError, KeyError):
            raise EditError(f"the state has no {edge!r}") from None
        if not isinstance(entry, dict):
            raise EditError(f"{edge!r} is not a mapping")
        return entry, "next"
    if kind == "wait":
        node: Any = state
        for part in rest.split("."):
            try:
                node = node[int(part)] if part.isdigit() else node[part]
            except (TypeError, KeyError, IndexError):
                raise EditError(f"the wait has no alternative {rest!r}") from None
        if not isinstance(node, dict):
            raise EditError(f"wait alternative {rest!r} is not a mapping")
        return node, "next"
    raise EditError(f"unknown edge {edge!r}: next, default, choice:N, catch:N, wait or wait:PATH")


def set_field(tree: Any, op: Mapping[str, Any]) -> None:
    scope, name = _locate(tree, op)
    state = _states(scope)[name]
    path = op.get("path")
    if (
        isinstance(state, CommentedMap)
        and isinstance(path, list)
        and len(path) == 1
        and isinstance(path[0], str)
        and path[0] not in state
        and path[0] not in ("next", "end")
        and op.get("value") is not None
    ):
        # A new field goes above the state's way out (`next` or `end`),
        # where a reader looks for it last.
        exits = [k for k in ("next", "default", "end") if k in state]
        if exits:
            state.insert(list(state).index(exits[0]), path[0], _as_rt(op["value"]))
            return
    _set_at(state, op, f"{name!r}")


def set_document_field(tree: Any, op: Mapping[str, Any]) -> None:
    """``set_field`` for the document's own keys (``schedule``, ``handlers``, ...)."""
    path = op.get("path")
    if isinstance(path, list) and path and path[0] in ("states", "start", "wfdsl"):
        raise EditError(f"{path[0]!r} is edited through the states, not as a document field")
    _set_at(tree, op, "the document")


def _set_at(root: Any, op: Mapping[str, Any], name: str) -> None:
    path = op.get("path")
    if (
        not isinstance(path, list)
        or not path
        or not all(isinstance(p, str | int) and not isinstance(p, bool) for p in path)
    ):
        raise EditError("'path' is a non-empty list of keys and indexes under the state")
    node: Any = root
    for part in path[:-1]:
        try:
            child = node[part]
        except (KeyError, IndexError, TypeError):
            if isinstance(node, dict) and isinstance(part, str):
                child = node[part] = CommentedMap()
            else:
                raise EditError(f"no {part!r} under {name}") from None
        node = child
    last = path[-1]
    value = op.get("value")
    try:
        if value is None:
            if isinstance(node, dict):
                if last in node:
                    roundtrip.delete_key(node, last)
            elif isinstance(node, list) and isinstance(last, int):
                del node[last]
        elif isinstance(node, list) and isinstance(last, int) and last == len(node):
            node.append(_as_rt(value))
        else:
            if node.get(last) == value if isinstance(node, dict) else False:
                return  # same value: leave its formatting alone
            node[last] = _as_rt(value)
    except (TypeError, IndexError, AttributeError):
        raise EditError(f"cannot set {path!r} under {name}") from None


def set_start(tree: Any, op: Mapping[str, Any]) -> None:
    scope, name = _locate(tree, op)
    scope["start"] = name


def _positions(tree: Any, create: bool) -> Any:
    block = tree.get("x-designer")
    if not isinstance(block, dict):
        if not create:
            return None
        block = tree["x-designer"] = CommentedMap()
    positions = block.get("positions")
    if not isinstance(positions, dict):
        if not create:
            return None
        positions = block["positions"] = CommentedMap()
    return positions


def move(tree: Any, op: Mapping[str, Any]) -> None:
    _locate(tree, op)  # the state must exist
    ref = _text(op, "state")
    x, y = op.get("x"), op.get("y")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y)):
        raise EditError("'x' and 'y' are numbers")
    assert isinstance(x, int | float) and isinstance(y, int | float)
    prefix = op.get("scope") or ""
    path = ref if "/" in ref or not prefix else f"{prefix}/{ref}"
    point = CommentedSeq([round(float(x), 1), round(float(y), 1)])
    point.fa.set_flow_style()
    _positions(tree, True)[path] = point


def unpin(tree: Any, op: Mapping[str, Any]) -> None:
    positions = _positions(tree, False)
    if positions is None:
        return
    ref = op.get("state")
    if ref:
        positions.pop(ref, None)
    else:
        positions.clear()
    if not positions:
        block = tree["x-designer"]
        del block["positions"]
        if not block:
            del tree["x-designer"]


# ------------------------------------------------------------------ parallel branches


def _parallel(tree: Any, op: Mapping[str, Any]) -> tuple[str, Any]:
    """(thread path, branches mapping) of the parallel state ``op`` names."""
    scope, name = _locate(tree, op)
    state = _states(scope)[name]
    if not isinstance(state, dict) or state.get("type") != "parallel":
        raise EditError(f"state {name!r} is not a parallel state")
    branches = state.get("branches")
    if branches is None:
        branches = state["branches"] = CommentedMap()
    if not isinstance(branches, dict):
        raise EditError(f"parallel state {name!r}: its 'branches' is not a mapping")
    prefix = _prefix(op)
    return (f"{prefix}/{name}" if prefix else name), branches


def _branch(op: Mapping[str, Any], branches: Any) -> str:
    branch = _text(op, "branch")
    if branch not in branches:
        raise EditError(f"the parallel state has no branch {branch!r}")
    return branch


def _branch_name(op: Mapping[str, Any], key: str, branches: Any) -> str:
    name = _text(op, key)
    if not NAME.match(name):
        raise EditError(
            f"{name!r} is not a branch name: a letter or '_', then letters, digits, '_' or '-'"
        )
    if name in branches:
        raise EditError(f"a branch named {name!r} already exists here")
    return name


def add_branch(tree: Any, op: Mapping[str, Any]) -> None:
    """A new branch (``name``, by default ``branch_N``) at the end of a
    parallel state's branches: one ``succeed`` state, to be built on."""
    _, branches = _parallel(tree, op)
    if op.get("name"):
        name = _branch_name(op, "name", branches)
    else:
        n = 1
        while f"branch_{n}" in branches:
            n += 1
        name = f"branch_{n}"
    branches[name] = _as_rt({"start": "done", "states": {"done": {"type": "succeed"}}})


def remove_branch(tree: Any, op: Mapping[str, Any]) -> None:
    """Delete a branch and the pinned positions of the states in it."""
    path, branches = _parallel(tree, op)
    branch = _branch(op, branches)
    roundtrip.delete_key(branches, branch)
    positions = _positions(tree, False)
    if positions is not None:
        for key in [k for k in positions if str(k).startswith(f"{path}/{branch}/")]:
            del positions[key]


def rename_branch(tree: Any, op: Mapping[str, Any]) -> None:
    """Rename a branch in place (its comment kept), and the pinned positions
    of the states in it; a branch name is not referenced from anywhere else."""
    path, branches = _parallel(tree, op)
    branch = _branch(op, branches)
    to = _branch_name(op, "to", branches)
    _replace_key(branches, branch, to, branches[branch])
    positions = _positions(tree, False)
    if positions is not None:
        old = f"{path}/{branch}/"
        for key in [k for k in positions if str(k).startswith(old)]:
            _replace_key(positions, key, f"{path}/{to}/{key[len(old) :]}", positions[key])


OPS: dict[str, Callable[[Any, Mapping[str, Any]], None]] = {
    "add_state": add_state,
    "delete_state": delete_state,
    "rename_state": rename_state,
    "connect": connect,
    "set_field": set_field,
    "set_document_field": set_document_field,
    "set_start": set_start,
    "move": move,
    "unpin": unpin,
    "add_branch": add_branch,
    "remove_branch": remove_branch,
    "rename_branch": rename_branch,
}


def apply_edit(text: str, op: Mapping[str, Any]) -> str:
    """``text`` with ``op`` applied; raises :class:`EditError`.

    A ``yaml`` syntax error in ``text`` raises ``EditError`` too: structural
    edits need a document that loads.
    """
    if not isinstance(op, dict):
        raise EditError("'op' is an object with an 'op' field")
    kind = op.get("op")
    if not isinstance(kind, str) or kind not in OPS:
        raise EditError(f"unknown operation {kind!r}; one of {', '.join(OPS)}")
    try:
        tree, yaml, baseline = roundtrip.load(text)
    except Exception as exc:
        raise EditError(f"the document does not load, fix the YAML first: {exc}") from None
    if not isinstance(tree, dict):
        raise EditError("the document is not a mapping")
    if kind == "delete_state":
        # Cut the state's lines out of the text first (blocks.py: ruamel would
        # take the next state's comment along), then drop the references.
        scope, name = _locate(tree, op)
        cut = blocks.cut_state(text, _states(scope), name)
        if cut is not None:
            text = cut
            tree, yaml, baseline = roundtrip.load(text)
            _drop_references(scope_of(tree, _prefix(op)), name)
            return roundtrip.splice(text, baseline, roundtrip.dump(tree, yaml))
    if kind == "add_state":
        return _add_as_text(text, tree, yaml, baseline, op)
    OPS[kind](tree, op)
    return _settle(text, roundtrip.splice(text, baseline, roundtrip.dump(tree, yaml)))


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _settle(original: str, edited: str) -> str:
    """Move lines a new key was put below back under it.

    ruamel keeps the blank line and comment that end a mapping (and that
    introduce whatever follows it) with its last value, so a key added to
    that mapping lands after them: ``next: b`` below the blank line and the
    next state's comment. Blank lines and comments less indented than the
    added lines, right above them, go below them again.
    """
    a = original.splitlines(keepends=True)
    b = edited.splitlines(keepends=True)
    out = list(b)
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for tag, _i1, _i2, j1, j2 in reversed(ops):
        if tag != "insert" or not b[j1].strip():
            continue
        depth = _indent_of(b[j1])
        top = j1
        while top > 0 and (
            not b[top - 1].strip()
            or (b[top - 1].lstrip().startswith("#") and _indent_of(b[top - 1]) < depth)
        ):
            top -= 1
        if top == j1 or top == 0 or _indent_of(b[top - 1]) < depth:
            continue
        out[top:j2] = b[j1:j2] + b[top:j1]
    return "".join(out)


def _add_as_text(text: str, tree: Any, yaml: Any, baseline: str, op: Mapping[str, Any]) -> str:
    """add_state: the references change in the tree, the new state's lines
    go in as text beside its anchor (blocks.insert_state)."""
    scope, name, new, anchor, before = _plan_add(tree, op)
    wired = _settle(text, roundtrip.splice(text, baseline, roundtrip.dump(tree, yaml)))
    states = _states(scope)
    if anchor is None and len(states):
        anchor = list(states)[-1]
    if anchor is not None:
        block = CommentedMap()
        block[name] = new
        again, _, _ = roundtrip.load(wired)
        placed = blocks.insert_state(
            wired,
            _states(scope_of(again, _add_prefix(op))),
            anchor,
            roundtrip.dump(block, yaml),
            before=before,
        )
        if placed is not None:
            return placed
    # Flow-style or empty states: in the tree, spaced like its neighbours.
    tree, yaml, baseline = roundtrip.load(wired)
    scope = scope_of(tree, _add_prefix(op))
    states = _states(scope)
    if before and anchor is not None:
        states.insert(list(states).index(anchor), name, new)
    else:
        _insert_after(states, anchor, name, new)
    edited = roundtrip.splice(wired, baseline, roundtrip.dump(tree, yaml))
    new_tree, _, _ = roundtrip.load(edited)
    return blocks.space_state(edited, _states(scope_of(new_tree, _add_prefix(op))), name)


def _prefix(op: Mapping[str, Any]) -> str:
    """The thread-path prefix of the scope of ``op``'s ``state``."""
    ref = _text(op, "state")
    return ref.rpartition("/")[0] if "/" in ref else str(op.get("scope") or "")


def _add_prefix(op: Mapping[str, Any]) -> str:
    after = op.get("after")
    if isinstance(after, str) and "/" in after:
        return after.rpartition("/")[0]
    return str(op.get("scope") or "")
