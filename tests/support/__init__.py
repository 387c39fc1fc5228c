"""Test support: builders, worlds, servers and store factories, in one place.

Test modules (``test_*.py``) import from here and never from each other; fixtures live in
``tests/conftest.py`` and in referralkit's own pytest plugin (``referralkit.testing``).
"""
