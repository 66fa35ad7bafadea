#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build script (runs inside base-builder-python, see Dockerfile).
#
# * libotr 4.1.1 is built from Debian's upstream tarball (fetched like ci/build-libotr-asan.sh does:
#   `apt-get source` through private package lists with deb-src entries) with the infrastructure's
#   $CC and $CFLAGS (sanitizer and -fsanitize=fuzzer-no-link coverage flags), and shipped beside
#   the fuzzers as libotr.so.5; fuzz/_atheris.py points OTRCHECK_LIBOTR at it when it is there.
# * every fuzz/fuzz_<name>.py becomes a fuzzer with compile_python_fuzzer (PyInstaller), with its
#   seed corpus (fuzz/corpus/<name>, generated from the vectors) and dictionary.
cd "$SRC/otrcheck"
pip3 install .
pip3 install "pycryptodome>=3.15" && pip3 install --no-deps python-potr==1.0.2

# libotr, instrumented by the infrastructure's flags.
work="$(mktemp -d)"
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/sources.list.d"
sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list > "$work/apt/sources.list" || true
apt_private=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=$work/apt/sources.list.d"
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache" -o Debug::NoLocking=1)
apt-get -q "${apt_private[@]}" update
(cd "$work" && apt-get -q "${apt_private[@]}" source --download-only libotr) || true
tar -xf "$(ls "$work"/libotr_4.1.1.orig.tar.* | head -1)" -C "$work"
(cd "$work/libotr-4.1.1" && ./configure --quiet --disable-static && make -s -C src -j"$(nproc)")
cp -L "$work/libotr-4.1.1/src/.libs/libotr.so.5" "$OUT/libotr.so.5"

for fuzzer in fuzz/fuzz_*.py; do
  name="$(basename "$fuzzer" .py)"
  target="${name#fuzz_}"
  compile_python_fuzzer "$fuzzer" \
    --collect-submodules=fuzz --collect-submodules=implementations --collect-submodules=vectors \
    --collect-submodules=potr --collect-data=implementations --collect-data=vectors \
    --add-data="fuzz/known_crashes.toml:fuzz"
  (cd "fuzz/corpus/$target" && zip -q -j "$OUT/${name}_seed_corpus.zip" ./*)
  cp "fuzz/dictionaries/$target.dict" "$OUT/$name.dict"
done
