"""libotr 4.1.1 is found or fetched without root, into a per-user cache outside the repository.

These tests never skip: where libotr cannot be had (no apt, no network),
they fail with the reason, so that CI notices.  The fresh-cache tests
exercise the path of a machine where libotr is not installed system-wide:
system lookup off, an empty ``XDG_CACHE_HOME``, a real ``apt-get download``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from implementations.libotr import _lib, provision

ROOT = Path(__file__).resolve().parents[2]

# Loads a libotr in a child process (one process must not hold two copies) and uses it a little.
CHECK = textwrap.dedent(
    """
    import json, sys
    from implementations.libotr import _lib
    lib = _lib.load(sys.argv[1])
    us = lib.otrl_userstate_create()
    query = lib.take_malloced(lib.otrl_proto_default_query_msg(b"alice", _lib.OtrlPolicy.DEFAULT))
    tag = lib.otrl_instag_get_new()
    lib.otrl_userstate_free(us)
    print(json.dumps({"version": lib.version, "api": lib.api_version, "query": query.decode(), "tag": tag}))
    """
)


def usable(where: provision.LibotrLocation) -> provision.LibotrLocation:
    if not where.usable:
        pytest.fail(f"libotr {provision.LIBOTR_VERSION} unavailable ({where.source}): {where.problem}")
    return where


def check_in_child(path: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", CHECK, path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def is_inside(path: str | Path, directory: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory))


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    """An empty XDG cache and no override: as on a machine that never ran otrcheck."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv(provision.ENV_PATH, raising=False)
    monkeypatch.delenv(provision.ENV_SYSTEM, raising=False)
    return cache


# ------------------------------------------------------------------ the machine's libotr


def test_locate_finds_libotr_4_1_1():
    where = usable(provision.locate())
    assert where.version == "4.1.1"
    assert where.source in ("env", "system", "cache", "downloaded")
    assert where.path is not None and os.path.isfile(where.path)


def test_located_library_loads_and_initialises():
    where = usable(provision.locate())
    assert where.path is not None
    lib = _lib.load(where.path)
    assert lib.version == "4.1.1"
    assert lib.api_version == 0x040101
    assert _lib.load(where.path) is lib  # once per process


def test_a_second_copy_of_libotr_is_refused_in_one_process(tmp_path):
    where = usable(provision.locate())
    assert where.path is not None
    _lib.load(where.path)
    copy = tmp_path / "libotr.so.5"
    copy.write_bytes(Path(where.path).read_bytes())
    with pytest.raises(_lib.LibotrError, match="already loaded"):
        _lib.load(str(copy))


def test_cache_is_outside_the_repository():
    assert not is_inside(provision.cache_root(), ROOT)
    where = usable(provision.locate())
    assert where.path is not None
    if where.source in ("cache", "downloaded"):
        assert is_inside(where.path, provision.cache_root())
    if where.source != "env":
        assert not is_inside(where.path, ROOT)


def test_second_locate_is_instant_and_downloads_nothing():
    first = usable(provision.locate())
    start = time.monotonic()
    second = usable(provision.locate())
    elapsed = time.monotonic() - start
    assert second.path == first.path
    assert second.source != "downloaded"
    assert elapsed < 1.0, f"second locate() took {elapsed:.2f} s"


def test_explicit_path_is_used_as_given(monkeypatch):
    where = usable(provision.locate())
    assert where.path is not None
    monkeypatch.setenv(provision.ENV_PATH, where.path)
    assert provision.locate() == provision.LibotrLocation(where.path, "4.1.1", "env", None)


def test_a_wrong_explicit_path_is_reported_not_replaced(monkeypatch, tmp_path):
    monkeypatch.setenv(provision.ENV_PATH, str(tmp_path / "missing.so"))
    where = provision.locate()
    assert (where.source, where.usable) == ("env", False)
    assert where.problem is not None and "not a file" in where.problem
    (tmp_path / "junk.so").write_bytes(b"not an ELF file")
    monkeypatch.setenv(provision.ENV_PATH, str(tmp_path / "junk.so"))
    where = provision.locate()
    assert where.problem is not None and "cannot load" in where.problem


