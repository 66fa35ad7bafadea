"""libotr's private-key and instance-tag files, written from our own values.

Private keys (read by ``otrl_privkey_read``, privkey.c) are one libgcrypt
S-expression in "advanced" format, laid out as libotr itself writes it::

    (privkeys
     (account
      (name "alice@example.org")
      (protocol "prpl-jabber")
      (private-key
       (dsa
        (p #00E4...#)
        (q #00D1...#)
        (g #501B...#)
        (y #7C9C...#)
        (x #2C58...#)
        )
       )
      )
     )

MPIs are ``#hex#`` in libgcrypt's standard (two's complement) encoding, as
``gcry_sexp_sprint`` writes them: minimal big-endian bytes, with one ``00``
byte prepended when the top bit is set.  libotr reads them back unsigned
(``GCRYMPI_FMT_USG``, also libgcrypt's default for DSA parameters), so the
``00`` changes nothing for libotr, but keeps the file what libotr and
libgcrypt would write and unambiguous for a reader that parses signed MPIs.
The fingerprint libotr shows is SHA-1 over the *minimal* encodings of p, q,
g, y, whatever the file holds.

Names are quoted strings when they are printable ASCII, hex otherwise.
``otrl_privkey_read`` first forgets every key of the userstate, so one file
holds all of a userstate's keys.

Instance tags (``otrl_instag_read``, instag.c) are lines
``account<TAB>protocol<TAB>%08x``; a line without tabs is ignored, a tag
below 0x100 is dropped, and every line must end in a newline.  Unlike keys,
reading adds to the tags already known and the last one read for an
account wins, so tags can be set (and replaced) without touching the keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from implementations.api import DsaKey

__all__ = ["instag_bytes", "mpi_hex", "privkey_sexp", "write_instag_file", "write_privkey_file"]

MIN_INSTAG = 0x100  # OTRL_MIN_VALID_INSTAG; 0-4 are libotr's meta tags
MAX_INSTAG = 0xFFFFFFFF
# instag.c reads lines with fgets() into a 1000-byte buffer; a longer line would be split and misread.
MAX_INSTAG_LINE = 998

Name = str | bytes


def mpi_hex(value: int) -> str:
    """``#HEX#``: ``value`` in libgcrypt's standard MPI encoding (a 00 byte before a set top bit)."""
    if value < 0:
        raise ValueError("MPIs in an OTR key are non-negative")
    # bit_length // 8 + 1 bytes is one byte more than minimal exactly when the top bit is set.
    body = value.to_bytes(value.bit_length() // 8 + 1, "big") if value else b""
    return "#" + body.hex().upper() + "#"


def _atom(value: Name) -> str:
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if all(0x20 <= b < 0x7F for b in data):
        return '"' + data.decode("ascii").replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "#" + data.hex().upper() + "#"


def privkey_sexp(entries: Iterable[tuple[Name, Name, DsaKey]]) -> str:
    """The text of a libotr private-key file holding ``(account, protocol, key)`` entries."""
    lines = ["(privkeys"]
    seen: set[tuple[bytes, bytes]] = set()
    for account, protocol, key in entries:
        if key.x is None:
            raise ValueError(f"the key for {account!r}/{protocol!r} has no private part x")
        ident = (_raw(account), _raw(protocol))
        if ident in seen:
            raise ValueError(f"two keys for {account!r}/{protocol!r}: libotr would use only the last")
        seen.add(ident)
        lines += [
            " (account",
            f"  (name {_atom(account)})",
            f"  (protocol {_atom(protocol)})",
            "  (private-key",
            "   (dsa",
            *(f"    ({label} {mpi_hex(v)})" for label, v in _dsa_fields(key)),
            "    )",
            "   )",
            "  )",
        ]
    lines.append(" )")
    return "\n".join(lines) + "\n"


def write_privkey_file(path: str | os.PathLike[str], entries: Iterable[tuple[Name, Name, DsaKey]]) -> Path:
    """Write a libotr private-key file (mode 0600) for ``otrl_privkey_read``; returns its path."""
    text = privkey_sexp(entries)
    return _write(Path(path), text.encode("ascii"), 0o600)


def instag_bytes(entries: Iterable[tuple[Name, Name, int]]) -> bytes:
    """The content of a libotr instance-tag file holding ``(account, protocol, instag)`` entries."""
    lines = [b"otrcheck instance tags: account, protocol, tag (a line without tabs is ignored)"]
    seen: set[tuple[bytes, bytes]] = set()
    for account, protocol, instag in entries:
        raw_account, raw_protocol = _raw(account), _raw(protocol)
        for label, raw in (("account", raw_account), ("protocol", raw_protocol)):
            if any(c in raw for c in b"\t\r\n\0"):
                raise ValueError(
                    f"{label} {raw!r} holds a tab, line break or NUL, which instag.c cannot read"
                )
        if not MIN_INSTAG <= instag <= MAX_INSTAG:
            raise ValueError(f"instance tag {instag:#x} is outside {MIN_INSTAG:#x}..{MAX_INSTAG:#x}")
        if (raw_account, raw_protocol) in seen:
            raise ValueError(f"two instance tags for {account!r}/{protocol!r}")
        seen.add((raw_account, raw_protocol))
        line = b"%s\t%s\t%08x" % (raw_account, raw_protocol, instag)
        if len(line) > MAX_INSTAG_LINE:
            raise ValueError(
                f"the line for {account!r}/{protocol!r} exceeds instag.c's {MAX_INSTAG_LINE} bytes"
            )
        lines.append(line)
    return b"\n".join(lines) + b"\n"


def write_instag_file(path: str | os.PathLike[str], entries: Iterable[tuple[Name, Name, int]]) -> Path:
    """Write a libotr instance-tag file for ``otrl_instag_read``; returns its path."""
    return _write(Path(path), instag_bytes(entries), 0o600)


def _dsa_fields(key: DsaKey) -> list[tuple[str, int]]:
    assert key.x is not None
    return [("p", key.p), ("q", key.q), ("g", key.g), ("y", key.y), ("x", key.x)]


def _raw(value: Name) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _write(path: Path, data: bytes, mode: int) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path
