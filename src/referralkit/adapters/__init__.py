"""Concrete implementations of referralkit's ports (stores and vendor backends).

Nothing in the core imports this package except :mod:`referralkit.desk` and the CLI.
"""
