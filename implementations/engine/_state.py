"""The message state machine (spec: "The protocol state machine", msgstate).

Every transition is a row of :data:`MSG_TRANSITIONS`; the session looks the
row up, runs its effect and asserts the state the effect chose is listed.
Inputs that cannot occur in a state (there are none for msgstate: every
pair is defined by the spec) would be ignored with a reason.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class MsgState(enum.Enum):
    PLAINTEXT = "plaintext"
    ENCRYPTED = "encrypted"
    FINISHED = "finished"


class MsgInput(enum.Enum):
    SEND_TEXT = "send_text"
    SEND_END = "send_end"
    RECV_PLAINTEXT = "recv_plaintext"
    RECV_DATA = "recv_data"
    AKE_COMPLETED = "ake_completed"


@dataclass(frozen=True)
class Transition:
    effect: str
    next_states: frozenset[MsgState]
    spec: str = ""


M = MsgState
In = MsgInput


def _row(effect: str, *next_states: MsgState, spec: str = "") -> Transition:
    return Transition(effect, frozenset(next_states), spec)


MSG_TRANSITIONS: dict[tuple[MsgState, MsgInput], Transition] = {
    (M.PLAINTEXT, In.SEND_TEXT): _row(
        "send_plaintext",
        M.PLAINTEXT,
        spec="If REQUIRE_ENCRYPTION is set: store the plaintext message ... and send a Query Message. "
        "Otherwise (possibly whitespace-tagged) send the message as plaintext.",
    ),
    (M.ENCRYPTED, In.SEND_TEXT): _row("send_data", M.ENCRYPTED),
    (M.FINISHED, In.SEND_TEXT): _row(
        "refuse_text", M.FINISHED, spec="Inform the user that the message cannot be sent at this time."
    ),
    (M.PLAINTEXT, In.SEND_END): _row("nothing", M.PLAINTEXT, spec="Do nothing."),
    (M.ENCRYPTED, In.SEND_END): _row(
        "send_disconnect",
        M.PLAINTEXT,
        spec="Send a Data Message ... with TLV type 1. Transition to PLAINTEXT.",
    ),
    (M.FINISHED, In.SEND_END): _row("leave_finished", M.PLAINTEXT),
    (M.PLAINTEXT, In.RECV_PLAINTEXT): _row(
        "display_plaintext",
        M.PLAINTEXT,
        spec="If REQUIRE_ENCRYPTION is set, warn him that it was received unencrypted",
    ),
    (M.ENCRYPTED, In.RECV_PLAINTEXT): _row("display_plaintext", M.ENCRYPTED, spec="warn him ... unencrypted"),
    (M.FINISHED, In.RECV_PLAINTEXT): _row("display_plaintext", M.FINISHED, spec="warn him ... unencrypted"),
    (M.ENCRYPTED, In.RECV_DATA): _row(
        "decrypt",
        M.ENCRYPTED,
        M.FINISHED,
        spec="If the received message contains a TLV type 1, forget all encryption keys ... "
        "and transition msgstate to MSGSTATE_FINISHED.",
    ),
    (M.PLAINTEXT, In.RECV_DATA): _row("unreadable", M.PLAINTEXT, spec="reply with an Error Message"),
    (M.FINISHED, In.RECV_DATA): _row("unreadable", M.FINISHED, spec="reply with an Error Message"),
    **{(state, In.AKE_COMPLETED): _row("go_encrypted", M.ENCRYPTED) for state in MsgState},
}


class _Row(Protocol):
    @property
    def effect(self) -> str: ...

    @property
    def next_states(self) -> frozenset[Any]: ...


def declaration_order(key: tuple[enum.Enum, enum.Enum]) -> tuple[int, int]:
    """Sort (state, input) keys as their enums declare them, whatever order a dict holds them in."""
    state, event = key
    return list(type(state).__members__.values()).index(state), list(type(event).__members__.values()).index(
        event
    )


def mermaid_diagram(initial: enum.Enum, table: Mapping[tuple[Any, Any], _Row]) -> str:
    """A Mermaid ``stateDiagram-v2``: one edge per (state, input, next state) of a transition table."""
    lines = ["stateDiagram-v2", f"    [*] --> {initial.name}"]
    for (state, event), row in sorted(table.items(), key=lambda kv: declaration_order(kv[0])):
        for nxt in sorted(row.next_states, key=lambda s: s.name):
            lines.append(f"    {state.name} --> {nxt.name}: {event.name} / {row.effect}")
    return "\n".join(lines) + "\n"


def diagram() -> str:
    """The msgstate machine, drawn from :data:`MSG_TRANSITIONS`."""
    return mermaid_diagram(MsgState.PLAINTEXT, MSG_TRANSITIONS)
