# dnslb: one image for `dnslb controller`, `dnslb speaker` (ExaBGP included) and the `dnslb` command.
# `make image` builds this image with no container engine (image/build.sh: mmdebstrap and umoci, an OCI archive);
# this Dockerfile is the same image for Docker users: docker build -t dnslb:0.1.0 .
# tests/deploy/test_image.py checks that both describe the same image (base, user, entrypoint, command, environment,
# ports, labels). Run as the non-root user 65532, entrypoint `dnslb`:
#   docker run --rm -i dnslb:0.1.0 plan -f - < examples/config.yaml
# The manifests in deploy/ run it with a read-only root filesystem and every capability dropped.

FROM debian:bookworm-slim AS build
# Debian's Python 3.11, the interpreter of the venv in both stages (and in image/build.sh's rootfs).
# Unpinned: Debian's security updates come under these names.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# pip in a venv of its own (the pip a venv brings can stall resolving this dependency set: pin a recent one), which
# installs into /opt/dnslb from outside (--python): the image carries no pip.
RUN python3 -m venv /opt/pip \
 && /opt/pip/bin/pip install --no-cache-dir pip==26.3 \
 && python3 -m venv --without-pip /opt/dnslb
WORKDIR /src
# Only what `pip install .` reads (.dockerignore keeps everything else out of the context).
COPY pyproject.toml README.md ./
COPY dnslb ./dnslb
COPY providers ./providers
# The project, its built-in DNS providers and its dependencies, ExaBGP 5 among them (the speaker runs the `exabgp`
# script installed next to this Python). kubernetes/aio, the client's asyncio copy, is never imported: dropped.
# Bytecode for everything now (the root filesystem is read-only at run time), unchecked-hash as image/build.sh makes
# it: Python never compares it with a source that cannot change. Fail here if either command is broken.
RUN /opt/pip/bin/pip --python /opt/dnslb/bin/python install --no-cache-dir --no-compile . \
 && rm -rf /opt/dnslb/lib/python3.11/site-packages/kubernetes/aio \
 && /opt/dnslb/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/dnslb \
 && /opt/dnslb/bin/dnslb --version \
 && /opt/dnslb/bin/exabgp version

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="dnslb" \
      org.opencontainers.image.description="LoadBalancer VIPs for bare-metal Kubernetes, announced over BGP, published in DNS" \
      org.opencontainers.image.licenses="Apache-2.0"
# python3 as in the build stage; netbase (/etc/services, /etc/protocols), tzdata (the local time zone the schedulers
# ask for), ca-certificates (the system trust store for TLS clients). A fixed numeric user with a passwd entry:
# Kubernetes can check runAsNonRoot against a numeric USER, and the speaker names this user to ExaBGP (it looks its
# own name up).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 netbase tzdata ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 dnslb \
 && useradd --system --uid 65532 --gid dnslb --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin dnslb
COPY --from=build /opt/dnslb /opt/dnslb
ENV PATH=/opt/dnslb/bin:$PATH \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
# controller metrics/health, speaker metrics/health
EXPOSE 9090 9091
ENTRYPOINT ["dnslb"]
CMD ["--help"]
