""":class:`FhirPlugin`: provides :class:`~referralkit.adapters.fhir.FhirEhr` through the hooks.

Register it with the host's plugin manager (``make_plugin_manager([FhirPlugin(ehr)])``), or
publish it under the ``referralkit`` entry-point group from a package that builds the
adapter from its own configuration. The hook does no I/O: it returns the adapter.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from referralkit.adapters.fhir.ehr import FhirEhr
from referralkit.plugins import hookimpl
from referralkit.ports import EhrAdapter

__all__ = ["FhirPlugin"]


@attrs.define
class FhirPlugin:
    """A plugin providing one :class:`FhirEhr` (or several, one per FHIR server).

    .. versionadded:: 0.2
    """

    adapters: tuple[FhirEhr, ...]

    @classmethod
    def of(cls, *adapters: FhirEhr) -> FhirPlugin:
        """Return a plugin providing *adapters*."""
        return cls(adapters)

    @hookimpl
    def referralkit_register_ehr_adapters(self) -> Sequence[EhrAdapter]:
        """Provide the FHIR EHR adapters."""
        return list(self.adapters)
