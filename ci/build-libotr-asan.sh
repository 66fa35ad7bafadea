#!/usr/bin/env bash
# Build libotr 4.1.1 from Debian's upstream source with AddressSanitizer and libFuzzer coverage
# (-fsanitize=address,fuzzer-no-link), for the fuzz targets that load libotr (fuzz/README.md).
#
#   bash ci/build-libotr-asan.sh [OUTDIR]          # default OUTDIR: .fuzz/libotr-asan
#
# It installs what it needs (clang, the compiler-rt runtimes, libgcrypt's headers) when run as root,
# fetches the source with `apt-get source` through private package lists that add deb-src entries
# mirroring the machine's deb entries (the system's apt configuration is not changed), builds only
# the library (src/), and prints the environment that makes otrcheck load it:
#
#   OTRCHECK_LIBOTR=OUTDIR/libotr.so.5   the library implementations/libotr/provision.py loads
#   LD_PRELOAD=<atheris>/asan_with_fuzzer.so   ASan and libFuzzer's coverage runtime, before Python
#   ASAN_OPTIONS=detect_leaks=0:...       Python itself leaks by ASan's standards
#   PYCRYPTODOME_DISABLE_DEEPBIND=1       pycryptodome (python-potr's crypto, for the differential
#                                         target) otherwise dlopens with RTLD_DEEPBIND, which ASan refuses
#
# With that environment, `otrcheck fuzz run libotr_parse libotr_receive differential` fuzzes libotr
# with native coverage guidance, and a memory error in libotr stops the run with ASan's report.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(realpath -m "${1:-$here/.fuzz/libotr-asan}")"
version=4.1.1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # clang's ASan runtime is in libclang-rt-N-dev on Debian 12; older releases ship it with clang.
  apt-get install -y -q clang make libgcrypt20-dev libgpg-error-dev
  apt-get install -y -q "libclang-rt-$(clang --version | sed -n 's/.*version \([0-9]*\).*/\1/p;q')-dev" || true
fi
for tool in clang make apt-get tar; do
  command -v "$tool" >/dev/null || { echo "build-libotr-asan: $tool is missing" >&2; exit 1; }
done

# deb-src entries mirroring every deb entry the machine has (one-line and deb822 formats).
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/sources.list.d"
: > "$work/apt/sources.list"
for list in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$list" ] && sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$list" >> "$work/apt/sources.list"
done
for sources in /etc/apt/sources.list.d/*.sources; do
  [ -f "$sources" ] && sed 's/^Types:.*/Types: deb-src/' "$sources" > "$work/apt/sources.list.d/$(basename "$sources")"
done
apt_private=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=$work/apt/sources.list.d"
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache" -o Debug::NoLocking=1)
[ "$(id -u)" = 0 ] && apt_private+=(-o APT::Sandbox::User=root)
apt-get -q "${apt_private[@]}" update
# Only the upstream tarball is needed: where Debian's patch tarball fails to download (some mirrors
# and proxies), apt-get reports an error but the orig tarball is there, which is what counts.
(cd "$work" && apt-get -q "${apt_private[@]}" source --download-only libotr) || true
tarball="$(ls "$work"/libotr_"$version".orig.tar.* 2>/dev/null | head -1)"
[ -n "$tarball" ] || { echo "build-libotr-asan: no libotr_$version.orig tarball from apt-get source" >&2; exit 1; }
tar -xf "$tarball" -C "$work"
src="$work/libotr-$version"

flags="-g -O1 -fno-omit-frame-pointer -fsanitize=address,fuzzer-no-link"
(cd "$src" && CC=clang CFLAGS="$flags" LDFLAGS="-fsanitize=address" ./configure --quiet --disable-static >/dev/null)
# Only the library: the toolkit programs are not needed (and one of them misses two #includes).
make -s -C "$src/src" -j"$(nproc)" >/dev/null
mkdir -p "$out"
cp -L "$src/src/.libs/libotr.so.5" "$out/libotr.so.5"
nm -D "$out/libotr.so.5" | grep -q __asan_ || { echo "build-libotr-asan: the library has no ASan calls" >&2; exit 1; }
nm -D "$out/libotr.so.5" | grep -q __sanitizer_cov_ || { echo "build-libotr-asan: no coverage hooks" >&2; exit 1; }

python="${PYTHON:-python3}"
runtime="$("$python" -c 'import atheris, os; print(os.path.join(atheris.path(), "asan_with_fuzzer.so"))')"
[ -f "$runtime" ] || { echo "build-libotr-asan: $runtime not found (pip install atheris)" >&2; exit 1; }
cat > "$out/env.sh" <<EOF
export OTRCHECK_LIBOTR=$out/libotr.so.5
export LD_PRELOAD=$runtime
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:handle_segv=1:quarantine_size_mb=64
export PYCRYPTODOME_DISABLE_DEEPBIND=1
EOF
echo "built $out/libotr.so.5 ($(clang --version | head -1)); to use it: source $out/env.sh"
