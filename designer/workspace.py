"""The workflow files the designer may read and write: ``.yaml``/``.yml`` under one folder.

Every path a client sends goes through :meth:`Workspace.resolve`, which
refuses (with :class:`PathRefused`) anything that could reach outside the
folder: ``..`` segments, absolute paths, backslashes, NUL bytes, hidden
segments, names holding characters that do not show as themselves (bidi
overrides, zero-width and control characters, white space at either end:
what a run id may not hold either), other extensions, and symlinks (of the file or of any folder on
the way) whose target lies outside. Writes go to a temporary file in the
same folder and replace the target with ``os.replace``, so a crash or a full
disk never leaves half a workflow behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["MAX_FILE_BYTES", "FileInfo", "PathRefused", "Workspace"]

SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 1024 * 1024
#: Longest workspace path and path segment, in UTF-8 bytes (Linux: PATH_MAX, NAME_MAX).
MAX_PATH_BYTES = 1024
MAX_NAME_BYTES = 255
#: Folders never listed (nor reachable: hidden segments are refused anyway).
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "venv"})


# Unicode categories that never show as themselves in a terminal or a page:
# the ones a run id may not hold either (interpreter/run_ids.py).
_HIDDEN = {
    "Cc": "a control character",
    "Cf": "an invisible format character (a bidi control, a zero-width character, a BOM)",
    "Cs": "a lone surrogate, which has no UTF-8 form",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def _unshown(segment: str) -> str | None:
    """Why a path segment would not read as what it is (``invoice\u202egpj.yaml``
    shows as ``invoiceyaml.jpg``), or ``None``."""
    for index, char in enumerate(segment):
        category = unicodedata.category(char)
        if category in _HIDDEN:
            return f"contains U+{ord(char):04X} at position {index + 1}, {_HIDDEN[category]}"
    if segment != segment.strip():
        return "has a name that starts or ends with white space"
    return None


class PathRefused(ValueError):
    """A client path that does not name a workflow file inside the workspace."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str  # workspace-relative, POSIX separators
    size: int
    modified: float


class Workspace:
    """Confined access to the workflow files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve(strict=True)

    def resolve(self, rel: str) -> Path:
        """The real path of workspace file ``rel``; raises :class:`PathRefused`."""
        if not rel or "\x00" in rel or "\\" in rel:
            raise PathRefused(f"not a workspace path: {rel!r}")
        try:
            encoded = rel.encode("utf-8")
        except UnicodeEncodeError:
            raise PathRefused(f"not a workspace path (not UTF-8): {rel!r}") from None
        # The file system's own limits, refused here instead of failing as
        # OSError(ENAMETOOLONG) later.
        if len(encoded) > MAX_PATH_BYTES or any(
            len(part.encode("utf-8")) > MAX_NAME_BYTES for part in rel.split("/")
        ):
            raise PathRefused(f"the path {rel[:60]!r}... is too long")
        for part in rel.split("/"):
            problem = _unshown(part)
            if problem is not None:
                raise PathRefused(f"{rel!r}: the name {part!r} {problem}")
        posix = PurePosixPath(rel)
        if posix.is_absolute() or rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
            raise PathRefused(f"{rel!r} is absolute; give a path inside the workspace")
        parts = posix.parts
        if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise PathRefused(f"{rel!r} leaves the workspace or names a hidden file")
        if posix.suffix.lower() not in SUFFIXES:
            raise PathRefused(f"{rel!r} is not a .yaml or .yml file")
        candidate = self.root.joinpath(*parts)
        # resolve() follows every symlink on the way; the result must still
        # be inside the root (a link to a sibling inside is fine).
        real = candidate.resolve(strict=False)
        if not real.is_relative_to(self.root):
            raise PathRefused(f"{rel!r} leads outside the workspace")
        if real.suffix.lower() not in SUFFIXES:
            raise PathRefused(f"{rel!r} links to a file that is not .yaml or .yml")
        return real

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def files(self) -> list[FileInfo]:
        """Every workflow file under the root, sorted by path (no hidden folders,
        no symlinks leading out)."""
        out: list[FileInfo] = []
        for folder, dirs, names in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
            for name in names:
                if name.startswith(".") or not name.lower().endswith(SUFFIXES):
                    continue
                if name.lower().endswith(".test.yaml"):
                    continue  # a `wfdsl test` file (docs/testing.md), not a workflow
                rel = Path(folder, name).relative_to(self.root).as_posix()
                try:
                    real = self.resolve(rel)
                    st = real.stat()
                except (PathRefused, OSError):
                    continue
                out.append(FileInfo(rel, st.st_size, st.st_mtime))
        return sorted(out, key=lambda f: f.path)

    def read(self, rel: str) -> str:
        """The file's text; ``FileNotFoundError`` when absent."""
        path = self.resolve(rel)
        if not path.is_file():
            raise FileNotFoundError(rel)
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PathRefused(f"{rel!r} is larger than {MAX_FILE_BYTES} bytes")
        return path.read_text(encoding="utf-8")

    def input_path(self, rel: str) -> Path:
        """Where the saved run input of flow ``rel`` lives: ``<stem>.input.json``
        beside it (``orders/ship.yaml`` -> ``orders/ship.input.json``), the
        file ``wfdsl run --input @...`` reads too."""
        flow = self.resolve(rel)
        candidate = flow.with_name(flow.name.rsplit(".", 1)[0] + ".input.json")
        real = candidate.resolve(strict=False)
        if not real.is_relative_to(self.root) or real.suffix != ".json":
            raise PathRefused(f"the input file of {rel!r} leads outside the workspace")
        return real

    def read_input(self, rel: str) -> str | None:
        """The text of flow ``rel``'s saved run input, ``None`` when there is none."""
        path = self.input_path(rel)
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PathRefused(f"{path.name!r} is larger than {MAX_FILE_BYTES} bytes")
        return path.read_text(encoding="utf-8")

    def write_input(self, rel: str, text: str) -> None:
        """Save flow ``rel``'s run input (atomically, like a flow)."""
        path = self.input_path(rel)
        fd, tmp = tempfile.mkstemp(prefix=".wfdsl-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def exists(self, rel: str) -> bool:
        return self.resolve(rel).exists()

    def write(self, rel: str, text: str, *, create: bool = False) -> None:
        """Write atomically; with ``create``, ``FileExistsError`` if it exists."""
        path = self.resolve(rel)
        if create and path.exists():
            raise FileExistsError(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        # The parent may itself have been created through a link: check again.
        if not path.parent.resolve().is_relative_to(self.root):
            raise PathRefused(f"{rel!r} leads outside the workspace")
        fd, tmp = tempfile.mkstemp(prefix=".wfdsl-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            if path.exists():
                os.chmod(tmp, path.stat().st_mode & 0o777)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
