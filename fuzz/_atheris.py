"""The one atheris entry point every ``fuzz/fuzz_<name>.py`` calls.

``python fuzz/fuzz_<name>.py [libFuzzer flags] [corpus dirs]`` (the
OSS-Fuzz convention): the target's modules are imported under atheris'
instrumentation, its states are built before the first input (so the
first inputs are not slowed by setup), and the structure-aware mutator is
used where the input holds OTR messages.  With ``OTRCHECK_FUZZ_SKIP_KNOWN=1``
an input whose crash is a known finding (``fuzz/known_crashes.toml``)
counts as passing, so a campaign goes on looking for new ones.  A packaged
fuzzer (ci/oss-fuzz/build.sh) loads the ``libotr.so.5`` shipped beside it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys


def main(name: str, argv: list[str] | None = None) -> None:
    import atheris

    bundled = _bundled_libotr()
    if bundled is not None:
        os.environ.setdefault("OTRCHECK_LIBOTR", bundled)

    from fuzz.registry import TARGETS

    target = TARGETS[name]
    with atheris.instrument_imports(include=list(target.instrument)):
        for module in target.instrument:
            importlib.import_module(module)
        importlib.import_module("fuzz.targets")
    from fuzz import crashes, mutator

    skip = crashes.known() if os.environ.get(crashes.SKIP_KNOWN, "") not in ("", "0") else []

    def one_input(data: bytes) -> None:
        try:
            target.function(data)
        except Exception as exc:
            if skip and crashes.finding_of(
                crashes.of_exception(exc, target.implementation), target.implementation, skip
            ):
                return
            raise

    warm_up(name)
    custom = {"custom_mutator": mutator.mutate} if target.structured else {}
    atheris.Setup(list(sys.argv if argv is None else argv), one_input, **custom)
    atheris.Fuzz()


def _bundled_libotr() -> str | None:
    """``libotr.so.5`` shipped beside a packaged fuzzer (ci/oss-fuzz/build.sh), if this is one."""
    for directory in (getattr(sys, "_MEIPASS", None), os.path.dirname(os.path.abspath(sys.argv[0]))):
        if directory and os.path.isfile(os.path.join(directory, "libotr.so.5")):
            return os.path.join(directory, "libotr.so.5")
    return None


def warm_up(name: str) -> None:
    """Build the target's states now, outside the first inputs' time."""
    from fuzz.registry import TARGETS

    for data in (b"\x00", b"\x01\x01", b"\x00?OTRv3?"):
        # A crash on these shows again when the fuzzer runs them itself.
        with contextlib.suppress(Exception):
            TARGETS[name].function(data)
