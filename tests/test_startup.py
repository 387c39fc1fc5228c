"""Start-up stays light: opening a desk imports what it uses, and lazy packages export it all."""

import ast
import importlib
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from referralkit import ReferralDesk
from referralkit.adapters.memory import MemoryStore
from referralkit.clock import ManualClock
from referralkit.lifecycle import shared_lifecycle
from referralkit.model import Actor, ActorKind, Referral, ReferralStatus, Role
from referralkit.plugins import Hooks, make_plugin_manager
from referralkit.routing import RuleRegistry
from tests.support.builders import T0, complete_referral

SRC = Path(__file__).parent.parent / "src"
SYSTEM = Actor(kind=ActorKind.SYSTEM, id="test", role=Role.SYSTEM)

# Imported where first needed, never by `import referralkit` and opening a memory desk: optional
# or heavy dependencies, every desk service, and the parts of the library a command may not use.
HEAVY = (
    "phonenumbers",
    "holidays",
    "psycopg",
    "rich",
    "click",
    "email_validator",
    "referralkit.adapters.sqlite",
    "referralkit.adapters.postgres",
    "referralkit.adapters.fhir",
    "referralkit.adapters.hl7v2",
    "referralkit.adapters.smtp",
    "referralkit.adapters.webhook",
    "referralkit.calls",
    "referralkit.cli",
    "referralkit.metrics",
    "referralkit.intake",
    "referralkit.outreach",
    "referralkit.integrity.verify",
    "referralkit.tasks.service",
    "referralkit.tasks.mirror",
    "referralkit.desk.unit_of_work",
    "referralkit.desk.outbox",
    "referralkit.desk.intake",
    "referralkit.desk.routing",
    "referralkit.desk.outreach",
    "referralkit.desk.booking",
    "referralkit.desk.records",
    "referralkit.desk.closing",
    "referralkit.desk.authorization",
    "referralkit.desk.consent",
    "referralkit.desk.inbound",
    "referralkit.desk.referral_documents",
    # Nor the pydantic records, trigger data, ports, lifecycle, plugins or routing rules: the
    # desk builds its defaults for them when first read (see the tests below).
    "pydantic.main",
    "referralkit.model.records",
    "referralkit.model.referral",
    "referralkit.lifecycle",
    "referralkit.ports",
    "referralkit.plugins",
    "referralkit.routing.rules",
)

# Packages whose __init__ imports each public name on first use (referralkit._lazy.exports).
LAZY_PACKAGES = (
    "referralkit.adapters.memory",
    "referralkit.integrity",
    "referralkit.model",
    "referralkit.ports",
    "referralkit.routing",
    "referralkit.tasks",
)


def _imported_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return [m for m in done.stdout.strip().split(",") if m]


def test_opening_a_memory_desk_imports_no_heavy_module():
    code = "import referralkit; referralkit.ReferralDesk.open('memory://')"
    assert _imported_after(code) == []


def test_opening_a_memory_desk_builds_no_referral_validator():
    # pydantic builds a model's validator on first validation (defer_build); the referral's is
    # the largest, and a desk that has not read or written a referral does not need it.
    code = (
        "import referralkit; referralkit.ReferralDesk.open('memory://')\n"
        "print(referralkit.Referral.__pydantic_complete__)"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("status", list(ReferralStatus))
def test_the_empty_referral_routing_checks_rules_against_is_a_valid_one(status: ReferralStatus):
    # The default rules are checked against constructed (not validated) empty referrals.
    constructed = Referral.model_construct(status=status)
    assert Referral.model_validate(constructed.model_dump()) == constructed
    assert constructed.model_dump(exclude={"id"}) == Referral(status=status).model_dump(
        exclude={"id"}
    )


def test_the_first_change_composes_the_services_it_needs():
    # The control for the test above: the same probe sees the services once a desk works.
    code = (
        "import referralkit\n"
        "from referralkit.model import Actor, ActorKind, Role\n"
        "desk = referralkit.ReferralDesk.open('memory://')\n"
        "actor = Actor(kind=ActorKind.SYSTEM, id='test', role=Role.SYSTEM)\n"
        "desk.create(referralkit.Referral(), actor=actor)"
    )
    assert "referralkit.desk.unit_of_work" in _imported_after(code)


def test_the_defaults_a_host_did_not_pass_are_built_when_first_read():
    desk = ReferralDesk.open("memory://")
    assert desk.lifecycle is shared_lifecycle()
    assert desk.routing_rules.active.source == "<defaults>"
    assert desk.hooks is desk.hooks  # built once, then kept
    assert desk.retrying is desk.retrying
    created = desk.create(complete_referral(), actor=SYSTEM)
    assert desk.get(created.id) == created


def test_the_defaults_a_host_passed_are_kept():
    hooks = Hooks(make_plugin_manager(load_entrypoints=False))
    rules = RuleRegistry()
    desk = ReferralDesk(store=MemoryStore(), hooks=hooks, routing_rules=rules)
    assert desk.hooks is hooks
    assert desk.routing_rules is rules


def test_a_tenant_desk_shares_the_defaults_built_for_its_parent():
    desk = ReferralDesk.open("memory://")
    other = desk.for_tenant("clinic-b")
    assert other.hooks is desk.hooks
    assert other.routing_rules is desk.routing_rules


def test_threads_reading_a_default_at_once_get_one_object():
    desk = ReferralDesk.open("memory://")
    start = threading.Barrier(8)

    def read(_: int) -> int:
        start.wait()
        return id(desk.hooks)

    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = set(pool.map(read, range(8)))
    assert seen == {id(desk.hooks)}


def test_a_setting_changed_before_first_use_reaches_the_services():
    desk = ReferralDesk.open("memory://")
    other = MemoryStore()
    desk.store = other  # before any service exists
    desk.clock = ManualClock(T0)
    created = desk.create(complete_referral(), actor=SYSTEM)
    assert other.get(created.id) == created
    assert desk.history(created.id)[0].at == T0


def _type_checking_names(package: str) -> dict[str, tuple[str, str]]:
    path = SRC / package.replace(".", "/") / "__init__.py"
    names: dict[str, tuple[str, str]] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom)
                for alias in statement.names:
                    names[alias.asname or alias.name] = (str(statement.module), alias.name)
    return names


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_a_lazy_package_resolves_every_name_it_declares(package: str):
    module = importlib.import_module(package)
    declared = _type_checking_names(package)
    assert set(module.__all__) <= set(declared)
    for name, (source, original) in declared.items():
        assert getattr(module, name) is getattr(importlib.import_module(source), original)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = module.Nope


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_no_lazy_name_is_also_a_submodule(package: str):
    # Importing a submodule binds its name in the package, which would shadow a lazy export
    # of the same name for good (an eager package import binds the export last instead).
    folder = SRC / package.replace(".", "/")
    submodules = {p.stem for p in folder.glob("*.py")} | {
        p.parent.name for p in folder.glob("*/__init__.py")
    }
    assert set(_type_checking_names(package)) & submodules == set()
