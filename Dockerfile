# dnslb: one image for `dnslb controller`, `dnslb speaker` (ExaBGP included) and the `dnslb` command.
# Build: `make image` (docker build -t dnslb:<version> .). Run as the non-root user 65532, entrypoint `dnslb`:
#   docker run --rm -i dnslb:0.1.0 plan -f - < examples/config.yaml
# The manifests in deploy/ run it with a read-only root filesystem and every capability dropped.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The pip an older venv brings can stall resolving this dependency set: pin a recent one first.
RUN python -m venv /opt/dnslb \
 && /opt/dnslb/bin/pip install --no-cache-dir pip==26.3
WORKDIR /src
# Only what `pip install .` reads (.dockerignore keeps everything else out of the context).
COPY pyproject.toml README.md ./
COPY dnslb ./dnslb
COPY providers ./providers
# The project, its built-in DNS providers and its dependencies, ExaBGP 5 among them (the speaker runs the
# `exabgp` script installed next to this Python). Fail the build here if either command is broken.
RUN /opt/dnslb/bin/pip install --no-cache-dir . \
 && /opt/dnslb/bin/dnslb --version \
 && /opt/dnslb/bin/exabgp version

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="dnslb" \
      org.opencontainers.image.description="LoadBalancer VIPs for bare-metal Kubernetes, announced over BGP, published in DNS" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric user with a passwd entry: Kubernetes can check runAsNonRoot against a numeric USER, and the
# speaker names this user to ExaBGP (it looks its own name up).
RUN groupadd --system --gid 65532 dnslb \
 && useradd --system --uid 65532 --gid dnslb --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin dnslb
COPY --from=build /opt/dnslb /opt/dnslb
ENV PATH=/opt/dnslb/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
# controller metrics/health, speaker metrics/health
EXPOSE 9090 9091
ENTRYPOINT ["dnslb"]
CMD ["--help"]
