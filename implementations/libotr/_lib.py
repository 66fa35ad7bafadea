"""ctypes declarations for libotr 4.1.1 (x86-64 Linux, LP64), checked against its headers.

Every struct lists all the fields that precede the ones the adapter reads, so
that the offsets come out as the C compiler's.  ``tests/libotr/test_layout.py``
compiles against the 4.1.1 headers and compares everything declared here:
struct sizes, field offsets, sizes and signedness, enumerators and constants,
and the parameter and return types of every prototype and callback.
Comments name the header.

Conventions:

* Strings libotr *returns* and the caller must free are ``c_void_p``: copy
  with :func:`ctypes.string_at`, then release (:meth:`Lib.take_message` for
  ``otrl_message_*`` results, :meth:`Lib.take_malloced` for those documented
  as ``free()``).  Inputs are ``c_char_p``.
* Callbacks returning ``const char *`` return ``c_void_p``: the address of a
  buffer the application keeps alive until the matching ``*_free`` callback,
  which receives that address back as ``c_void_p``.
* libgcrypt handles (``gcry_mpi_t``, ``gcry_sexp_t``, ``gcry_cipher_hd_t``,
  ``gcry_md_hd_t``) are opaque ``c_void_p``; ``gcry_error_t`` is ``c_uint``;
  enums are :data:`c_enum` (``unsigned int``: gcc's type for an enum without
  negative enumerators) or ``c_int`` (OtrlSMProgState), with an
  :class:`IntEnum` here for their values.

:func:`load` returns a :class:`Lib` and calls ``otrl_init(4, 1, 1)`` once per
process.  Debian's build skips the API-version check in ``otrl_init`` (it
returns 0 for any version), so :func:`load` checks ``otrl_version()`` and the
exported ``otrl_api_version`` itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_long,
    c_size_t,
    c_ubyte,
    c_uint,
    c_ushort,
    c_void_p,
)
from enum import IntEnum
from typing import Any

__all__ = [
    "ADD_APP_DATA",
    "API_VERSION",
    "CALLBACKS",
    "CALLBACK_TYPES",
    "OTRL_EXTRAKEY_BYTES",
    "OTRL_MIN_VALID_INSTAG",
    "OTRL_PRIVKEY_FPRINT_HUMAN_LEN",
    "PROTOTYPES",
    "VERSION",
    "ConnContext",
    "DH_keypair",
    "Fingerprint",
    "Lib",
    "LibotrError",
    "NextExpectedSMP",
    "OtrOffer",
    "OtrlAuthInfo",
    "OtrlAuthState",
    "OtrlConvertType",
    "OtrlErrorCode",
    "OtrlFragmentPolicy",
    "OtrlFragmentResult",
    "OtrlInsTag",
    "OtrlInstag",
    "OtrlMessageAppOps",
    "OtrlMessageEvent",
    "OtrlMessageState",
    "OtrlMessageType",
    "OtrlNotifyLevel",
    "OtrlPolicy",
    "OtrlPrivKey",
    "OtrlSMPEvent",
    "OtrlSMProgState",
    "OtrlSMState",
    "OtrlSessionIdHalf",
    "OtrlTLV",
    "OtrlTLVType",
    "OtrlUserStateStruct",
    "load",
]

API_VERSION = (4, 1, 1)
VERSION = "4.1.1"

OTRL_EXTRAKEY_BYTES = 32  # dh.h
OTRL_PRIVKEY_FPRINT_HUMAN_LEN = 45  # privkey.h: "XXXXXXXX XXXXXXXX XXXXXXXX XXXXXXXX XXXXXXXX\0"
OTRL_MIN_VALID_INSTAG = 0x100  # instag.h
OTRL_MSGFLAGS_IGNORE_UNREADABLE = 0x01  # proto.h
OTRL_PUBKEY_TYPE_DSA = 0x0000  # privkey-t.h
OTR_ERROR_PREFIX = b"?OTR Error: "  # message.h

gcry_error_t = c_uint  # gpg_error_t: unsigned int
otrl_instag_t = c_uint  # instag.h
time_t = c_long  # LP64 Linux
c_enum = c_uint  # an enum whose enumerators are all non-negative: unsigned int under gcc (x86-64 psABI)
_gcry_handle = c_void_p  # gcry_mpi_t, gcry_sexp_t, gcry_cipher_hd_t, gcry_md_hd_t: pointers to opaque structs


# ------------------------------------------------------------------ enums and flags


class OtrlMessageState(IntEnum):  # context.h
    PLAINTEXT = 0
    ENCRYPTED = 1
    FINISHED = 2


class OtrlAuthState(IntEnum):  # auth.h
    NONE = 0
    AWAITING_DHKEY = 1
    AWAITING_REVEALSIG = 2
    AWAITING_SIG = 3
    V1_SETUP = 4


class NextExpectedSMP(IntEnum):  # sm.h
    EXPECT1 = 0
    EXPECT2 = 1
    EXPECT3 = 2
    EXPECT4 = 3
    EXPECT5 = 4


class OtrlSMProgState(IntEnum):  # sm.h
    OK = 0
    CHEATED = -2
    FAILED = -1
    SUCCEEDED = 1


class OtrlSessionIdHalf(IntEnum):  # dh.h
    FIRST_HALF_BOLD = 0
    SECOND_HALF_BOLD = 1


class OtrOffer(IntEnum):  # context.h: the anonymous enum of ConnContext.otr_offer
    NOT = 0
    SENT = 1
    REJECTED = 2
    ACCEPTED = 3


class OtrlErrorCode(IntEnum):  # message.h
    NONE = 0
    ENCRYPTION_ERROR = 1
    MSG_NOT_IN_PRIVATE = 2
    MSG_UNREADABLE = 3
    MSG_MALFORMED = 4


class OtrlSMPEvent(IntEnum):  # message.h
    NONE = 0
    ERROR = 1
    ABORT = 2
    CHEATED = 3
    ASK_FOR_ANSWER = 4
    ASK_FOR_SECRET = 5
    IN_PROGRESS = 6
    SUCCESS = 7
    FAILURE = 8


class OtrlMessageEvent(IntEnum):  # message.h
    NONE = 0
    ENCRYPTION_REQUIRED = 1
    ENCRYPTION_ERROR = 2
    CONNECTION_ENDED = 3
    SETUP_ERROR = 4
    MSG_REFLECTED = 5
    MSG_RESENT = 6
    RCVDMSG_NOT_IN_PRIVATE = 7
    RCVDMSG_UNREADABLE = 8
    RCVDMSG_MALFORMED = 9
    LOG_HEARTBEAT_RCVD = 10
    LOG_HEARTBEAT_SENT = 11
    RCVDMSG_GENERAL_ERR = 12
    RCVDMSG_UNENCRYPTED = 13
    RCVDMSG_UNRECOGNIZED = 14
    RCVDMSG_FOR_OTHER_INSTANCE = 15


class OtrlNotifyLevel(IntEnum):  # message.h
    ERROR = 0
    WARNING = 1
    INFO = 2


class OtrlConvertType(IntEnum):  # message.h
    SENDING = 0
    RECEIVING = 1


class OtrlMessageType(IntEnum):  # proto.h
    NOTOTR = 0
    TAGGEDPLAINTEXT = 1
    QUERY = 2
    DH_COMMIT = 3
    DH_KEY = 4
    REVEALSIG = 5
    SIGNATURE = 6
    V1_KEYEXCH = 7
    DATA = 8
    ERROR = 9
    UNKNOWN = 10


class OtrlFragmentResult(IntEnum):  # proto.h
    UNFRAGMENTED = 0
    INCOMPLETE = 1
    COMPLETE = 2


class OtrlFragmentPolicy(IntEnum):  # proto.h
    SEND_SKIP = 0  # return the message to the caller, inject nothing
    SEND_ALL = 1
    SEND_ALL_BUT_FIRST = 2
    SEND_ALL_BUT_LAST = 3


class OtrlInstag(IntEnum):  # instag.h: meta instance tags, below OTRL_MIN_VALID_INSTAG
    MASTER = 0
    BEST = 1
    RECENT = 2
    RECENT_RECEIVED = 3
    RECENT_SENT = 4


class OtrlPolicy:  # proto.h: OtrlPolicy is unsigned int
    ALLOW_V1 = 0x01
    ALLOW_V2 = 0x02
    ALLOW_V3 = 0x04
    REQUIRE_ENCRYPTION = 0x08
    SEND_WHITESPACE_TAG = 0x10
    WHITESPACE_START_AKE = 0x20
    ERROR_START_AKE = 0x40
    VERSION_MASK = ALLOW_V1 | ALLOW_V2 | ALLOW_V3
    NEVER = 0x00
    OPPORTUNISTIC = ALLOW_V2 | ALLOW_V3 | SEND_WHITESPACE_TAG | WHITESPACE_START_AKE | ERROR_START_AKE
    MANUAL = ALLOW_V2 | ALLOW_V3
    ALWAYS = ALLOW_V2 | ALLOW_V3 | REQUIRE_ENCRYPTION | WHITESPACE_START_AKE | ERROR_START_AKE
    DEFAULT = OPPORTUNISTIC


class OtrlTLVType(IntEnum):  # tlv.h
    PADDING = 0x0000
    DISCONNECTED = 0x0001
    SMP1 = 0x0002
    SMP2 = 0x0003
    SMP3 = 0x0004
    SMP4 = 0x0005
    SMP_ABORT = 0x0006
    SMP1Q = 0x0007
    SYMKEY = 0x0008


# ------------------------------------------------------------------ structs


class DH_keypair(Structure):  # dh.h
    _fields_ = [
        ("groupid", c_uint),
        ("priv", _gcry_handle),
        ("pub", _gcry_handle),
    ]


class ConnContext(Structure):  # context.h: struct context; fields below, after OtrlAuthInfo and Fingerprint
    pass


class OtrlAuthInfo(Structure):  # auth.h
    _fields_ = [
        ("authstate", c_enum),  # OtrlAuthState
        ("context", POINTER(ConnContext)),
        ("our_dh", DH_keypair),
        ("our_keyid", c_uint),
        ("encgx", POINTER(c_ubyte)),
        ("encgx_len", c_size_t),
        ("r", c_ubyte * 16),
        ("hashgx", c_ubyte * 32),
        ("their_pub", _gcry_handle),
        ("their_keyid", c_uint),
        ("enc_c", _gcry_handle),
        ("enc_cp", _gcry_handle),
        ("mac_m1", _gcry_handle),
        ("mac_m1p", _gcry_handle),
        ("mac_m2", _gcry_handle),
        ("mac_m2p", _gcry_handle),
        ("their_fingerprint", c_ubyte * 20),
        ("initiated", c_int),
        ("protocol_version", c_uint),
        ("secure_session_id", c_ubyte * 20),
        ("secure_session_id_len", c_size_t),
        ("session_id_half", c_enum),  # OtrlSessionIdHalf
        ("lastauthmsg", c_char_p),
        ("commit_sent_time", time_t),
    ]


class Fingerprint(Structure):  # context.h: struct s_fingerprint
    pass


Fingerprint._fields_ = [
    ("next", POINTER(Fingerprint)),
    ("tous", POINTER(POINTER(Fingerprint))),
    ("fingerprint", POINTER(c_ubyte)),  # 20 bytes, or NULL in the fingerprint_root sentinel
    ("context", POINTER(ConnContext)),
    ("trust", c_char_p),
]


class OtrlSMState(Structure):  # sm.h
    _fields_ = [
        *((name, _gcry_handle) for name in ("secret", "x2", "x3", "g1", "g2", "g3", "g3o")),
        *((name, _gcry_handle) for name in ("p", "q", "pab", "qab")),
        ("nextExpected", c_enum),  # NextExpectedSMP
        ("received_question", c_int),
        ("sm_prog_state", c_int),  # OtrlSMProgState: has negative values, so int
    ]


ConnContext._fields_ = [
    ("next", POINTER(ConnContext)),
    ("tous", POINTER(POINTER(ConnContext))),
    ("context_priv", c_void_p),  # ConnContextPriv *: internal
    ("username", c_char_p),
    ("accountname", c_char_p),
    ("protocol", c_char_p),
    ("m_context", POINTER(ConnContext)),  # the master; itself in a master
    ("recent_rcvd_child", POINTER(ConnContext)),
    ("recent_sent_child", POINTER(ConnContext)),
    ("recent_child", POINTER(ConnContext)),
    ("our_instance", otrl_instag_t),
    ("their_instance", otrl_instag_t),
    ("msgstate", c_enum),  # OtrlMessageState
    ("auth", OtrlAuthInfo),
    ("fingerprint_root", Fingerprint),  # a sentinel: the list starts at fingerprint_root.next
    ("active_fingerprint", POINTER(Fingerprint)),
    ("sessionid", c_ubyte * 20),
    ("sessionid_len", c_size_t),
    ("sessionid_half", c_enum),  # OtrlSessionIdHalf
    ("protocol_version", c_uint),
    ("otr_offer", c_enum),  # OtrOffer
    ("app_data", c_void_p),
    ("app_data_free", c_void_p),  # void (*)(void *)
    ("smstate", POINTER(OtrlSMState)),
]


class OtrlTLV(Structure):  # tlv.h: struct s_OtrlTLV
    pass


OtrlTLV._fields_ = [
    ("type", c_ushort),
    ("len", c_ushort),
    ("data", POINTER(c_ubyte)),
    ("next", POINTER(OtrlTLV)),
]


class OtrlInsTag(Structure):  # instag.h: struct s_OtrlInsTag
    pass


OtrlInsTag._fields_ = [
    ("next", POINTER(OtrlInsTag)),
    ("tous", POINTER(POINTER(OtrlInsTag))),
    ("accountname", c_char_p),
    ("protocol", c_char_p),
    ("instag", otrl_instag_t),
]


class OtrlPrivKey(Structure):  # privkey-t.h: struct s_OtrlPrivKey
    pass


OtrlPrivKey._fields_ = [
    ("next", POINTER(OtrlPrivKey)),
    ("tous", POINTER(POINTER(OtrlPrivKey))),
    ("accountname", c_char_p),
    ("protocol", c_char_p),
    ("pubkey_type", c_ushort),
    ("privkey", _gcry_handle),  # gcry_sexp_t
    ("pubkey_data", POINTER(c_ubyte)),  # MPI(p) MPI(q) MPI(g) MPI(y): SHA-1 of it is the fingerprint
    ("pubkey_datalen", c_size_t),
]


class OtrlUserStateStruct(Structure):  # userstate.h: struct s_OtrlUserState; OtrlUserState points to one
    _fields_ = [
        ("context_root", POINTER(ConnContext)),
        ("privkey_root", POINTER(OtrlPrivKey)),
        ("instag_root", POINTER(OtrlInsTag)),
        ("pending_root", c_void_p),  # OtrlPendingPrivKey *
        ("timer_running", c_int),
    ]


# ------------------------------------------------------------------ callbacks

_ctx = POINTER(ConnContext)

# message.h, struct s_OtrlMessageAppOps, in header order: (name, restype, argtypes after opdata).
CALLBACKS: tuple[tuple[str, Any, tuple[Any, ...]], ...] = (
    ("policy", c_uint, (_ctx,)),
    ("create_privkey", None, (c_char_p, c_char_p)),  # accountname, protocol
    ("is_logged_in", c_int, (c_char_p, c_char_p, c_char_p)),  # accountname, protocol, recipient
    ("inject_message", None, (c_char_p, c_char_p, c_char_p, c_char_p)),  # ..., recipient, message
    ("update_context_list", None, ()),
    # us, accountname, protocol, username, fingerprint[20]
    ("new_fingerprint", None, (c_void_p, c_char_p, c_char_p, c_char_p, POINTER(c_ubyte))),
    ("write_fingerprints", None, ()),
    ("gone_secure", None, (_ctx,)),
    ("gone_insecure", None, (_ctx,)),
    ("still_secure", None, (_ctx, c_int)),  # is_reply
    ("max_message_size", c_int, (_ctx,)),
    ("account_name", c_void_p, (c_char_p, c_char_p)),  # returns const char *
    ("account_name_free", None, (c_void_p,)),
    # use, usedata, usedatalen, symkey[OTRL_EXTRAKEY_BYTES]
    ("received_symkey", None, (_ctx, c_uint, POINTER(c_ubyte), c_size_t, POINTER(c_ubyte))),
    ("otr_error_message", c_void_p, (_ctx, c_enum)),  # OtrlErrorCode; returns const char *
    ("otr_error_message_free", None, (c_void_p,)),
    ("resent_msg_prefix", c_void_p, (_ctx,)),  # returns const char *
    ("resent_msg_prefix_free", None, (c_void_p,)),
    # OtrlSMPEvent, context, progress_percent, question
    ("handle_smp_event", None, (c_enum, _ctx, c_ushort, c_char_p)),
    # OtrlMessageEvent, context, message, err
    ("handle_msg_event", None, (c_enum, _ctx, c_char_p, gcry_error_t)),
    ("create_instag", None, (c_char_p, c_char_p)),  # accountname, protocol
    # OtrlConvertType, char **dest (set *dest to a new string, or leave NULL), src
    ("convert_msg", None, (_ctx, c_enum, POINTER(c_void_p), c_char_p)),
    ("convert_free", None, (_ctx, c_void_p)),  # the *dest set by convert_msg
    ("timer_control", None, (c_uint,)),  # interval in seconds; 0 stops the timer
)

CALLBACK_TYPES: dict[str, Any] = {
    name: CFUNCTYPE(restype, c_void_p, *argtypes) for name, restype, argtypes in CALLBACKS
}


class OtrlMessageAppOps(Structure):  # message.h: 24 function pointers; a NULL one is skipped by libotr
    _fields_ = [(name, CALLBACK_TYPES[name]) for name, _, _ in CALLBACKS]


# void (*add_app_data)(void *data, ConnContext *context): otrl_context_find, otrl_message_sending/receiving.
# Those parameters are declared c_void_p, which takes an ADD_APP_DATA instance or None (NULL); a
# CFUNCTYPE parameter would refuse None.
ADD_APP_DATA = CFUNCTYPE(None, c_void_p, _ctx)
_fnptr = c_void_p


# ------------------------------------------------------------------ functions

_us = c_void_p  # OtrlUserState
_ops = POINTER(OtrlMessageAppOps)
_tlv = POINTER(OtrlTLV)

# name: (restype, argtypes), header by header.
PROTOTYPES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    # proto.h
    "otrl_init": (gcry_error_t, (c_uint, c_uint, c_uint)),
    "otrl_version": (c_char_p, ()),  # static string
    "otrl_proto_default_query_msg": (c_void_p, (c_char_p, c_uint)),  # free()
    "otrl_proto_query_bestversion": (c_uint, (c_char_p, c_uint)),
    # msg, const char **starttagp, const char **endtagp (pointers into msg), policy
    "otrl_proto_whitespace_bestversion": (c_uint, (c_char_p, POINTER(c_void_p), POINTER(c_void_p), c_uint)),
    "otrl_proto_message_type": (c_enum, (c_char_p,)),  # OtrlMessageType
    "otrl_proto_message_version": (c_int, (c_char_p,)),
    "otrl_proto_instance": (gcry_error_t, (c_char_p, POINTER(c_uint), POINTER(c_uint))),
    # userstate.h
    "otrl_userstate_create": (_us, ()),
    "otrl_userstate_free": (None, (_us,)),
    # privkey.h
    "otrl_privkey_hash_to_human": (None, (c_char_p, c_char_p)),  # char human[45], unsigned char hash[20]
    "otrl_privkey_fingerprint": (c_void_p, (_us, c_char_p, c_char_p, c_char_p)),  # buf[45] or NULL
    "otrl_privkey_fingerprint_raw": (c_void_p, (_us, c_char_p, c_char_p, c_char_p)),  # buf[20] or NULL
    "otrl_privkey_read": (gcry_error_t, (_us, c_char_p)),
    "otrl_privkey_read_FILEp": (gcry_error_t, (_us, c_void_p)),  # FILE *
    "otrl_privkey_generate": (gcry_error_t, (_us, c_char_p, c_char_p, c_char_p)),
    "otrl_privkey_read_fingerprints": (gcry_error_t, (_us, c_char_p, _fnptr, c_void_p)),
    "otrl_privkey_write_fingerprints": (gcry_error_t, (_us, c_char_p)),
    "otrl_privkey_find": (POINTER(OtrlPrivKey), (_us, c_char_p, c_char_p)),
    "otrl_privkey_forget": (None, (POINTER(OtrlPrivKey),)),
    "otrl_privkey_forget_all": (None, (_us,)),
    # instag.h
    "otrl_instag_find": (POINTER(OtrlInsTag), (_us, c_char_p, c_char_p)),
    "otrl_instag_read": (gcry_error_t, (_us, c_char_p)),
    "otrl_instag_get_new": (otrl_instag_t, ()),
    "otrl_instag_generate": (gcry_error_t, (_us, c_char_p, c_char_p, c_char_p)),
    "otrl_instag_write": (gcry_error_t, (_us, c_char_p)),
    "otrl_instag_forget": (None, (POINTER(OtrlInsTag),)),
    "otrl_instag_forget_all": (None, (_us,)),
    # context.h
    "otrl_context_find": (
        _ctx,
        (_us, c_char_p, c_char_p, c_char_p, otrl_instag_t, c_int, POINTER(c_int), _fnptr, c_void_p),
    ),
    "otrl_context_find_recent_instance": (_ctx, (_ctx, otrl_instag_t)),
    "otrl_context_find_recent_secure_instance": (_ctx, (_ctx,)),
    "otrl_context_find_fingerprint": (POINTER(Fingerprint), (_ctx, c_char_p, c_int, POINTER(c_int))),
    "otrl_context_is_fingerprint_trusted": (c_int, (POINTER(Fingerprint),)),
    "otrl_context_set_trust": (None, (POINTER(Fingerprint), c_char_p)),
    "otrl_context_force_finished": (None, (_ctx,)),
    "otrl_context_force_plaintext": (None, (_ctx,)),
    "otrl_context_forget": (c_int, (_ctx,)),
    "otrl_context_forget_all": (None, (_us,)),
    # message.h
    "otrl_message_free": (None, (c_void_p,)),
    "otrl_message_sending": (
        gcry_error_t,
        (
            _us,  # us
            _ops,  # ops
            c_void_p,  # opdata
            c_char_p,  # accountname
            c_char_p,  # protocol
            c_char_p,  # recipient
            otrl_instag_t,  # instag
            c_char_p,  # original_msg
            _tlv,  # tlvs
            POINTER(c_void_p),  # char **messagep: otrl_message_free
            c_enum,  # OtrlFragmentPolicy
            POINTER(_ctx),  # ConnContext **contextp
            _fnptr,  # add_appdata
            c_void_p,  # data
        ),
    ),
    # Returns 1 when the message was for libotr only (do not show it).
    "otrl_message_receiving": (
        c_int,
        (
            _us,  # us
            _ops,  # ops
            c_void_p,  # opdata
            c_char_p,  # accountname
            c_char_p,  # protocol
            c_char_p,  # sender
            c_char_p,  # message
            POINTER(c_void_p),  # char **newmessagep: otrl_message_free
            POINTER(_tlv),  # OtrlTLV **tlvsp: otrl_tlv_free
            POINTER(_ctx),  # ConnContext **contextp
            _fnptr,  # add_appdata
            c_void_p,  # data
        ),
    ),
    "otrl_message_disconnect": (None, (_us, _ops, c_void_p, c_char_p, c_char_p, c_char_p, otrl_instag_t)),
    "otrl_message_disconnect_all_instances": (None, (_us, _ops, c_void_p, c_char_p, c_char_p, c_char_p)),
    "otrl_message_initiate_smp": (None, (_us, _ops, c_void_p, _ctx, c_char_p, c_size_t)),
    "otrl_message_initiate_smp_q": (None, (_us, _ops, c_void_p, _ctx, c_char_p, c_char_p, c_size_t)),
    "otrl_message_respond_smp": (None, (_us, _ops, c_void_p, _ctx, c_char_p, c_size_t)),
    "otrl_message_abort_smp": (None, (_us, _ops, c_void_p, _ctx)),
    # ..., use, usedata, usedatalen, unsigned char symkey[OTRL_EXTRAKEY_BYTES] (out)
    "otrl_message_symkey": (gcry_error_t, (_us, _ops, c_void_p, _ctx, c_uint, c_char_p, c_size_t, c_char_p)),
    "otrl_message_poll_get_default_interval": (c_uint, (_us,)),
    "otrl_message_poll": (None, (_us, _ops, c_void_p)),
    # tlv.h
    "otrl_tlv_new": (_tlv, (c_ushort, c_ushort, c_char_p)),
    "otrl_tlv_parse": (_tlv, (c_char_p, c_size_t)),
    "otrl_tlv_free": (None, (_tlv,)),
    "otrl_tlv_seriallen": (c_size_t, (_tlv,)),
    "otrl_tlv_serialize": (None, (c_char_p, _tlv)),  # buffer of otrl_tlv_seriallen bytes
    "otrl_tlv_find": (_tlv, (_tlv, c_ushort)),
    # b64.h
    "otrl_base64_otr_encode": (c_void_p, (c_char_p, c_size_t)),  # "?OTR:...." ; free()
    # msg, unsigned char **bufp (free()), size_t *lenp; 0, -1 (memory) or -2 (invalid input)
    "otrl_base64_otr_decode": (c_int, (c_char_p, POINTER(c_void_p), POINTER(c_size_t))),
}


# ------------------------------------------------------------------ loading


class LibotrError(OSError):
    """libotr could not be loaded or initialised as 4.1.1."""


class Lib:
    """A loaded libotr: every function of :data:`PROTOTYPES` as an attribute, declared.

    Attributes other than the declared functions raise :class:`AttributeError`,
    so an undeclared (and so unchecked) prototype cannot be called by accident.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.cdll = ctypes.CDLL(path)
        self._functions: dict[str, Any] = {}
        for name, (restype, argtypes) in PROTOTYPES.items():
            function = getattr(self.cdll, name)
            function.restype = restype
            function.argtypes = argtypes
            self._functions[name] = function
        # The process's free(), not libc's by name: under an LD_PRELOADed allocator (ASan, for the
        # instrumented libotr of ci/build-libotr-asan.sh) libotr's malloc is the preloaded one.
        free = ctypes.CDLL(None).free
        free.restype = None
        free.argtypes = (c_void_p,)
        self._free = free
        version = self._functions["otrl_version"]()
        self.version: str = version.decode("ascii") if version else "?"

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_functions"][name]
        except KeyError:
            raise AttributeError(f"{name!r} is not a declared libotr function") from None

    @property
    def api_version(self) -> int:
        """The exported ``otrl_api_version``: (major << 16) | (minor << 8) | sub, 0 before otrl_init."""
        return c_uint.in_dll(self.cdll, "otrl_api_version").value

    def free(self, address: int | None) -> None:
        """libc ``free()``, for results libotr documents as "the caller should free()"."""
        if address:
            self._free(address)

    def take_message(self, address: int | None) -> bytes | None:
        """Copy a NUL-terminated string from ``otrl_message_*`` and release it with ``otrl_message_free``."""
        if not address:
            return None
        try:
            return ctypes.string_at(address)
        finally:
            self._functions["otrl_message_free"](address)

    def take_malloced(self, address: int | None, size: int | None = None) -> bytes | None:
        """Copy ``size`` bytes (or a NUL-terminated string) of a ``malloc``-ed result, then ``free()`` it."""
        if not address:
            return None
        try:
            return ctypes.string_at(address, size) if size is not None else ctypes.string_at(address)
        finally:
            self._free(address)

    def fingerprint_human(self, us: int, accountname: bytes, protocol: bytes) -> str | None:
        """``otrl_privkey_fingerprint``: five groups of 8 upper-case hex digits, or None without a key."""
        buf = ctypes.create_string_buffer(OTRL_PRIVKEY_FPRINT_HUMAN_LEN)
        if not self._functions["otrl_privkey_fingerprint"](us, buf, accountname, protocol):
            return None
        return buf.value.decode("ascii")


