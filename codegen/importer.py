"""The schema importer (``make import-schema``): reference schema + corrections -> ``proto/``.

It compiles the reference ``.proto`` files with protoc (after dropping their one dangling import), moves every
declaration into the project's package, applies ``codegen/corrections.toml`` to the descriptors, prints them back
as ``.proto`` text with :mod:`codegen.printer`, and compiles the result once more to prove it is valid. The
reference files are never copied: ``proto/`` is this module's rendering of their facts.
"""

from __future__ import annotations

import re
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2

from codegen.printer import SCALAR_TYPES, print_file
from codegen.protoc import compile_descriptors

FDP = descriptor_pb2.FieldDescriptorProto

PACKAGE = "tiktok_live.webcast"
# Reference file -> project file. The reference's webcast file imports "data-snake_case.proto", which was never
# published and which nothing uses (see PROVENANCE.md): that import line is dropped before compiling.
REFERENCE_FILES: Mapping[str, str] = {
    "enums.proto": "enums.proto",
    "webcast-snake_case.proto": "webcast.proto",
}
DANGLING_IMPORT = re.compile(r'^\s*import\s+"data-snake_case\.proto";\s*$', re.MULTILINE)
MARK = "@" + "generated"


class CorrectionError(ValueError):
    """A correction does not apply to the reference schema (stale, misspelled or conflicting)."""


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where the reference schema came from, as stated by its PROVENANCE.md."""

    repository: str
    commit: str


def read_provenance(schema_dir: Path) -> Provenance:
    """Read repository and commit from ``PROVENANCE.md`` (``unknown`` when the file does not say)."""
    text = (schema_dir / "PROVENANCE.md").read_text(encoding="utf-8") if (schema_dir / "PROVENANCE.md").exists() else ""
    repo = re.search(r"repository\s+([\w.-]+/[\w.-]+)", text)
    commit = re.search(r"commit\s+([0-9a-f]{40})", text)
    return Provenance(repo.group(1) if repo else "unknown", commit.group(1) if commit else "unknown")


def load_reference(schema_dir: Path) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """Compile the reference schema; return {project file name: descriptor} in the project's package."""
    missing = [name for name in REFERENCE_FILES if not (schema_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{schema_dir} lacks {', '.join(missing)}: pass the reference schema folder")
    with tempfile.TemporaryDirectory(prefix="tiktok-live-schema-") as tmp:
        root = Path(tmp)
        for name in REFERENCE_FILES:
            text = (schema_dir / name).read_text(encoding="utf-8")
            (root / name).write_text(DANGLING_IMPORT.sub("", text), encoding="utf-8")
        fds = compile_descriptors(root, sorted(REFERENCE_FILES))
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    for file in fds.file:
        if file.name not in REFERENCE_FILES:
            raise CorrectionError(f"unexpected file in the reference schema: {file.name}")
        files[REFERENCE_FILES[file.name]] = _repackage(file)
    return files


def _walk(
    scope: str, messages: Iterator[descriptor_pb2.DescriptorProto] | list[descriptor_pb2.DescriptorProto]
) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto]]:
    for message in messages:
        name = f"{scope}{message.name}"
        yield name, message
        yield from _walk(name + ".", list(message.nested_type))