def test_a_system_library_listed_by_ldconfig_is_preferred_to_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(provision.ENV_PATH, raising=False)
    monkeypatch.delenv(provision.ENV_SYSTEM, raising=False)
    where = usable(provision.locate())
    assert where.path is not None
    system_copy = tmp_path / "system" / "libotr.so.5"
    system_copy.parent.mkdir()
    system_copy.write_bytes(Path(where.path).read_bytes())
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    ldconfig = fake_bin / "ldconfig"
    ldconfig.write_text(
        "#!/bin/sh\n"
        "echo '2 libs found in cache /etc/ld.so.cache'\n"
        f"printf '\\tlibotr.so.5 (libc6,x86-64) => {system_copy}\\n'\n"
        "printf '\\tlibotr.so (libc6,x86-64) => /nowhere/libotr.so\\n'\n"
    )
    ldconfig.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    found = provision.locate(download=False)
    assert found == provision.LibotrLocation(str(system_copy), "4.1.1", "system", None)
    if where.source in ("cache", "downloaded"):
        assert provision.locate(download=False, system=False).path == where.path


# ------------------------------------------------------------------ a machine without libotr


def test_fresh_cache_without_system_library_downloads_a_working_libotr(fresh_cache):
    where = usable(provision.locate(system=False))
    assert where.source == "downloaded"
    assert where.path is not None and is_inside(where.path, fresh_cache / "otrcheck" / "libotr" / "4.1.1")
    marker = json.loads((fresh_cache / "otrcheck/libotr/4.1.1/lib" / provision.MARKER).read_text())
    assert marker["version"] == "4.1.1" and any(p.startswith("libotr5") for p in marker["packages"])
    assert not list((fresh_cache / "otrcheck/libotr/4.1.1").glob(".tmp-*"))

    checked = check_in_child(where.path)
    assert checked["version"] == "4.1.1" and checked["api"] == 0x040101
    assert str(checked["query"]).startswith("?OTRv23?\n")
    assert isinstance(checked["tag"], int) and checked["tag"] >= 0x100

    again = provision.locate(download=False, system=False)
    assert again == provision.LibotrLocation(where.path, "4.1.1", "cache", None)


def test_system_lookup_can_be_turned_off_by_environment(fresh_cache, monkeypatch):
    monkeypatch.setenv(provision.ENV_SYSTEM, "0")
    where = provision.locate(download=False)
    assert (where.source, where.usable) == ("cache", False)
    assert where.problem is not None and "not in the cache" in where.problem


def test_concurrent_first_uses_fill_the_cache_once(fresh_cache):
    code = (
        "import json; from implementations.libotr import provision as p; "
        "print(json.dumps(p.locate(system=False).__dict__))"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    assert all(r["problem"] is None for r in results), results
    assert len({r["path"] for r in results}) == 1
    assert sorted(r["source"] for r in results) == ["cache", "cache", "downloaded"]


@pytest.mark.slow
def test_missing_package_lists_fall_back_to_private_ones(fresh_cache, tmp_path, monkeypatch):
    """As on a fresh container: apt's own lists are empty, so the private-lists path must do the work."""
    empty = tmp_path / "empty-lists"
    (empty / "partial").mkdir(parents=True)
    config = tmp_path / "apt.conf"
    config.write_text(f'Dir::State::Lists "{empty}";\n')
    monkeypatch.setenv("APT_CONFIG", str(config))
    proc = subprocess.run(["apt-get", "download", "--print-uris", "libotr5"], capture_output=True, text=True)
    assert proc.returncode != 0, "the simulated machine should have no package lists"

    where = usable(provision.locate(system=False))
    assert where.source == "downloaded"
    assert where.path is not None
    assert check_in_child(where.path)["version"] == "4.1.1"


def test_headers_are_fetched_with_gcrypt_so_a_compiler_needs_no_root(fresh_cache):
    dirs = provision.include_dirs(system=False)
    assert all(is_inside(d, fresh_cache) for d in dirs)
    assert (dirs[0] / "libotr" / "proto.h").is_file()
    assert (dirs[0] / "gcrypt.h").is_file()
    assert any((d / "gpg-error.h").is_file() for d in dirs)
    assert provision.headers_dir(system=False) == dirs[0]
