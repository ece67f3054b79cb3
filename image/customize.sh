#!/usr/bin/env bash
# mmdebstrap's customize hook for image/build.sh, run on the host as root once the Debian packages are in:
#   customize.sh ROOTFS WHEELS VERSION
# installs dnslb VERSION and its dependencies from the wheels in WHEELS into the venv /opt/dnslb, checks that the
# `dnslb` and `exabgp` commands run and that every module has its bytecode, and adds the user dnslb (65532:65532).
set -euo pipefail

die() { echo "image/customize.sh: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: customize.sh ROOTFS WHEELS VERSION"
rootfs=$1 wheels=$2 version=$3
venv=/opt/dnslb
site=$venv/lib/python3.11/site-packages

# Everything in the rootfs runs with a clean environment: none of the host's pip or Python settings reach the venv.
in_rootfs() {
  chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 "$@"
}

[ -x "$rootfs/usr/bin/python3.11" ] || die "no /usr/bin/python3.11 in the rootfs"
mkdir "$rootfs/tmp/wheels"
cp "$wheels"/*.whl "$rootfs/tmp/wheels/"
pip_wheels=("$rootfs"/tmp/wheels/pip-*.whl)
[ -f "${pip_wheels[0]}" ] || die "no pip wheel in $wheels"
pip=/tmp/wheels/$(basename "${pip_wheels[0]}")/pip

in_rootfs /usr/bin/python3 -m venv --without-pip "$venv"
# pip runs from its wheel and so stays out of the image
in_rootfs "$venv/bin/python" "$pip" install --isolated --quiet --no-index --no-cache-dir --no-compile \
  --find-links /tmp/wheels "dnslb==$version"
rm -rf "$rootfs/tmp/wheels"
# kubernetes >= 35 carries a second, asyncio copy of its whole client (kubernetes/aio, about 70 MB with its bytecode)
# that nothing in dnslb imports; the Dockerfile drops it too
rm -rf "${rootfs:?}$site/kubernetes/aio"
# Bytecode for every module, now, on every core: the root filesystem is read-only at run time (and
# PYTHONDONTWRITEBYTECODE=1 keeps Python from trying to write there); Debian's packages compiled the standard library.
# Unchecked hashes, not timestamps: mmdebstrap clamps the mtimes of the files made here to its start time, which would
# make every timestamp-checked .pyc stale; in an image the sources never change under their bytecode anyway.
in_rootfs "$venv/bin/python" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$venv" ||
  die "compiling the venv's modules failed (above)"

# Fail the build here if either command is broken, or if a module would be compiled at run time.
in_rootfs "$venv/bin/dnslb" --version >/dev/null || die "dnslb --version fails in the image"
in_rootfs "$venv/bin/exabgp" version >/dev/null || die "exabgp version fails in the image"
in_rootfs "$venv/bin/python" - "$venv" /usr/lib/python3.11 <<'PY' || die "modules without bytecode (above)"
import importlib.util, pathlib, sys
missing = [
    str(path)
    for top in sys.argv[1:]
    for path in pathlib.Path(top).rglob("*.py")
    if not pathlib.Path(importlib.util.cache_from_source(str(path))).is_file()
]
for path in missing[:20]:
    print("image/customize.sh: no bytecode for", path, file=sys.stderr)
sys.exit(1 if missing else 0)
PY

# The user the image runs as. A passwd entry because the speaker looks its own name up for ExaBGP's config; no home.
# (Essential-only Debian has no useradd: the entries useradd --system would write, written directly.)
if grep -q '^dnslb:' "$rootfs/etc/passwd" "$rootfs/etc/group"; then die "the rootfs has a dnslb user or group"; fi
echo "dnslb:x:65532:" >>"$rootfs/etc/group"
echo "dnslb:x:65532:65532::/nonexistent:/usr/sbin/nologin" >>"$rootfs/etc/passwd"
# (no shadow files without the passwd package; were they there, the account would be locked in them)
if [ -f "$rootfs/etc/shadow" ]; then echo "dnslb:!:::::::" >>"$rootfs/etc/shadow"; fi
if [ -f "$rootfs/etc/gshadow" ]; then echo "dnslb:!::" >>"$rootfs/etc/gshadow"; fi

# What the build left behind that the image does not need: logs of this build, caches rebuilt on demand.
rm -rf "$rootfs"/var/log/apt "$rootfs"/var/log/dpkg.log "$rootfs"/var/log/alternatives.log \
  "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old "$rootfs"/var/cache/ldconfig/aux-cache
