"""Workflow definitions: from what a user hands ``submit`` to a compiled,
stored, cached :class:`Workflow`.

A definition is stored by the hash of its text and every run is pinned to
that hash (docs/reference.md §1), so editing a file never changes a running run: a
process that picks the run up later recompiles the stored text, not the file.
Compiled workflows are cached by hash, so the hot path never parses YAML.

Subflows name a path relative to the parent document's file or the name of a
stored definition (§2); :meth:`Definitions.resolve_child` implements that.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfdsl.dsl.findings import has_errors
from wfdsl.dsl.model import Workflow

from wfdsl.errors import ValidationError, WfdslError

from .store.protocol import Store
from .store.records import Definition

__all__ = ["Definitions", "SubflowNotFound", "document_text", "pin_key"]


def pin_key(reference: str, base_file: str | None) -> str:
    """The key of a subflow reference in ``RunRow.pins``: the reference and
    the file it is relative to (one name can mean two files)."""
    return f"{base_file or ''}\n{reference}"


class SubflowNotFound(WfdslError):
    """A subflow names neither a readable file nor a stored definition."""

    error_name = "SubflowNotFound"


def document_text(doc: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[str, str | None]:
    """The text of a document and its file (absolute), from a path, YAML text
    or a mapping. A mapping becomes YAML text, so it can be
    stored and recompiled like any other document."""
    if isinstance(doc, Mapping):
        from wfdsl.dsl import api  # imported late: see compile_text

        return api.dump_mapping(doc), None
    if isinstance(doc, os.PathLike):
        return _read_file(Path(doc))
    if isinstance(doc, str):
        if "\n" not in doc and (doc.endswith((".yaml", ".yml", ".json")) or os.path.isfile(doc)):
            return _read_file(Path(doc))
        return doc, None
    raise TypeError(
        f"a workflow document is a path, YAML text or a mapping, not a {type(doc).__name__}"
    )


def _read_file(path: Path) -> tuple[str, str]:
    """The text of a workflow file; what cannot be read (missing, not UTF-8,
    too large) is the same WF009/WF005 finding ``wfdsl validate`` reports,
    raised as a ValidationError, never a UnicodeDecodeError."""
    from wfdsl.dsl.loader import read_source  # imported late: see compile_text

    text, finding = read_source(path)
    if text is None:
        assert finding is not None
        raise ValidationError([finding])
    return text, str(path.resolve())


def compile_text(text: str, file: str | None) -> Workflow:
    """Validate and compile (raises ``ValidationError`` with every finding)."""
    # The front end (the YAML loaders, JSON Schema, the expression parser and
    # compiler) is imported by the first compile: an engine serving parked runs
    # compiles nothing until one is due, and the front end would be most of
    # its memory.
    from wfdsl.dsl import api

    workflow, findings = api.compile_text(text, file)
    if workflow is None or has_errors(findings):
        raise ValidationError(findings)
    return workflow


class Definitions:
    """Compiles, stores and caches workflows for one engine."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._by_hash: dict[str, Workflow] = {}

    def submit(self, doc: str | os.PathLike[str] | Mapping[str, Any]) -> Workflow:
        """Compile ``doc`` and store its definition (idempotent per text)."""
        text, file = document_text(doc)
        workflow = compile_text(text, file)
        self._remember(workflow)
        return workflow

    def load_file(self, path: str) -> Workflow:
        return self.submit(Path(path))

    def get(self, definition_hash: str) -> Workflow:
        """The compiled workflow a run is pinned to (cache, else the store)."""
        workflow = self._by_hash.get(definition_hash)
        if workflow is not None:
            return workflow
        stored = self._store.get_definition(definition_hash)
        if stored is None:
            raise WfdslError(f"definition {definition_hash[:12]} is not in the store")
        workflow = compile_text(stored.source, stored.file)
        # Key by the stored hash even if the compiler's differs, so a run's
        # pin always finds its workflow.
        self._by_hash[definition_hash] = workflow
        return workflow

    def pins_for(self, workflow: Workflow) -> dict[str, str]:
        """Resolve every subflow ``workflow`` names, and theirs, now (reading
        the disk once, here), storing each child definition: the pins a run
        is submitted with (``RunRow.pins``). A reference that resolves to
        nothing now is left unpinned (the run fails there as before)."""
        from wfdsl.dsl.model import SubflowState, iter_states

        pins: dict[str, str] = {}
        todo = [workflow]
        seen = {workflow.source_hash}
        while todo:
            current = todo.pop()
            for _, state in iter_states(current.root):
                if not isinstance(state, SubflowState):
                    continue
                key = pin_key(state.workflow, current.file)
                if key in pins:
                    continue
                try:
                    child = self.resolve_child(state.workflow, current.file)
                except WfdslError:
                    continue
                pins[key] = child.source_hash
                if child.source_hash not in seen:
                    seen.add(child.source_hash)
                    todo.append(child)
        return pins

    def resolve_child(self, reference: str, base_file: str | None) -> Workflow:
        """A subflow's workflow: a file relative to the parent's file (or the
        working directory), else the newest stored definition of that name."""
        candidates = []
        if base_file:
            candidates.append(Path(base_file).parent / reference)
        candidates.append(Path(reference))
        for candidate in candidates:
            if candidate.is_file():
                return self.submit(candidate)
        stored = self._store.find_definition(reference)
        if stored is not None:
            return self.get(stored.hash)
        where = f" (looked beside {base_file})" if base_file else ""
        raise SubflowNotFound(
            f"subflow {reference!r} is neither a workflow file{where} "
            "nor the name of a stored definition"
        )

    def _remember(self, workflow: Workflow) -> None:
        if workflow.source_hash in self._by_hash:
            return
        version = None if workflow.version is None else str(workflow.version)
        self._store.put_definition(
            Definition(
                hash=workflow.source_hash,
                name=workflow.name,
                version=version,
                source=workflow.source_text,
                file=workflow.file,
            )
        )
        self._by_hash[workflow.source_hash] = workflow
