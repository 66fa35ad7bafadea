"""``_lib.py`` agrees with the C compiler's reading of libotr 4.1.1's own headers.

Two small C programs are compiled with gcc against the headers that
:func:`provision.include_dirs` fetched (no root needed):

* one only declares, and gcc's ``-aux-info`` prints the prototype of every
  libotr function and, through ``__typeof__`` of each OtrlMessageAppOps
  member, of every callback;
* the other prints ``sizeof``/``offsetof`` of every struct and field that
  ``_lib.py`` declares, the value of every enumerator and constant, and the
  size, class (pointer or integer) and signedness of every type named in
  those prototypes.

Each declared struct, field, constant, prototype and callback is then
compared with what the compiler printed.  Nothing is transcribed by hand
into this test except the names of the C types and enum prefixes.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import pytest

from implementations.libotr import _lib, provision

# The C name of each declared struct.
STRUCTS: dict[type[ctypes.Structure], str] = {
    _lib.DH_keypair: "DH_keypair",
    _lib.OtrlAuthInfo: "OtrlAuthInfo",
    _lib.Fingerprint: "Fingerprint",
    _lib.OtrlSMState: "OtrlSMState",
    _lib.ConnContext: "ConnContext",
    _lib.OtrlTLV: "OtrlTLV",
    _lib.OtrlInsTag: "OtrlInsTag",
    _lib.OtrlPrivKey: "OtrlPrivKey",
    _lib.OtrlUserStateStruct: "struct s_OtrlUserState",
    _lib.OtrlMessageAppOps: "OtrlMessageAppOps",
}

# The prefix of each enum's C enumerators.
ENUMS: dict[type[IntEnum], str] = {
    _lib.OtrlMessageState: "OTRL_MSGSTATE_",
    _lib.OtrlAuthState: "OTRL_AUTHSTATE_",
    _lib.NextExpectedSMP: "OTRL_SMP_",
    _lib.OtrlSMProgState: "OTRL_SMP_PROG_",
    _lib.OtrlSessionIdHalf: "OTRL_SESSIONID_",
    _lib.OtrOffer: "OFFER_",
    _lib.OtrlErrorCode: "OTRL_ERRCODE_",
    _lib.OtrlSMPEvent: "OTRL_SMPEVENT_",
    _lib.OtrlMessageEvent: "OTRL_MSGEVENT_",
    _lib.OtrlNotifyLevel: "OTRL_NOTIFY_",
    _lib.OtrlConvertType: "OTRL_CONVERT_",
    _lib.OtrlMessageType: "OTRL_MSGTYPE_",
    _lib.OtrlFragmentResult: "OTRL_FRAGMENT_",
    _lib.OtrlFragmentPolicy: "OTRL_FRAGMENT_",
    _lib.OtrlInstag: "OTRL_INSTAG_",
    _lib.OtrlTLVType: "OTRL_TLV_",
}

HEADERS = ("proto.h", "message.h", "privkey.h", "userstate.h", "tlv.h", "instag.h", "b64.h", "context.h")
POINTER_CLASS = 5  # gcc's __builtin_classify_type: pointer_type_class
INTEGER_CLASSES = (1, 3, 4)  # integer, enumeral, boolean


def constants() -> dict[str, int]:
    """Every C constant _lib declares: enumerators, policy bits, OTRL_* numbers."""
    out = {f"{prefix}{member.name}": int(member) for enum, prefix in ENUMS.items() for member in enum}
    for name in dir(_lib.OtrlPolicy):
        if name.isupper():
            out[f"OTRL_POLICY_{name}"] = getattr(_lib.OtrlPolicy, name)
    for name in dir(_lib):
        value = getattr(_lib, name)
        if name.startswith("OTRL_") and isinstance(value, int):
            out[name] = value
    return out


# ------------------------------------------------------------------ the compiler's view


@dataclass
class CView:
    values: dict[str, int]
    strings: dict[str, str]
    prototypes: dict[str, tuple[str, list[str]]]  # name -> (return type, parameter types)
    types: dict[str, tuple[int, int, bool]]  # C type -> (size, class, signed)
    header_text: str


def compile_and_run(args: list[str], what: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def split_params(text: str) -> list[str]:
    text = text.strip()
    if text in ("void", "/* ??? */", ""):  # "/* ??? */": declared without a prototype, defined with none
        return []
    params, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            params.append(text[start:i].strip())
            start = i + 1
    params.append(text[start:].strip())
    return params


PROTOTYPE = re.compile(r"^/\* (?P<file>\S+):\d+:\w+ \*/ extern (?P<ret>.*?)(?P<name>\w+) \((?P<params>.*)\);")


def parse_aux_info(text: str) -> dict[str, tuple[str, list[str]]]:
    found = {}
    for line in text.splitlines():
        match = PROTOTYPE.match(line)
        if match and (match["name"].startswith(("otrl_", "otrcheck_cb_"))):
            found[match["name"]] = (match["ret"].strip(), split_params(match["params"]))
    return found


def pointee(ctype: str) -> str:
    assert ctype.endswith("*"), ctype
    inner = ctype[:-1].strip()
    return re.sub(r"^const\s+|\s+const$", "", inner)


FUNCTION_POINTER = re.compile(r"^(?P<ret>.*?)\s*\(\*\)\s*\((?P<params>.*)\)$")


def is_integer(ct: Any) -> bool:
    return isinstance(ct, type) and issubclass(ct, ctypes._SimpleCData) and not is_pointer_like(ct)


def is_pointer_like(ct: Any) -> bool:
    return ct in (ctypes.c_void_p, ctypes.c_char_p) or (
        isinstance(ct, type) and issubclass(ct, (ctypes._Pointer, ctypes._CFuncPtr))
    )


def compare(ct: Any, ctype: str, where: str, view: CView | None, wanted: set[str]) -> list[str]:
    """Differences between a ctypes type and a C type string.

    With ``view`` None, only collects into ``wanted`` the C types to measure.
    """
    ctype = " ".join(ctype.split())
    if ct is None:
        return [] if ctype == "void" else [f"{where}: declared void, C has {ctype!r}"]
    wanted.add(ctype)
    problems: list[str] = []
    if view is not None:
        size, cls, signed = view.types[ctype]
        if is_pointer_like(ct):
            if cls != POINTER_CLASS:
                return [f"{where}: declared a pointer ({ct.__name__}), C has {ctype!r} (class {cls})"]
        else:
            declared = (ctypes.sizeof(ct), ct(-1).value < 0)
            if cls not in INTEGER_CLASSES or declared != (size, signed):
                return [
                    f"{where}: declared {ct.__name__} {declared}, C has {ctype!r} ({size}, {signed}, {cls})"
                ]
    if isinstance(ct, type) and issubclass(ct, ctypes._Pointer):
        inner = ct._type_
        if isinstance(inner, type) and issubclass(inner, ctypes.Structure):
            if pointee(ctype) != STRUCTS[inner]:
                problems.append(f"{where}: declared POINTER({inner.__name__}), C has {ctype!r}")
        else:
            problems += compare(inner, pointee(ctype), f"{where}[*]", view, wanted)
    elif isinstance(ct, type) and issubclass(ct, ctypes._CFuncPtr):
        match = FUNCTION_POINTER.match(ctype)
        if match is None:
            return [f"{where}: declared a function pointer, C has {ctype!r}"]
        problems += compare_signature(
            ct._restype_, ct._argtypes_, match["ret"], split_params(match["params"]), where, view, wanted
        )
    return problems


def compare_signature(
    restype: Any,
    argtypes: Any,
    cret: str,
    cparams: list[str],
    where: str,
    view: CView | None,
    wanted: set[str],
) -> list[str]:
    if len(argtypes) != len(cparams):
        return [f"{where}: declared {len(argtypes)} parameters, C has {len(cparams)}: {cparams}"]
    problems = compare(restype, cret, f"{where} return", view, wanted)
    for i, (ct, cparam) in enumerate(zip(argtypes, cparams, strict=True)):
        problems += compare(ct, cparam, f"{where} parameter {i}", view, wanted)
    return problems


def all_signature_problems(
    view: CView | None, wanted: set[str], prototypes: dict[str, tuple[str, list[str]]]
) -> list[str]:
    problems = []
    for name, (restype, argtypes) in _lib.PROTOTYPES.items():
        if name not in prototypes:
            problems.append(f"{name}: not declared in the headers")
            continue
        cret, cparams = prototypes[name]
        problems += compare_signature(restype, argtypes, cret, cparams, name, view, wanted)
    for name, functype in _lib.CALLBACK_TYPES.items():
        cret, cparams = prototypes[f"otrcheck_cb_{name}"]
        problems += compare_signature(
            functype._restype_, functype._argtypes_, cret, cparams, f"callback {name}", view, wanted
        )
    # ADD_APP_DATA is the add_app_data parameter of otrl_context_find (its 8th).
    add_app_data = prototypes["otrl_context_find"][1][7]
    problems += compare(_lib.ADD_APP_DATA, add_app_data, "ADD_APP_DATA", view, wanted)
    return problems


@pytest.fixture(scope="module")
def c_view(tmp_path_factory: pytest.TempPathFactory) -> CView:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.fail("no C compiler (gcc or cc) on PATH: the layout test compiles against libotr's headers")
    try:
        includes = provision.include_dirs()
    except provision.ProvisionError as exc:
        pytest.fail(f"libotr {provision.LIBOTR_VERSION} headers unavailable: {exc}")
    flags = [f"-I{d}" for d in includes]
    work = tmp_path_factory.mktemp("layout")
    prelude = "".join(f"#include <libotr/{h}>\n" for h in HEADERS)
    prelude = "#include <stdio.h>\n#include <stddef.h>\n" + prelude

    declarations = prelude + "".join(
        f"__typeof__(*((OtrlMessageAppOps *)0)->{name}) otrcheck_cb_{name};\n" for name in _lib.CALLBACK_TYPES
    )
    (work / "decls.c").write_text(declarations)
    aux = work / "aux.txt"
    compile_and_run(
        [
            gcc,
            "-std=gnu11",
            *flags,
            "-aux-info",
            str(aux),
            "-c",
            str(work / "decls.c"),
            "-o",
            str(work / "decls.o"),
        ],
        "gcc -aux-info",
    )
    prototypes = parse_aux_info(aux.read_text())

    wanted: set[str] = set()
    all_signature_problems(None, wanted, prototypes)
    types = sorted(wanted)

    body = ['#define P(k, v) printf("%s\\t%lld\\n", k, (long long)(v))']
    body.append("int main(void) {")
    for struct, cname in STRUCTS.items():
        body.append(f'P("size {cname}", sizeof({cname}));')
        for field, *_ in struct._fields_:
            body.append(f'P("offset {cname}.{field}", offsetof({cname}, {field}));')
            body.append(f'P("fsize {cname}.{field}", sizeof((({cname} *)0)->{field}));')
            if is_integer(dict(struct._fields_)[field]):
                member = f"__typeof__((({cname} *)0)->{field})"
                body.append(f'P("fsigned {cname}.{field}", ({member})-1 < ({member})0);')
    for name in constants():
        body.append(f'P("const {name}", {name});')
    for i, ctype in enumerate(types):
        body.append(f'P("tsize {i}", sizeof({ctype}));')
        body.append(f'P("tclass {i}", __builtin_classify_type(({ctype})0));')
        body.append(f'P("tsigned {i}", ({ctype})-1 < ({ctype})0);')
    body.append('printf("str OTRL_VERSION\\t%s\\n", OTRL_VERSION);')
    body.append('printf("str OTR_ERROR_PREFIX\\t%s\\n", OTR_ERROR_PREFIX);')
    body.append('P("const OTRL_VERSION_MAJOR", OTRL_VERSION_MAJOR);')
    body.append('P("const OTRL_VERSION_MINOR", OTRL_VERSION_MINOR);')
    body.append('P("const OTRL_VERSION_SUB", OTRL_VERSION_SUB);')
    body.append("return 0; }")
    (work / "layout.c").write_text(prelude + "\n".join(body) + "\n")
    exe = work / "layout"
    compile_and_run([gcc, "-std=gnu11", "-w", *flags, str(work / "layout.c"), "-o", str(exe)], "gcc layout.c")
    values, strings = {}, {}
    for line in compile_and_run([str(exe)], "the layout program").splitlines():
        key, _, value = line.partition("\t")
        if key.startswith("str "):
            strings[key[4:]] = value
        else:
            values[key] = int(value)
    measured = {
        ctype: (values[f"tsize {i}"], values[f"tclass {i}"], bool(values[f"tsigned {i}"]))
        for i, ctype in enumerate(types)
    }
    header_text = "\n".join(
        (includes[0] / "libotr" / name).read_text(errors="replace")
        for name in sorted(p.name for p in (includes[0] / "libotr").glob("*.h"))
    )
    return CView(values, strings, prototypes, measured, header_text)


# ------------------------------------------------------------------ tests


def test_the_headers_are_libotr_4_1_1(c_view):
    assert c_view.strings["OTRL_VERSION"] == _lib.VERSION == "4.1.1"
    assert (
        tuple(c_view.values[f"const OTRL_VERSION_{part}"] for part in ("MAJOR", "MINOR", "SUB"))
        == _lib.API_VERSION
    )


@pytest.mark.parametrize("struct", list(STRUCTS), ids=lambda s: s.__name__)
def test_struct_size_matches_c(c_view, struct):
    assert ctypes.sizeof(struct) == c_view.values[f"size {STRUCTS[struct]}"]


@pytest.mark.parametrize(
    ("struct", "field"),
    [(s, f[0]) for s in STRUCTS for f in s._fields_],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_field_offset_and_size_match_c(c_view, struct, field):
    cname = STRUCTS[struct]
    declared = getattr(struct, field)
    assert (declared.offset, declared.size) == (
        c_view.values[f"offset {cname}.{field}"],
        c_view.values[f"fsize {cname}.{field}"],
    )


@pytest.mark.parametrize(
    ("struct", "field"),
    [(s, f[0]) for s in STRUCTS for f in s._fields_ if is_integer(f[1])],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_integer_field_signedness_matches_c(c_view, struct, field):
    ct = dict(struct._fields_)[field]
    assert (ct(-1).value < 0) == bool(c_view.values[f"fsigned {STRUCTS[struct]}.{field}"])


def test_app_ops_are_24_pointers_in_header_order(c_view):
    names = [name for name, *_ in _lib.OtrlMessageAppOps._fields_]
    assert len(names) == 24
    assert ctypes.sizeof(_lib.OtrlMessageAppOps) == c_view.values["size OtrlMessageAppOps"] == 24 * 8 == 192
    assert [c_view.values[f"offset OtrlMessageAppOps.{name}"] for name in names] == [8 * i for i in range(24)]
    offsets = {name: _lib.OtrlMessageAppOps.__dict__[name].offset for name in names}
    assert offsets["policy"] == 0 and offsets["timer_control"] == 184


def test_connection_context_fields_the_adapter_reads(c_view):
    """The fields named in the brief, spot-checked by absolute offset (x86-64, gcc 12, 4.1.1)."""
    fields = (
        "username",
        "accountname",
        "protocol",
        "our_instance",
        "their_instance",
        "msgstate",
        "auth",
        "active_fingerprint",
        "sessionid",
        "sessionid_len",
        "protocol_version",
        "smstate",
    )
    for field in fields:
        assert _lib.ConnContext.__dict__[field].offset == c_view.values[f"offset ConnContext.{field}"], field
    assert _lib.OtrlSMState.nextExpected.offset == c_view.values["offset OtrlSMState.nextExpected"]
    assert _lib.OtrlSMState.sm_prog_state.offset == c_view.values["offset OtrlSMState.sm_prog_state"]
    assert _lib.OtrlAuthInfo.protocol_version.offset == c_view.values["offset OtrlAuthInfo.protocol_version"]
    assert _lib.Fingerprint.trust.offset == c_view.values["offset Fingerprint.trust"]


@pytest.mark.parametrize(("name", "value"), sorted(constants().items()))
def test_constant_matches_c(c_view, name, value):
    assert value == c_view.values[f"const {name}"]


def test_error_prefix_matches_c(c_view):
    assert _lib.OTR_ERROR_PREFIX.decode() == c_view.strings["OTR_ERROR_PREFIX"]


def test_every_enumerator_in_the_headers_is_declared(c_view):
    """No enumerator (or policy bit) of the headers is missing from _lib's enums."""
    code = re.sub(r"/\*.*?\*/", "", c_view.header_text, flags=re.S)
    prefixes = sorted({*ENUMS.values(), "OTRL_POLICY_"}, key=len, reverse=True)
    declared = set(constants())
    missing = set()
    for token in set(re.findall(r"\b(?:OTRL|OFFER)_[A-Z0-9_]+\b", code)):
        if any(token.startswith(p) for p in prefixes) and token not in declared:
            missing.add(token)
    assert not missing


