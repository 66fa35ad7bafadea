"""Fragmented OTR messages (spec, "Fragmentation"): parse, split, reassemble.

Wire forms (spec, "Transmitting Fragments")::

    v3  ?OTR|<sender tag %x>|<receiver tag %x>,<k %hu>,<n %hu>,<piece>,
    v2  ?OTR,<k %hu>,<n %hu>,<piece>,

:func:`parse_fragment` is strict: the string must *be* one fragment, from its
first character to its trailing comma.  The spec says "If you receive a
message *containing* ``?OTR|``", and libotr 4.x finds the marker with
``strstr`` and reads it with ``sscanf``, so it also accepts leading text,
text after the trailing comma, whitespace or a sign before k and n, a
``0x`` before a tag, and k or n above 65535 (truncated mod 65536: ``65537``
reads as 1, ``-1`` as 65535).  We accept none of these; a harness scenario
that sends such fragments should grade a peer's acceptance as lenient, not
as wrong.  Leading zeros are accepted in any number for k and n (``%hu``
reads them, libotr writes ``%05hu``); tags are 1-8 hex digits, either case.

The receiving algorithm (:class:`Reassembler`) is the spec's, per sender
instance.  What the spec asks of the receiver before that algorithm is the
caller's job: discard a v3 fragment whose receiver tag is neither 0 nor our
own tag, and route the rest to one :class:`Reassembler` per
``(version, sender_tag)``.  A reassembled message must not be fed back into
fragment parsing ("you can't fragment a fragment").

Lengths are counted in ``str`` characters.  Encoded OTR messages are ASCII,
so for them characters and bytes agree.

This module holds no global state and does no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "MAX_FRAGMENTS",
    "MAX_REASSEMBLED_CHARS",
    "DiscardReason",
    "Fragment",
    "FragmentError",
    "Reassembler",
    "ReassemblyResult",
    "ReassemblyStatus",
    "fragment_message",
    "parse_fragment",
]

MAX_FRAGMENTS = 0xFFFF
"""k and n are unsigned shorts: "each has a maximum value of 65535"."""

MAX_REASSEMBLED_CHARS = 4 * 1024 * 1024
"""Default cap on the characters one :class:`Reassembler` stores (4 MiB).

