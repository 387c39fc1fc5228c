"""A misspelled public name: mypy --strict must reject this file (tests/test_package.py)."""

from __future__ import annotations

from referralkit import RefferalDesk

__all__ = ["RefferalDesk"]
