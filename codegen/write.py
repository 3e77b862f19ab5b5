"""Stage 4: the only code that touches the tree. Writes changed files and deletes what is no longer produced."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

# The folders `make generate` owns completely: stale files in them are deleted.
OWNED = (PurePosixPath("generated"),)


def write(files: Mapping[PurePosixPath, str], root: Path, owned: tuple[PurePosixPath, ...] = ()) -> list[PurePosixPath]:
    """Write ``files`` under ``root``; delete files in the ``owned`` folders that ``files`` lacks.

    Returns the paths that changed (written or deleted). Unchanged files are not touched.
    """
    changed: list[PurePosixPath] = []
    for path, text in sorted(files.items()):
        target = root / path
        data = text.encode("utf-8")
        if target.exists() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        changed.append(path)
    for folder in owned:
        base = root / folder
        if not base.exists():
            continue
        for existing in sorted(base.rglob("*")):
            relative = PurePosixPath(existing.relative_to(root).as_posix())
            if existing.is_file() and relative not in files and "__pycache__" not in relative.parts:
                existing.unlink()
                changed.append(relative)
    return changed