The spec sets no limit; without one, 65535 fragments of arbitrary size make
the receiver hold an arbitrarily large message (libotr CVE-2016-2851 was
reachable only this way).  4 MiB is far above any encoded OTR message an IM
network carries.
"""

_V3_PREFIX = "?OTR|"
_V2_PREFIX = "?OTR,"
_MAX_TAG = 0xFFFFFFFF
_MAX_TAG_DIGITS = 8
_HEX_DIGITS = "0123456789abcdefABCDEF"
_SHOWN_CHARS = 16


@dataclass(frozen=True)
class Fragment:
    """One fragment: piece k of n.  For v2 both instance tags are 0.

    A value type: it may hold values a receiver must reject (k == 0, k > n,
    an empty piece) so that tests can build illegal fragments.
    """

    version: int
    sender_tag: int
    receiver_tag: int
    k: int
    n: int
    piece: str

    def encode(self) -> str:
        """The padded wire form libotr writes (``%08x`` tags, ``%05hu`` k and n).

        Raises :class:`ValueError` for what the wire form cannot carry: a
        version other than 2 or 3, v2 with instance tags, a tag outside 32
        bits, k or n outside 0..65535, a comma in the piece.
        """
        _check_version_and_tags(self.version, self.sender_tag, self.receiver_tag)
        for name, value in (("k", self.k), ("n", self.n)):
            if not 0 <= value <= MAX_FRAGMENTS:
                raise ValueError(f"{name} {value} is not an unsigned short")
        if "," in self.piece:
            raise ValueError("a fragment piece cannot contain a comma")
        if self.version == 3:
            return (
                f"?OTR|{self.sender_tag:08x}|{self.receiver_tag:08x},{self.k:05d},{self.n:05d},{self.piece},"
            )
        return f"?OTR,{self.k:05d},{self.n:05d},{self.piece},"


@dataclass(frozen=True)
class FragmentError:
    """Why a string is not a well-formed fragment, in wire terms."""

    reason: str


def _show(field: str) -> str:
    if len(field) <= _SHOWN_CHARS:
        return repr(field)
    return repr(field[:_SHOWN_CHARS]) + f"... ({len(field)} chars)"


def _parse_tag(field: str, name: str) -> int | FragmentError:
    # strip() leaves nothing exactly when every character is a hex digit (one C call per tag).
    if not 1 <= len(field) <= _MAX_TAG_DIGITS or field.strip(_HEX_DIGITS):
        return FragmentError(f"{name} instance tag {_show(field)} is not 1-8 hex digits")
    return int(field, 16)


def _parse_short(field: str, name: str) -> int | FragmentError:
    # int() alone would also take '+', '_', whitespace and non-ASCII digits,
    # and raises on more than 4300 digits; hence the explicit checks.
    if not field or not (field.isascii() and field.isdigit()):
        return FragmentError(f"{name} {_show(field)} is not a decimal number")
    significant = field.lstrip("0") or "0"
    if len(significant) > len(str(MAX_FRAGMENTS)) or int(significant) > MAX_FRAGMENTS:
        return FragmentError(f"{name} {_show(field)} exceeds 65535")
    return int(significant)


def parse_fragment(wire: str) -> Fragment | FragmentError:
    """Parse one whole fragment; never raises on any ``str``.

    Rejects: anything not starting with ``?OTR|`` or ``?OTR,``; a missing
    field separator; tags that are not 1-8 hex digits; k or n that are not
    ASCII decimal or exceed 65535; k == 0, n == 0, k > n (spec: "discard
    this (illegal) fragment"); an empty piece ("each piece[k] must be
    non-empty"); a missing trailing comma; a comma inside the piece (text
    after the fragment).
    """
    if wire.startswith(_V3_PREFIX):
        version = 3
        names: tuple[str, ...] = ("instance tags", "k", "n")
        rest = wire[len(_V3_PREFIX) :]
    elif wire.startswith(_V2_PREFIX):
        version = 2
        names = ("k", "n")
        rest = wire[len(_V2_PREFIX) :]
    else:
        return FragmentError("not a fragment: does not start with '?OTR|' or '?OTR,'")

    fields = rest.split(",", len(names))
    if len(fields) <= len(names):
        return FragmentError(f"no ',' after the {names[len(fields) - 1]} field")
    *header, tail = fields

    sender_tag = receiver_tag = 0
    if version == 3:
        tags = header.pop(0)
        sender_field, bar, receiver_field = tags.partition("|")
        if not bar:
            return FragmentError(f"no '|' between the instance tags in {_show(tags)}")
        sender = _parse_tag(sender_field, "sender")
        if isinstance(sender, FragmentError):
            return sender
        receiver = _parse_tag(receiver_field, "receiver")
        if isinstance(receiver, FragmentError):
            return receiver
        sender_tag, receiver_tag = sender, receiver

    k = _parse_short(header[0], "k")
    if isinstance(k, FragmentError):
        return k
    n = _parse_short(header[1], "n")
    if isinstance(n, FragmentError):
        return n

    if not tail.endswith(","):
        return FragmentError("missing trailing comma after the piece")
    piece = tail[:-1]
    if "," in piece:
        return FragmentError("piece contains a comma (text after the fragment?)")
    if not piece:
        return FragmentError("empty piece")

    if k == 0:
        return FragmentError("k 0 is illegal")
    if n == 0:
        return FragmentError("n 0 is illegal")
    if k > n:
        return FragmentError(f"k {k} exceeds n {n}")
    return Fragment(version, sender_tag, receiver_tag, k, n, piece)


def _check_version_and_tags(version: int, sender_tag: int, receiver_tag: int) -> None:
    if version not in (2, 3):
        raise ValueError(f"fragments exist in OTR versions 2 and 3, not {version}")
    if version == 2 and (sender_tag or receiver_tag):
        raise ValueError("v2 fragments carry no instance tags; pass 0")
    for name, tag in (("sender", sender_tag), ("receiver", receiver_tag)):
        if not 0 <= tag <= _MAX_TAG:
            raise ValueError(f"{name} instance tag {tag} does not fit in 32 bits")


def fragment_message(
    encoded: str, max_size: int, version: int, sender_tag: int, receiver_tag: int
) -> list[str]:
    """Split ``encoded`` into padded fragments of at most ``max_size`` characters each.

    A message that already fits is returned alone and unchanged.  Otherwise
    pieces are cut greedily (every piece full but the last, as libotr does),
    all non-empty, and the padded header has a fixed width (36 characters
    for v3, 18 for v2), so every fragment fits.

    Raises :class:`ValueError` on caller misuse: ``max_size`` < 1 or too
    small to carry one piece character, more than 65535 fragments needed, a
    comma in a message that needs fragmenting (encoded OTR messages never
    contain one), or an invalid version or tag (see :meth:`Fragment.encode`).
    """
    _check_version_and_tags(version, sender_tag, receiver_tag)
    if max_size < 1:
        raise ValueError(f"max_size {max_size} is not positive")
    if len(encoded) <= max_size:
        return [encoded]
    if "," in encoded:
        raise ValueError("a message containing ',' cannot be fragmented")
    header_len = len(Fragment(version, sender_tag, receiver_tag, 0, 0, "").encode())
    room = max_size - header_len
    if room < 1:
        raise ValueError(
            f"max_size {max_size} leaves no room for a piece after the {header_len}-character header"
        )
    n = -(-len(encoded) // room)
    if n > MAX_FRAGMENTS:
        raise ValueError(f"{n} fragments would be needed; at most {MAX_FRAGMENTS} are possible")
    return [
        Fragment(version, sender_tag, receiver_tag, k, n, encoded[(k - 1) * room : k * room]).encode()
        for k in range(1, n + 1)
    ]


class ReassemblyStatus(enum.Enum):
    COMPLETE = "complete"
    STORED = "stored"
    DISCARDED = "discarded"


class DiscardReason(enum.StrEnum):
    ILLEGAL = "illegal k/n"
    """k == 0, n == 0, k > n (spec) or n > 65535 (not on the wire); stored state kept."""
    OUT_OF_ORDER = "out of order"
    """The spec's "Otherwise" branch: the stored fragment, if any, is forgotten."""
    CAP_EXCEEDED = "cap exceeded"
    """Storing the piece would pass the cap: the stored fragment is forgotten, nothing stored."""