def _repackage(source: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    if source.package:
        raise CorrectionError(f"{source.name} already declares package {source.package!r}; expected none")
    file = descriptor_pb2.FileDescriptorProto()
    file.CopyFrom(source)
    file.ClearField("source_code_info")
    file.name = REFERENCE_FILES[source.name]
    file.package = PACKAGE
    file.syntax = source.syntax or "proto3"
    deps = [REFERENCE_FILES[dep] for dep in source.dependency]
    del file.dependency[:]
    file.dependency.extend(deps)
    for _, message in _walk("", list(file.message_type)):
        for field in message.field:
            if field.type_name:
                field.type_name = f".{PACKAGE}{field.type_name}"
    return file


class Schema:
    """Mutable index over the project's descriptors while corrections are applied."""

    def __init__(self, files: dict[str, descriptor_pb2.FileDescriptorProto]) -> None:
        self.files = files
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: set[str] = set()
        self.owner: dict[str, str] = {}
        for file_name, file in files.items():
            for name, message in _walk("", list(file.message_type)):
                self.messages[name] = message
                self.owner[name] = file_name
                self.enums.update(f"{name}.{enum.name}" for enum in message.enum_type)
            self.enums.update(enum.name for enum in file.enum_type)

    def message(self, name: str, where: str) -> descriptor_pb2.DescriptorProto:
        try:
            return self.messages[name]
        except KeyError:
            raise CorrectionError(f"{where}: no message {name!r} in the schema") from None

    def field(self, message_name: str, number: int, where: str) -> descriptor_pb2.FieldDescriptorProto:
        for field in self.message(message_name, where).field:
            if field.number == number:
                return field
        raise CorrectionError(f"{where}: {message_name} has no field {number}")

    def set_type(self, field: descriptor_pb2.FieldDescriptorProto, spec: str, owner: str, where: str) -> None:
        """Give ``field`` the type ``spec``: a scalar keyword, ``repeated X``, ``map<K, V>`` or a message/enum name."""
        spec = spec.strip()
        field.label = FDP.LABEL_OPTIONAL
        field.ClearField("type_name")
        if spec.startswith("repeated "):
            field.label = FDP.LABEL_REPEATED
            spec = spec.removeprefix("repeated ").strip()
        map_match = re.fullmatch(r"map<\s*(\w+)\s*,\s*([\w.]+)\s*>", spec)
        if map_match:
            self._set_map(field, map_match.group(1), map_match.group(2), owner, where)
            return
        if spec in SCALAR_TYPES:
            field.type = SCALAR_TYPES[spec]  # type: ignore[assignment]
            return
        if spec in self.messages:
            field.type = FDP.TYPE_MESSAGE
        elif spec in self.enums:
            field.type = FDP.TYPE_ENUM
        else:
            raise CorrectionError(f"{where}: unknown type {spec!r}")
        field.type_name = f".{PACKAGE}.{spec}"

    def _set_map(
        self, field: descriptor_pb2.FieldDescriptorProto, key: str, value: str, owner: str, where: str
    ) -> None:
        message = self.message(owner, where)
        entry_name = "".join(part.capitalize() for part in field.name.split("_")) + "Entry"
        if any(nested.name == entry_name for nested in message.nested_type):
            raise CorrectionError(f"{where}: {owner} already has a nested {entry_name}")
        entry = message.nested_type.add(name=entry_name)
        entry.options.map_entry = True
        for number, (name, spec) in enumerate((("key", key), ("value", value)), start=1):
            entry_field = entry.field.add(name=name, number=number, json_name=name)
            self.set_type(entry_field, spec, owner, where)
        field.label = FDP.LABEL_REPEATED
        field.type = FDP.TYPE_MESSAGE
        field.type_name = f".{PACKAGE}.{owner}.{entry_name}"
        self.messages[f"{owner}.{entry_name}"] = entry


def _json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _check_unique(schema: Schema, message_name: str, where: str) -> None:
    message = schema.message(message_name, where)
    names = [field.name for field in message.field]
    numbers = [str(field.number) for field in message.field]
    for label, values in (("name", names), ("number", numbers)):
        duplicates = sorted({value for value in values if values.count(value) > 1})
        if duplicates:
            raise CorrectionError(f"{where}: {message_name} would have duplicate field {label}s {duplicates}")


def _rename(field: descriptor_pb2.FieldDescriptorProto, name: str) -> None:
    field.name = name
    field.json_name = _json_name(name)


def apply_corrections(schema: Schema, corrections: Mapping[str, object]) -> list[str]:
    """Apply every correction in order; return one log line per correction. Raises CorrectionError on any misfit."""
    log: list[str] = []

    def entries(kind: str) -> list[dict[str, object]]:
        value = corrections.get(kind, [])
        if not isinstance(value, list):
            raise CorrectionError(f"corrections: {kind} must be an array of tables")
        return value

    known = {"add_message", "rename_all", "rename_field", "retype_field", "add_field"}
    unknown = sorted(set(corrections) - known)
    if unknown:
        raise CorrectionError(f"corrections: unknown section(s) {unknown}; known: {sorted(known)}")

    for entry in entries("add_message"):
        name = str(entry["name"])
        where = f"add_message {name}"
        if name in schema.messages:
            raise CorrectionError(f"{where}: the schema already has it; drop the correction")
        parent, _, leaf = name.rpartition(".")
        container = schema.message(parent, where).nested_type if parent else None
        target_file = schema.owner[parent.split(".")[0]] if parent else str(entry.get("file", "webcast.proto"))
        if container is None:
            message = schema.files[target_file].message_type.add(name=leaf)
        else:
            message = container.add(name=leaf)
        schema.messages[name] = message
        schema.owner[name] = target_file
        log.append(f"added message {name}")
    for entry in entries("add_message"):
        name = str(entry["name"])
        if "copy_fields" in entry:
            source = schema.message(str(entry["copy_fields"]), f"add_message {name}")
            schema.messages[name].field.extend(source.field)
        fields = entry.get("fields", [])
        if not isinstance(fields, list):
            raise CorrectionError(f"add_message {name}: fields must be an array of tables")
        for spec in fields:
            _add_field(schema, name, spec, f"add_message {name}")
        _check_unique(schema, name, f"add_message {name}")

    for entry in entries("retype_field"):
        message_name, number = str(entry["message"]), int(str(entry["number"]))
        where = f"retype_field {message_name}.{number}"
        field = schema.field(message_name, number, where)
        old = field.type_name or str(field.type)
        schema.set_type(field, str(entry["type"]), message_name, where)
        if "name" in entry:
            _rename(field, str(entry["name"]))
        _check_unique(schema, message_name, where)
        log.append(f"retyped {message_name}.{number} ({old}) -> {entry['type']} {field.name}")

    for entry in entries("rename_all"):
        old_name, new_name, type_name = str(entry["from"]), str(entry["to"]), str(entry["type"])
        only_number = int(str(entry["number"])) if "number" in entry else None
        where = f"rename_all {old_name}->{new_name}"
        count = 0
        for message_name, message in schema.messages.items():
            for field in message.field:
                if field.name != old_name or field.type_name != f".{PACKAGE}.{type_name}":
                    continue
                if only_number is not None and field.number != only_number:
                    continue
                _rename(field, new_name)
                _check_unique(schema, message_name, where)
                count += 1
        expected = entry.get("count")
        if count == 0 or (expected is not None and count != int(str(expected))):
            raise CorrectionError(f"{where}: renamed {count} fields, expected {expected or 'some'}")
        log.append(f"renamed {count} fields {type_name} {old_name} -> {new_name}")

    for entry in entries("rename_field"):
        message_name, number = str(entry["message"]), int(str(entry["number"]))
        where = f"rename_field {message_name}.{number}"
        field = schema.field(message_name, number, where)
        if "from" in entry and field.name != entry["from"]:
            raise CorrectionError(f"{where}: expected name {entry['from']!r}, schema has {field.name!r}")
        old = field.name
        _rename(field, str(entry["name"]))
        _check_unique(schema, message_name, where)
        log.append(f"renamed {message_name}.{number} {old} -> {field.name}")

    for entry in entries("add_field"):
        message_name = str(entry["message"])
        where = f"add_field {message_name}.{entry.get('number')}"
        _add_field(schema, message_name, entry, where)
        _check_unique(schema, message_name, where)
        log.append(f"added {message_name}.{entry['number']} {entry['name']}: {entry['type']}")
    return log


def _add_field(schema: Schema, message_name: str, spec: object, where: str) -> None:
    if not isinstance(spec, dict):
        raise CorrectionError(f"{where}: a field must be a table with number, name and type")
    number = int(str(spec["number"]))
    message = schema.message(message_name, where)
    if any(field.number == number for field in message.field):
        raise CorrectionError(f"{where}: {message_name} already has field {number}; use retype_field or rename_field")
    name = str(spec["name"])
    field = message.field.add(name=name, number=number, json_name=_json_name(name))
    schema.set_type(field, str(spec["type"]), message_name, where)


def header(file_name: str, reference_name: str, provenance: Provenance) -> list[str]:
    """The comment header of one imported file: marker, source, commit and how to regenerate."""
    return [
        f"{MARK} by `make import-schema` from the reference schema's {reference_name} — do not edit.",
        f"Source: {provenance.repository}@{provenance.commit} (TikTok's webcast schema as published there).",
        "Changes to the reference live in codegen/corrections.toml; edit it, then run `make import-schema`.",
        f"Package {PACKAGE}; every type reference is fully qualified. File: proto/{file_name}.",
    ]


def import_schema(schema_dir: Path, corrections_path: Path) -> tuple[dict[str, str], list[str]]:
    """Reference schema -> {proto file name: text}, plus the correction log. Pure apart from reading inputs."""
    files = load_reference(schema_dir)
    schema = Schema(files)
    with corrections_path.open("rb") as handle:
        corrections = tomllib.load(handle)
    log = apply_corrections(schema, corrections)
    provenance = read_provenance(schema_dir)
    reverse = {project: reference for reference, project in REFERENCE_FILES.items()}
    texts = {name: print_file(file, header(name, reverse[name], provenance)) for name, file in sorted(files.items())}
    _verify(texts)
    return texts, log


def _verify(texts: Mapping[str, str]) -> None:
    """Compile the printed files again: proves they are valid and that every reference resolves."""
    with tempfile.TemporaryDirectory(prefix="tiktok-live-verify-") as tmp:
        root = Path(tmp)
        for name, text in texts.items():
            (root / name).write_text(text, encoding="utf-8")
        compile_descriptors(root, sorted(texts))
