"""The :class:`ReferralDesk`: the one facade a host application talks to.

The desk is the composition root: it wires the store, the clock, the shared lifecycle and the
plugin facade together, and it is where side effects happen. Domain modules stay pure.
"""

from referralkit.desk.core import ReferralDesk
from referralkit.desk.stores import open_store

__all__ = ["ReferralDesk", "open_store"]
