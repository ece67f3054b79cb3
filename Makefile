# The two commands a fresh Debian machine (Python 3.11, root) needs: `make test` and `make lab`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEBS := bind9 pdns-server pdns-backend-sqlite3 bird2 frr iproute2 nginx prometheus
LAB_DEBS := bird2 frr bind9 nginx iproute2
# `make lab` runs the production test short, with the resilient ECMP hashing the README recommends at the router;
# `make lab LAB_ARGS="--scenario flapping --duration 300"` for more, `--router ecmp` for plain hash-threshold ECMP
LAB_ARGS ?= --scenario node-down --duration 60 --users 100 --db-users 10 --router resilient

.PHONY: test lint types unit lab bench crds debs install-debs venv clean image

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# the pip that venv brings stalls resolving this dependency set; upgrade it first
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,lab]'
	touch $@

debs:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(DEBS)"
	@# tests/deploy cross-check against kubectl; any kubectl on PATH does, else Debian's
	@command -v kubectl >/dev/null || $(MAKE) --no-print-directory install-debs PACKAGES=kubernetes-client

install-debs:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit

test: venv debs lint types
	$(BIN)/pytest

crds: venv
	$(BIN)/python -m dnslb.app.crds deploy/crds

bench: venv
	@for f in bench/[!_]*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# The whole system in network namespaces under load and chaos (needs root); without root, say why and plan instead.
lab: venv
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "make lab: dnslb lab needs root (network namespaces, BIRD, BIND, NGINX); showing what dnslb would do instead:"; \
	  $(BIN)/dnslb plan -f examples/config.yaml -f examples/services.yaml; rc=$$?; \
	  if [ $$rc -eq 1 ]; then echo "(exit 1: some example Services got no VIP, as the invalid example intends)"; \
	  elif [ $$rc -ne 0 ]; then exit $$rc; fi; \
	else \
	  $(MAKE) --no-print-directory install-debs PACKAGES="$(LAB_DEBS)" && \
	  $(BIN)/dnslb lab run $(LAB_ARGS) --output lab-report; \
	fi

# The container image dnslb:<version> (the tag deploy/ runs), built with no container engine (needs root):
# image/build.sh makes a Debian bookworm rootfs with mmdebstrap and packs it with umoci into the OCI archive
# $(IMAGE_DIR)/dnslb-<version>.oci.tar, for `skopeo copy oci-archive:...` or `podman load -i`. The Dockerfile builds
# the same image where Docker runs (`docker build -t dnslb:<version> .`); hadolint lints it first.
IMAGE_DEBS := mmdebstrap umoci
IMAGE_DIR ?= build/image
image: venv
	$(BIN)/hadolint Dockerfile
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(IMAGE_DEBS)"
	PYTHON=$(BIN)/python image/build.sh $(IMAGE_DIR)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
