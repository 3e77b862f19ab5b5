"""Command line of the schema tooling: ``python -m codegen {import,generate,check-install}``."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from codegen.build import build
from codegen.importer import import_schema
from codegen.load import load
from codegen.render import format_python, render
from codegen.write import OWNED, write

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"tiktok_live": ROOT / "sdk", "tiktok_live._generated": ROOT / "generated"}


def generate_files(root: Path = ROOT) -> dict[PurePosixPath, str]:
    """Everything `make generate` writes, in memory: load -> build -> render -> format."""
    sdk = root / "sdk"
    loaded = load(
        root / "proto", root / "codegen" / "events.toml", sdk / "_base.py", sdk / "_derived.py", sdk / "_connection.py"
    )
    return format_python(render(build(loaded), dict(loaded.python)), root)


def _cmd_import(args: argparse.Namespace) -> int:
    texts, log = import_schema(Path(args.schema), ROOT / "codegen" / "corrections.toml")
    changed = write({PurePosixPath("proto") / name: text for name, text in texts.items()}, ROOT)
    print(f"import-schema: {len(log)} corrections applied; {len(changed)} file(s) changed in proto/")
    for line in log if args.verbose else ():
        print(f"  {line}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    changed = write(generate_files(), ROOT, OWNED)
    print(f"generate: {len(changed)} file(s) changed")
    for path in changed:
        print(f"  {path}")
    return 0


def _cmd_check_install(args: argparse.Namespace) -> int:
    """Exit 1 when the strict editable install lacks a module of sdk/ or generated/ (it must be re-run)."""
    spec = importlib.util.find_spec("tiktok_live")
    if spec is None or spec.origin is None:
        return 1
    installed = Path(spec.origin).parent
    for package, source in PACKAGES.items():
        target = installed.joinpath(*package.split(".")[1:])
        for path in source.rglob("*.py*"):
            if "__pycache__" in path.parts or path.suffix not in (".py", ".pyi"):
                continue
            if not (target / path.relative_to(source)).exists():
                return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run one command."""
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    importer = commands.add_parser("import", help="reference schema -> proto/ (applies codegen/corrections.toml)")
    importer.add_argument("schema", nargs="?", default=str(ROOT.parent / "shared" / "schema"))
    importer.add_argument("-v", "--verbose", action="store_true", help="list every correction applied")
    importer.set_defaults(run=_cmd_import)
    commands.add_parser("generate", help="proto/ -> generated/ and docs/events.md").set_defaults(run=_cmd_generate)
    commands.add_parser("check-install", help="exit 1 if the editable install misses modules").set_defaults(
        run=_cmd_check_install
    )
    args = parser.parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
