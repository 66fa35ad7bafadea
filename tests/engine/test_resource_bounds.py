"""Memory the network can make the engine hold is bounded, and floods do not break a live session."""

from __future__ import annotations

from harness.conversation import Duo
from implementations.api import MessageReceived
from implementations.engine import EngineAdapter
from implementations.engine._engine import MAX_INSTANCES
from implementations.engine._fragments import MAX_REASSEMBLED_CHARS


def established() -> Duo:
    duo = Duo.create(EngineAdapter)
    duo.act("alice", "query")
    duo.flush()
    return duo


def test_a_flood_of_invented_sender_tags_keeps_at_most_max_instances_and_the_session_works() -> None:
    duo = established()
    bob = duo.b.adapter
    assert isinstance(bob, EngineAdapter)
    conv = bob.engine.conversation("alice")
    for tag in range(0x1000, 0x1000 + 2_000):
        piece = "A" * 1000
        result = bob.receive("alice", f"?OTR|{tag:08x}|{0x101:08x},00001,00002,{piece},")
        assert all(e.type == "error" for e in result.events)
        assert len(conv.instances) <= MAX_INSTANCES
    stored = sum(s.reassembler.pending[2] for s in conv.sessions())
    assert stored <= MAX_INSTANCES * MAX_REASSEMBLED_CHARS
    duo.sides["bob"].events.clear()
    duo.act("alice", "send", "still there?")
    duo.flush()
    assert [e.text for e in duo.b.events if isinstance(e, MessageReceived)] == ["still there?"]
    duo.act("bob", "send", "yes")
    duo.flush()
    assert [e.text for e in duo.a.events if isinstance(e, MessageReceived)] == ["yes"]


def test_private_instances_are_never_evicted_and_new_ones_are_refused_when_all_are_private() -> None:
    duo = established()
    bob = duo.b.adapter
    assert isinstance(bob, EngineAdapter)
    conv = bob.engine.conversation("alice")
    private = next(iter(conv.instances.values()))
    for tag in range(0x2000, 0x2000 + 3 * MAX_INSTANCES):
        bob.receive("alice", f"?OTR|{tag:08x}|{0x101:08x},00001,00002,x,")
    assert private in conv.instances.values()
    for session in conv.instances.values():  # pretend every slot is private
        session.msgstate = private.msgstate
    result = bob.receive("alice", f"?OTR|{0x9999:08x}|{0x101:08x},00001,00002,x,")
    assert [(e.type, e.code) for e in result.events] == [("error", "ignored")]  # type: ignore[attr-defined]
    assert 0x9999 not in conv.instances
