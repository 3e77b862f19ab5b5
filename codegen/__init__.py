"""Schema tooling for tiktok-live: import the reference schema into proto/ and generate generated/ from it.

Two commands (see ``python -m codegen --help``):

- ``import``: reference schema (``../shared/schema``) + ``corrections.toml`` -> ``proto/*.proto`` (the importer).
- ``generate``: ``proto/*.proto`` + ``templates/`` + ``events.toml`` -> ``generated/`` and ``docs/events.md``.

The generator runs in pure stages: :func:`codegen.load.load` (protoc), :func:`codegen.build.build` (the model),
:func:`codegen.render.render` (templates) and :func:`codegen.write.write` (the only code that touches the tree).
It never imports ``sdk/`` or ``generated/``, so it runs on a broken tree.
"""
