"""``python -m pard_ref``: see :mod:`pard_ref.cli`."""

from .cli import main

raise SystemExit(main())
