"""Model-based test: every transition the engine makes is one the spec's tables allow.

The engine x engine machine of ``machines.py`` runs with a reference model
(``model.py``, written from the spec, independent of the engine's code)
beside it.  Before every input to a side (a user action or a delivered
message) the side's observed (authstate, msgstate, smpstate) must equal the
model's; after it, the observed state, the messages sent (their kinds, and
for a retransmission the very values sent before) and what the user was shown
must match one of the outcomes the model predicts.  The model labels what was
sent, so a later Reveal Signature, Signature or Data Message is judged by the
AKE or session it really belongs to.

The engine is observed through its session with the peer's instance
(:func:`~tests.stateful.machines.engine_view`): in v3 the spec's per
correspondent state lives in the instance, which ``status`` does not show
before the session is private.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis.stateful import run_state_machine_as_test

from implementations.api import (
    ErrorRaised,
    Event,
    MessageReceived,
    RemoteErrorReceived,
    Result,
    SessionFinished,
    SessionInsecure,
    SessionSecured,
    SmpUpdated,
)
from tests.stateful import model, wire
from tests.stateful.conftest import profile
from tests.stateful.machines import (
    SIDES,
    TAGS,
    InvariantViolated,
    OtrMachine,
    Packet,
    machine_for,
    run_timed,
)

CHECKED_ERRORS = frozenset({"held", "not_private", "smp", "unencrypted"})

def summary(events: list[Event]) -> list[tuple[object, ...]]:
    """The events the model predicts, in order."""
    out: list[tuple[object, ...]] = []
    for e in events:
        if isinstance(e, MessageReceived):
            out.append(("message", e.text, e.encrypted))
        elif isinstance(e, SessionSecured):
            out.append(("secure", e.refreshed))
        elif isinstance(e, SessionFinished):
            out.append(("finished",))
        elif isinstance(e, SessionInsecure):
            out.append(("insecure",))
        elif isinstance(e, SmpUpdated):
            out.append(("smp", e.result))
        elif isinstance(e, RemoteErrorReceived):
            out.append(("remote_error",))
        elif isinstance(e, ErrorRaised) and e.code in CHECKED_ERRORS:
            out.append(("error", e.code))
    return out


class ModelChecked(OtrMachine):
    """The engine x engine machine, checked against :class:`model.Model` after every input."""

    world: model.World
    _pending: tuple[str, tuple[str, str, str], list[model.Prediction], str] | None = None

    def after_setup(self) -> None:
        sides = {}
        for name in SIDES:
            p = self.sides[name].policy
            policy = model.Policy(
                frozenset(p.allowed_versions()),
                p.require_encryption,
                p.send_whitespace_tag,
                p.whitespace_start_ake,
                p.error_start_ake,
            )
            sides[name] = model.Side(name, policy, TAGS[name], TAGS[self.other(name)])
        self.world = model.World(sides)

    def before_input(self, name: str, op: str, args: tuple[Any, ...], packet: Packet | None) -> None:
        observed = self.observe(name)
        expected = self.world.sides[name].triple
        if observed != expected:
            raise InvariantViolated(
                "model_agrees_with_engine", f"{name} is in {observed}, the model says {expected}"
            )
        m = model.Model(self.world)
        if op == "receive":
            assert packet is not None
            delivery = model.Delivery(packet.wire, packet.label, packet.origin, packet.tampered)
            predictions, what = m.receive(name, delivery), f"receive {packet!r}"
        elif op == "send":
            predictions, what = m.send_text(name, args[0]), f"send {args[0]!r}"
        elif op in ("smp_start", "smp_respond"):
            predictions, what = getattr(m, op)(name, args[0]), f"{op} {args[0]!r}"
        else:
            predictions, what = getattr(m, op)(name), op
        self._pending = (name, observed, predictions, what)

    def after_input(
        self,
        name: str,
        op: str,
        args: tuple[Any, ...],
        packet: Packet | None,
        result: Result,
        sent: list[Packet],
    ) -> list[Packet]:
        assert self._pending is not None and self._pending[0] == name
        _, before, predictions, what = self._pending
        self._pending = None
        observed = self.observe(name)
        shown = summary(result.events)
        peeks = [wire.peek(p.wire) for p in sent]
        reasons = []
        for prediction in predictions:
            predicted = prediction.world.sides[name].triple
            if prediction.free:
                if observed == before:
                    return sent
                reasons.append(f"{prediction.note}: state changed to {observed}")
                continue
            if observed != predicted:
                reasons.append(f"state {observed}, model {predicted}")
                continue
            if shown != prediction.events:
                reasons.append(f"shown {shown}, model {prediction.events}")
                continue
            problem = model.Model.bind(prediction, name, peeks)
            if problem:
                reasons.append(problem)
                continue
            self.world = prediction.world
            labelled = []
            for packet_out, emit in zip(sent, prediction.emits, strict=True):
                new = replace(packet_out, label=emit.label)
                self.in_flight[self.in_flight.index(packet_out)] = new
                labelled.append(new)
            return labelled
        raise InvariantViolated(
            "model_agrees_with_engine",
            f"{name} in {before}, input {what}: " + "; ".join(reasons) + f" (sent {[p.kind for p in peeks]})",
        )


def test_the_engine_makes_only_the_transitions_the_spec_allows() -> None:
    machine = machine_for("engine-engine", base=ModelChecked)
    run_timed("ModelChecked engine-engine", lambda: run_state_machine_as_test(machine, settings=profile()))
