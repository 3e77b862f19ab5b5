"""Stage 1: read the inputs (proto/ through protoc, events.toml, sdk/_base.py). Reads only; writes nothing."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from google.protobuf import descriptor_pb2

from codegen.protoc import compile_descriptors, compile_python

SETS_TABLE = "sets"
"""The events.toml table of named event sets (every other table names a message)."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """Everything the generator reads: descriptors, protoc's Python output, event data and the mixins' source."""

    files: tuple[descriptor_pb2.FileDescriptorProto, ...]
    python: tuple[tuple[PurePosixPath, str], ...]
    events: dict[str, dict[str, object]]
    base_source: str
    sets: dict[str, object] | None = None
    derived_source: str = ""
    connection_source: str = ""


def proto_files(proto_root: Path) -> list[str]:
    """The .proto files under ``proto_root``, relative and sorted."""
    return sorted(path.relative_to(proto_root).as_posix() for path in proto_root.rglob("*.proto"))


def load(
    proto_root: Path,
    events_toml: Path,
    base_py: Path,
    derived_py: Path | None = None,
    connection_py: Path | None = None,
) -> Loaded:
    """Compile every file in ``proto_root``; read the event data, the mixins' and the derived events' source."""
    names = proto_files(proto_root)
    if not names:
        raise FileNotFoundError(f"no .proto files in {proto_root}: run `make import-schema` first")
    fds = compile_descriptors(proto_root, names)
    python = compile_python(proto_root, names)
    with events_toml.open("rb") as handle:
        events = tomllib.load(handle)
    sets = events.pop(SETS_TABLE, {})
    return Loaded(
        files=tuple(file for file in fds.file if file.name in names),
        python=tuple(sorted(python.items())),
        events=events,
        sets=sets,
        base_source=base_py.read_text(encoding="utf-8"),
        derived_source=derived_py.read_text(encoding="utf-8") if derived_py is not None else "",
        connection_source=connection_py.read_text(encoding="utf-8") if connection_py is not None else "",
    )
