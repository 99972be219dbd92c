# Two commands for a new user: `make demo` and `make test`.
# Both create or refresh .venv idempotently and install what is missing (system packages too).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.edgeward-installed
EXTRAS := train,tflite,dev
APT_PACKAGES :=

.PHONY: demo test install system-deps bench clean

demo: install
	$(VENV)/bin/edgeward demo --out runs/demo

test: install
	$(PY) -m pytest -q

bench: install
	$(VENV)/bin/edgeward bench runs/demo/fraud

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory system-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $(STAMP)

# Debian packages the project needs; installed only when missing, and only when root.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "please install:$$missing (sudo apt-get install$$missing)"; exit 1; fi; \
	fi

clean:
	rm -rf $(VENV) runs build *.egg-info