def test_every_prototype_and_callback_matches_c(c_view):
    """Parameter count, pointer-ness, integer size and signedness, struct pointee names, return types."""
    problems = all_signature_problems(c_view, set(), c_view.prototypes)
    assert not problems, "\n".join(problems)


def test_prototypes_cover_what_the_adapter_needs():
    needed = {
        "otrl_init",
        "otrl_version",
        "otrl_userstate_create",
        "otrl_userstate_free",
        "otrl_privkey_read",
        "otrl_privkey_fingerprint",
        "otrl_privkey_generate",
        "otrl_privkey_forget_all",
        "otrl_instag_generate",
        "otrl_instag_read",
        "otrl_instag_find",
        "otrl_message_sending",
        "otrl_message_receiving",
        "otrl_message_free",
        "otrl_message_disconnect",
        "otrl_message_disconnect_all_instances",
        "otrl_message_initiate_smp",
        "otrl_message_initiate_smp_q",
        "otrl_message_respond_smp",
        "otrl_message_abort_smp",
        "otrl_message_symkey",
        "otrl_message_poll",
        "otrl_context_find",
        "otrl_proto_default_query_msg",
        "otrl_proto_query_bestversion",
        "otrl_proto_whitespace_bestversion",
        "otrl_proto_message_type",
        "otrl_base64_otr_decode",
        "otrl_tlv_parse",
        "otrl_tlv_free",
    }
    assert needed <= set(_lib.PROTOTYPES)
