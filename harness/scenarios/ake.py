"""The AKE: who starts it, in which version, and the simultaneous start."""

from __future__ import annotations

from dataclasses import replace

from harness.scenarios import roles, scenario
from harness.script import ExpectationFailed, Role, Script
from implementations.api import Policy

V2_ONLY = Policy(allow_v2=True, allow_v3=False)


@scenario("ake/v3-basic", needs=("v3",))
def v3_basic(s: Script) -> None:
    """A query from alice leads to a v3 session with the same ssid on both sides."""
    s.alice.query()
    s.deliver()
    s.expect_private(version=3)


@scenario("ake/v2-basic", needs=("v2",), cast=roles(alice=V2_ONLY, bob=V2_ONLY))
def v2_basic(s: Script) -> None:
    """With v2 allowed only, a query leads to a v2 session."""
    s.alice.query()
    s.deliver()
    s.expect_private(version=2)


@scenario("ake/bob-starts", needs=("v3",))
def bob_starts(s: Script) -> None:
    """The other side's query works the same way."""
    s.bob.query()
    s.deliver()
    s.expect_private(version=3)


@scenario("ake/simultaneous-start", needs=("v3",))
def simultaneous_start(s: Script) -> None:
    """Both query at once; the crossed D-H Commits are resolved by the hashed-gx tie-break."""
    s.alice.query()
    s.bob.query()
    s.deliver()
    s.expect_private(version=3)


def _biased(higher: str, alice: Policy, bob: Policy) -> tuple[tuple[str, Role], ...]:
    """alice and bob with the engine's x-commit-hash hook, so the tie-break winner is known in advance.

    Implementations without the hook ignore it; their hash is then random, and the
    cell still has one outcome because an engine on the other side holds an extreme.
    """
    cast = []
    for side, role in roles(alice, bob):
        bias = "high" if role.name == higher else "low"
        cast.append((side, replace(role, hooks=(("x-commit-hash", bias),))))
    return tuple(cast)


for _version, _policy in ((3, Policy()), (2, V2_ONLY)):
    for _higher in ("alice", "bob"):

        def _run(s: Script, version: int = _version) -> None:
            s.alice.query()
            s.bob.query()
            s.deliver()
            s.expect_private(version=version)

        _prefix = "" if _version == 3 else "v2-"
        _run.__doc__ = (
            f"Both query at once in v{_version} and {_higher}'s hashed gx is the higher: "
            f"{_higher}'s commit survives the tie-break."
        )
        scenario(f"ake/{_prefix}simultaneous-start-{_higher}-higher", needs=(f"v{_version}",),
                 cast=_biased(_higher, _policy, _policy))(_run)  # fmt: skip


@scenario("ake/refresh", needs=("v3",))
def refresh(s: Script) -> None:
    """A second AKE while private gives a new ssid; messages still flow."""
    s.alice.query()
    s.deliver()
    first = s.expect_private(version=3)
    s.bob.query()
    s.deliver()
    second = s.expect_private(version=3)
    if first == second:
        raise ExpectationFailed("the refreshed session kept the old ssid")
    s.alice.send("after refresh")
    s.deliver()
    s.bob.sees("message", text="after refresh", encrypted=True)