_lock = threading.Lock()
_loaded: Lib | None = None


def loaded() -> Lib | None:
    """The libotr loaded in this process, if any."""
    return _loaded


def load(path: str) -> Lib:
    """Load libotr from ``path`` and run ``otrl_init(4, 1, 1)``, once per process.

    A second call with the same file returns the same :class:`Lib`; another
    file raises :class:`LibotrError`, because two copies of libotr in one
    process would both install libgcrypt allocation handlers.
    """
    global _loaded
    with _lock:
        if _loaded is not None:
            if os.path.realpath(_loaded.path) != os.path.realpath(path):
                raise LibotrError(f"libotr is already loaded from {_loaded.path} in this process, not {path}")
            return _loaded
        try:
            lib = Lib(path)
        except OSError as exc:
            raise LibotrError(f"cannot load {path}: {exc}") from exc
        if lib.version != VERSION:
            raise LibotrError(f"{path} is libotr {lib.version}, not {VERSION}")
        err = lib.otrl_init(*API_VERSION)
        if err:
            raise LibotrError(f"otrl_init{API_VERSION} failed with gcry_error_t {err:#x}")
        expected = (API_VERSION[0] << 16) | (API_VERSION[1] << 8) | API_VERSION[2]
        if lib.api_version != expected:
            # Someone initialised it with an older API: libotr would then skip newer callbacks.
            raise LibotrError(f"otrl_api_version is {lib.api_version:#08x}, not {expected:#08x}")
        _loaded = lib
        return lib
