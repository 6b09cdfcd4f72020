"""Entry point for ``python -m knowledge_base`` (see ``knowledge_base.cli``)."""

from __future__ import annotations

from knowledge_base.cli import main

raise SystemExit(main())
