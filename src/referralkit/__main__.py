"""``python -m referralkit``: the same as the ``referralkit`` command."""

from referralkit.cli import main

raise SystemExit(main())
