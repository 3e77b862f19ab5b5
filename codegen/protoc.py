"""Thin wrapper around grpc_tools' bundled protoc: compile .proto files into descriptors and Python modules."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from google.protobuf import descriptor_pb2


class ProtocError(RuntimeError):
    """protoc rejected the input; the message carries protoc's own diagnostics."""


def _run(args: Sequence[str]) -> None:
    from grpc_tools import protoc

    # protoc prints its diagnostics to stderr itself; we only translate the exit status.
    status = protoc.main(["protoc", *args])
    if status != 0:
        raise ProtocError(f"protoc failed (exit {status}): protoc {' '.join(args)}")


def compile_descriptors(proto_root: Path, files: Sequence[str]) -> descriptor_pb2.FileDescriptorSet:
    """Compile ``files`` (relative to ``proto_root``) into a FileDescriptorSet with imports and source info."""
    with tempfile.TemporaryDirectory(prefix="tiktok-live-protoc-") as tmp:
        out = Path(tmp) / "descriptors.pb"
        _run(
            [
                f"-I{proto_root}",
                "--include_imports",
                "--include_source_info",
                f"--descriptor_set_out={out}",
                *files,
            ]
        )
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(out.read_bytes())
        return fds


def _mypy_plugin() -> str:
    """Locate mypy-protobuf's protoc plugin next to the running interpreter (the project venv)."""
    beside = Path(sys.executable).parent / "protoc-gen-mypy"
    if beside.exists():
        return str(beside)
    found = shutil.which("protoc-gen-mypy")
    if found is None:
        raise ProtocError("protoc-gen-mypy not found: install the dev extra (pip install -e '.[dev]')")
    return found


def compile_python(proto_root: Path, files: Sequence[str]) -> dict[PurePosixPath, str]:
    """Run protoc's Python generator and mypy-protobuf; return {relative path: text} of *_pb2.py/.pyi."""
    with tempfile.TemporaryDirectory(prefix="tiktok-live-protoc-") as tmp:
        out = Path(tmp)
        _run(
            [
                f"-I{proto_root}",
                f"--plugin=protoc-gen-mypy={_mypy_plugin()}",
                f"--python_out={out}",
                f"--mypy_out={out}",
                *files,
            ]
        )
        return {
            PurePosixPath(path.relative_to(out).as_posix()): path.read_text(encoding="utf-8")
            for path in sorted(out.rglob("*_pb2.py*"))
        }