@dataclass(frozen=True)
class ReassemblyResult:
    """What one :meth:`Reassembler.feed` did.

    ``message`` is set exactly when ``status`` is COMPLETE, ``reason`` exactly
    when it is DISCARDED.  ``forgot`` counts the stored pieces this call threw
    away without completing them (a restart with k == 1, an out-of-order
    fragment, the cap), so a caller can report the loss.
    """

    status: ReassemblyStatus
    message: str | None = None
    reason: DiscardReason | None = None
    detail: str = ""
    forgot: int = 0


class Reassembler:
    """The spec's "Receiving Fragments" state (K, N, F) for one sender instance.

    Rules, in the spec's order, for a fragment (k, n, piece):

    * k == 0, n == 0 or k > n (or n > 65535, which the wire cannot carry):
      discard it.  The spec does not say to forget F, and libotr keeps it,
      so (K, N, F) are unchanged.
    * k == 1: forget F; F = piece, (K, N) = (k, n).
    * n == N and k == K + 1: append piece to F; (K, N) = (k, n).
    * otherwise: forget F; (K, N) = (0, 0).  A repeat of the last stored
      fragment lands here and resets (unless it is k == 1, which restarts).
    * then, if N > 0 and K == N: F is the received message; reset.

    Memory invariant: the stored pieces hold at most ``max_chars``
    characters in total and number K <= N <= 65535, so one reassembler holds
    O(max_chars) characters plus at most 65535 references, whatever it is
    fed.  Pieces are kept in a list and joined once, at completion.
    """

    def __init__(self, max_chars: int = MAX_REASSEMBLED_CHARS) -> None:
        if max_chars < 1:
            raise ValueError(f"max_chars {max_chars} is not positive")
        self._max_chars = max_chars
        self._k = 0
        self._n = 0
        self._pieces: list[str] = []
        self._stored_chars = 0

    @property
    def max_chars(self) -> int:
        return self._max_chars

    @property
    def pending(self) -> tuple[int, int, int]:
        """(K, N, characters stored); (0, 0, 0) when nothing is stored."""
        return (self._k, self._n, self._stored_chars)

    def forget(self) -> None:
        """Drop any stored fragment.

        Spec: "If you receive a non-OTR message, or an unfragmented message,
        forget any stored fragment you may have."
        """
        self._k = 0
        self._n = 0
        self._pieces = []
        self._stored_chars = 0

    def feed(self, fragment: Fragment) -> ReassemblyResult:
        k, n, piece = fragment.k, fragment.n, fragment.piece
        if not 1 <= k <= n <= MAX_FRAGMENTS:
            return ReassemblyResult(
                ReassemblyStatus.DISCARDED,
                reason=DiscardReason.ILLEGAL,
                detail=f"k {k}, n {n}; stored state kept",
            )

        forgot = 0
        if k == 1:
            forgot = len(self._pieces)
            self.forget()
            if len(piece) > self._max_chars:
                return self._cap_exceeded(len(piece), forgot)
            self._pieces.append(piece)
            self._stored_chars = len(piece)
            self._k, self._n = k, n
        elif n == self._n and k == self._k + 1:
            total = self._stored_chars + len(piece)
            if total > self._max_chars:
                forgot = len(self._pieces)
                self.forget()
                return self._cap_exceeded(total, forgot)
            self._pieces.append(piece)
            self._stored_chars = total
            self._k = k
        else:
            detail = f"k {k}, n {n} does not follow stored K {self._k}, N {self._n}"
            forgot = len(self._pieces)
            self.forget()
            return ReassemblyResult(
                ReassemblyStatus.DISCARDED, reason=DiscardReason.OUT_OF_ORDER, detail=detail, forgot=forgot
            )

        if self._n > 0 and self._k == self._n:
            message = "".join(self._pieces)
            self.forget()
            return ReassemblyResult(ReassemblyStatus.COMPLETE, message=message, forgot=forgot)
        return ReassemblyResult(ReassemblyStatus.STORED, forgot=forgot)

    def _cap_exceeded(self, total: int, forgot: int) -> ReassemblyResult:
        return ReassemblyResult(
            ReassemblyStatus.DISCARDED,
            reason=DiscardReason.CAP_EXCEEDED,
            detail=f"{total} characters would pass the {self._max_chars}-character cap",
            forgot=forgot,
        )
