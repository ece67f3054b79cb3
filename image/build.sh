#!/usr/bin/env bash
# Build the dnslb image without a container engine: a Debian bookworm rootfs made by mmdebstrap (the Essential
# packages, Debian's python3 3.11 and the few files Python and TLS clients read), the project's wheel and its
# dependencies (ExaBGP among them) in the venv /opt/dnslb, the user dnslb (65532:65532), as one OCI layer that umoci
# wraps into an image tagged dnslb:<version>. Writes OUT_DIR/dnslb-<version>.oci.tar, an OCI archive:
#   skopeo copy oci-archive:build/image/dnslb-0.1.0.oci.tar docker://registry.example/dnslb:0.1.0
#   podman load -i build/image/dnslb-0.1.0.oci.tar
# The Dockerfile builds the same image for Docker users; tests/deploy/test_image.py checks that both say the same.
#
# Usage: image/build.sh [OUT_DIR]   (default build/image; run as root: mmdebstrap and chroot)
# Environment: PYTHON (the interpreter whose pip builds the wheels; default .venv/bin/python),
#              DEBIAN_MIRROR (default http://deb.debian.org/debian), DEBIAN_SECURITY_MIRROR
#              (default http://deb.debian.org/debian-security).
set -euo pipefail

die() { echo "image/build.sh: $*" >&2; exit 1; }
[ $# -le 1 ] || die "usage: image/build.sh [OUT_DIR]"
[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap builds the rootfs in a chroot); run it as root, as CI does"
# In a mount namespace of its own: the scratch tmpfs below, and whatever mmdebstrap mounts, vanish with this script
# however it ends.
if [ -z "${_DNSLB_IMAGE_OWN_MOUNTS:-}" ]; then
  _DNSLB_IMAGE_OWN_MOUNTS=1 exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
fi

start=$SECONDS
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
out=${1:-$root/build/image}
python=${PYTHON:-$root/.venv/bin/python}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/pyproject.toml")
[ -n "$version" ] || die "no version = \"...\" line in pyproject.toml"
for tool in mmdebstrap umoci; do
  command -v "$tool" >/dev/null || die "$tool is not installed (make image installs it: apt-get install $tool)"
done
[ -x "$python" ] || die "$python not found: run make venv, or set PYTHON to a Python 3.11 with pip"
# the wheels it fetches are for its own version, and bookworm's python3 is 3.11
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
  die "$python is not Python 3.11 (the image's): set PYTHON to a Python 3.11 with pip"
mkdir -p "$out"
out=$(cd "$out" && pwd)
archive=$out/dnslb-$version.oci.tar

# All the work happens in memory (a rootfs is some 15,000 small files: on a busy disk, writing and removing them
# twice costs more than the rest of the build); under 1 GiB is used at most. mmdebstrap makes its chroot here too.
work=$(mktemp -d "${TMPDIR:-/tmp}/dnslb-image.XXXXXX")
trap 'umount -l "$work" 2>/dev/null; rm -rf --one-file-system "$work" "$archive.part"' EXIT
mount -t tmpfs -o size=4g,mode=0755 dnslb-image "$work" || die "cannot mount a tmpfs on $work"
export TMPDIR=$work

echo "image/build.sh: [$((SECONDS - start))s] wheels for dnslb $version and its dependencies"
# The project's wheel, built from what the Dockerfile's build context holds (.dockerignore: never the test kit or the
# lab), and every dependency's; pip's own wheel only carries pip into the rootfs to install them.
mkdir "$work/src"
cp -r "$root/pyproject.toml" "$root/README.md" "$root/dnslb" "$root/providers" "$work/src/"
find "$work/src" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
"$python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$work/wheels" "$work/src"
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --dest "$work/wheels" pip
[ -f "$work/wheels/dnslb-$version-py3-none-any.whl" ] || die "pip built no dnslb-$version wheel"

echo "image/build.sh: [$((SECONDS - start))s] Debian bookworm rootfs with mmdebstrap"
# Essential packages only (no apt), merged /usr through usr-is-merged (not usrmerge, which brings Perl); no docs,
# manuals or translations, except the copyright files. netbase: /etc/services and /etc/protocols; tzdata: the
# local time zone (the schedulers ask for it); ca-certificates: the system trust store for TLS clients. dpkg skips
# its fsyncs (a half-written rootfs is thrown away anyway). Its output goes to a log, shown when it fails.
if ! mmdebstrap \
  --verbose \
  --variant=essential \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --include=python3,netbase,tzdata,ca-certificates \
  --aptopt='Acquire::Languages "none"' \
  --dpkgopt=force-unsafe-io \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --customize-hook="$(printf %q "$here/customize.sh") \"\$1\" $(printf '%q %q' "$work/wheels" "$version")" \
  bookworm "$work/rootfs.tar" \
  "deb $mirror bookworm main" \
  "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main" >"$work/mmdebstrap.log" 2>&1; then
  tail -n 40 "$work/mmdebstrap.log" >&2
  die "mmdebstrap failed (the end of its log is above)"
fi

echo "image/build.sh: [$((SECONDS - start))s] OCI image dnslb:$version with umoci"
# Keep in step with the Dockerfile's final stage (tests/deploy/test_image.py compares them).
layout=$work/oci
description="LoadBalancer VIPs for bare-metal Kubernetes, announced over BGP, published in DNS"
umoci init --layout "$layout"
umoci new --image "$layout:build"
umoci raw add-layer --image "$layout:build" --history.created_by "image/build.sh: mmdebstrap bookworm" \
  "$work/rootfs.tar"
umoci config --image "$layout:build" --tag "dnslb:$version" \
  --history.created_by "image/build.sh: umoci config" \
  --config.user 65532:65532 \
  --config.entrypoint dnslb \
  --config.cmd --help \
  --config.env PATH=/opt/dnslb/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env LANG=C.UTF-8 \
  --config.env PYTHONDONTWRITEBYTECODE=1 \
  --config.env PYTHONUNBUFFERED=1 \
  --config.exposedports 9090/tcp \
  --config.exposedports 9091/tcp \
  --config.label org.opencontainers.image.title=dnslb \
  --config.label "org.opencontainers.image.description=$description" \
  --config.label org.opencontainers.image.licenses=Apache-2.0
umoci rm --image "$layout:build"
umoci gc --layout "$layout"
# The name `podman load` and containerd's `ctr -n k8s.io images import` (on a node) give the image: the one the
# kubelet asks for when a Pod says image: dnslb:<version>. (The OCI ref.name, dnslb:<version>, is umoci's tag.)
"$python" - "$layout/index.json" "docker.io/library/dnslb:$version" <<'PY'
import json, sys
path, name = sys.argv[1:]
with open(path) as f:
    index = json.load(f)
(manifest,) = index["manifests"]
manifest.setdefault("annotations", {})["io.containerd.image.name"] = name
with open(path, "w") as f:
    json.dump(index, f)
PY
tar -C "$layout" -cf "$archive.part" oci-layout index.json blobs
mv "$archive.part" "$archive"

size=$(du -m "$archive" | cut -f1)
unpacked=$(( $(stat -c %s "$work/rootfs.tar") / 1048576 ))
echo "image/build.sh: wrote $archive (dnslb:$version, ${size} MiB compressed, ${unpacked} MiB unpacked)" \
  "in $((SECONDS - start))s"
