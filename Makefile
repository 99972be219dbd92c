# Two commands for a new user: `make demo` and `make test`.
# Both create or refresh .venv idempotently and install what is missing (system packages too).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.edgeward-installed
EXTRAS := train,tflite,audio,camera,serve,grpc,ray,darknet,sign,dev
# the digit generator's font families (train/detect/fonts.py lists the same packages; a test keeps them equal)
FONT_PACKAGES := fonts-dejavu-core fonts-urw-base35 fonts-freefont-ttf fonts-roboto-unhinted fonts-dseg fonts-lato fonts-inconsolata fonts-hack fonts-comic-neue fonts-quicksand fonts-oxygen fonts-b612 fonts-league-spartan fonts-ocr-a fonts-noto-mono fonts-courier-prime fonts-dosis fonts-cabin fonts-ebgaramond fonts-jura fonts-linuxlibertine fonts-go fonts-cantarell fonts-open-sans fonts-crosextra-caladea fonts-ocr-b fonts-bebas-neue
# festival speaks held-out evaluation data only (train/commands/voices.py: FESTIVAL_VOICES); never trained on
FESTIVAL_PACKAGES := festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
APT_PACKAGES := espeak-ng libportaudio2 chromium chromium-driver $(FONT_PACKAGES) $(FESTIVAL_PACKAGES)
# user-mode QEMU: int8 files are checked on an AVX2 CPU without VNNI under `qemu-x86_64 -cpu Haswell`
# (devices/emulators.py); without its recommends, which would register binfmt handlers on the host
APT_NO_RECOMMENDS := qemu-user

.PHONY: demo demo-full test test-full test-all install system-deps emulators models bench bench-commands ablate-commands zoo bench-detect bench-pipeline gpu-check bench-classify bench-serve bench-batch fuzz soak audit arm64-check clean

# The demo in two tiers: `make demo` (the released models on fresh data, then each task's quick flow: short
# trainings, ONNX fp32 and int8, the runtime on new inputs) and `make demo-full` (each task's whole flow at its demo
# sizes: compression, TFLite, full benchmarks).
demo: install
	$(VENV)/bin/edgeward demo --out runs/demo

demo-full: install
	$(VENV)/bin/edgeward demo --full --out runs/demo-full

# The tests in two tiers: `make test` (what a newcomer runs, about 5 minutes: every layer end to end on tiny models)
# and `make test-full` (the rest: the tests that train models which must really learn, the article's zoo, the demo);
# `make test-all` runs both, as CI does.
# Both run in one pytest-xdist worker per core (at most 4), each test file in one worker (its fixtures made once);
# the session's tiny runs are built once for all workers (tests/conftest.py)
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
test: install
	$(PY) -m pytest -q -m "not full" -n $(TEST_WORKERS) --dist loadfile

test-full: install
	$(PY) -m pytest -q -m full -n $(TEST_WORKERS) --dist loadfile

test-all: test test-full

bench: install
	$(VENV)/bin/edgeward bench runs/demo-full/fraud

# The released models (models/, about an hour and a half on 2 cores): each rebuilt from scratch with its recipe,
# measured by the runtime on data drawn afresh, and compared with the shipped files within the recipe's tolerance.
# `python -m edgeward.tools release --skip-build --publish` replaces the shipped files (a maintainer's step).
models: emulators
	$(PY) -m edgeward.tools release

# The full-size voice-commands benchmark (about an hour on 2 cores): docs/benchmarks.md's commands tables.
# `tune` chooses the stream thresholds on the validation voices' stream; the test voices' stream is only
# measured, and the training voices' stream beside it says how much of a shortfall is voices never heard.
# These streams say every word at 5-30 dB, the clips' range; the stress stream at -6 to 34 dB is reported by
# SNR band. Why the streams are this long: docs/decisions.md.
bench-commands: install
	$(VENV)/bin/edgeward data commands runs/commands-data --per-class 1000 --stream-minutes 360 --val-stream-minutes 180 \
		--train-stream-minutes 180 --stress-stream-minutes 120
	$(VENV)/bin/edgeward train commands --data runs/commands-data --out runs/commands --epochs 60 --filters 80
	$(VENV)/bin/edgeward tune commands runs/commands
	$(VENV)/bin/edgeward compress runs/commands --qat --qat-epochs 6
	-$(VENV)/bin/edgeward export runs/commands --all --max-drop 1  # an artifact outside budget fails it; bench the rest
	$(VENV)/bin/edgeward bench runs/commands

# The founding article's models at its sizes (ResNet50 at 224x224): trained, exported, checked; README's table.
zoo: install
	$(VENV)/bin/edgeward zoo check --full --readme README.md

# Which waveform augmentations and accents the commands model keeps (about 45 minutes on 2 cores): each alone
# against none at a proxy scale, chosen on festival's choosing half (docs/benchmarks.md, issue 26 round 2).
ablate-commands: install
	$(VENV)/bin/edgeward data commands runs/ablation-data/plain --per-class 300 --stream-minutes 0
	$(VENV)/bin/edgeward data commands runs/ablation-data/accents --per-class 300 --stream-minutes 0 --accents 0.3
	$(VENV)/bin/edgeward data commands runs/ablation-data/festival --engine festival --eval-only --per-class 100 \
		--stream-minutes 0
	$(PY) -m edgeward.tasks.commands.ablation --plain runs/ablation-data/plain --accented runs/ablation-data/accents \
		--festival runs/ablation-data/festival --out runs/ablation

# What a detection frame costs around the model, on one core: preprocessing of a 640x480 frame, post-processing of
# 8,400 candidates, Detector.detect beside the bare session.run (a minute; docs/benchmarks.md).
bench-pipeline: install
	$(PY) -m edgeward.tools bench-pipeline --json runs/bench-pipeline.json

# Detection on an NVIDIA GPU beside the bare call, IO binding and a CUDA graph (runs/gpu-check.json); without a CUDA
# GPU it says so, measures the CPU pipeline instead and exits 0 (make test runs that path).
gpu-check: install
	$(PY) -m edgeward.tools gpu-check --out runs/gpu-check.json

# The full-size detection benchmark (about an hour on 2 cores): docs/benchmarks.md's detection tables.
bench-detect: install
	$(VENV)/bin/edgeward data detect runs/detect-data --images 6000 --holdout 500
	$(VENV)/bin/edgeward train detect --data runs/detect-data --out runs/detect --epochs 30
	-$(VENV)/bin/edgeward export runs/detect --format all --precision fp32,fp16,int8 --max-drop 1
	$(VENV)/bin/edgeward bench runs/detect

# The classification benchmark (about 30 minutes on 2 cores): docs/benchmarks.md's classification tables,
# the generated objects, then the nodules.
bench-classify: install
	$(VENV)/bin/edgeward data classify runs/classify-data --per-class 1000 --holdout 200
	$(VENV)/bin/edgeward train classify --data runs/classify-data --out runs/classify --epochs 20
	-$(VENV)/bin/edgeward export runs/classify --format all --precision fp32,int8 --max-drop 1
	$(VENV)/bin/edgeward bench runs/classify
	$(VENV)/bin/edgeward data classify runs/nodules-data --kind nodules --per-class 1000 --holdout 200
	$(VENV)/bin/edgeward train classify --data runs/nodules-data --out runs/nodules --epochs 12 --learning-rate 0.001
	-$(VENV)/bin/edgeward export runs/nodules --format all --precision fp32,int8 --max-drop 1
	$(VENV)/bin/edgeward bench runs/nodules

# Serving under load (a few minutes): fraud scoring over HTTP at 1, 8 and 64 clients, with and without dynamic
# batching, beside in-process scoring; the detection stream with one and two viewers. The models are small and
# briefly trained: the server is what is measured.
bench-serve: install
	$(VENV)/bin/edgeward data fraud runs/serve-data.csv --rows 50000 --days 40
	$(VENV)/bin/edgeward train fraud --data runs/serve-data.csv --out runs/serve-fraud --epochs 3
	$(VENV)/bin/edgeward export runs/serve-fraud
	$(VENV)/bin/edgeward data detect runs/serve-detect-data --images 200 --holdout 40 --video-seconds 10
	$(VENV)/bin/edgeward train detect --data runs/serve-detect-data --out runs/serve-detect --epochs 2
	$(VENV)/bin/edgeward export runs/serve-detect
	$(VENV)/bin/edgeward bench-serve runs/serve-fraud --seconds 10 --video-run runs/serve-detect

# Batch scoring (about 10 minutes): a 10M-row CSV (the run's data repeated) scored in this process and on a local
# Ray instance with 1 and 2 actors; docs/scale.md.
bench-batch: install
	$(VENV)/bin/edgeward data fraud runs/serve-data.csv --rows 50000 --days 40
	$(VENV)/bin/edgeward train fraud --data runs/serve-data.csv --out runs/serve-fraud --epochs 3
	$(VENV)/bin/edgeward export runs/serve-fraud
	$(VENV)/bin/edgeward bench-batch runs/serve-fraud --rows 10000000

# Fuzzing (not part of `make test`, which runs a short budget of each): 100,000 Hypothesis inputs for each parser of
# untrusted bytes (it prints how many it ran), then 1,000,000 coverage-guided atheris runs of each atheris target.
fuzz: install
	EDGEWARD_FUZZ_EXAMPLES=100000 $(PY) -m pytest -q tests/system/test_fuzz.py --hypothesis-show-statistics -p no:cacheprovider \
		-k "not atheris"
	mkdir -p runs
	for target in wav manifest onnx tflite image kserve keras; do \
		$(PY) tests/fuzz_atheris.py $$target -runs=1000000 -seed=1 > runs/fuzz-$$target.log 2>&1 \
			|| { tail -40 runs/fuzz-$$target.log; echo "atheris $$target: FAILED"; exit 1; }; \
		echo "atheris $$target: $$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' runs/fuzz-$$target.log), 0 failing"; done

# Soak (not part of `make test`): an hour of audio, 20,000 video frames and a 10-million-row CSV through the runtime
# in one process, its memory, threads and open files sampled every second; writes runs/soak/soak.json and soak.png.
soak: install
	$(PY) -m edgeward.tools soak --out runs/soak

# The runtime on aarch64 under user-mode QEMU (no binfmt, nothing installed on the host): Debian arm64 packages and
# aarch64 wheels in .arm64 (built once), the runtime's TensorFlow-free tests, device profiles, and x86/arm64 parity
# of every task's artifacts; prints the parity table (runs/arm64/arm64-check.md). CI runs it after the tests.
arm64-check: install
	$(PY) -m edgeward.tools arm64-check --root .arm64 --out runs/arm64

# The emulated CPUs int8 files are checked on (devices/emulators.py): qemu-x86_64 for AVX2 without VNNI comes with
# `install`; this adds the aarch64 Python in .arm64 (built once, a few minutes: Debian arm64 packages and aarch64
# wheels), so that `make test`, `edgeward export --targets arm64` and `edgeward zoo check` check arm64 too.
emulators: install
	@test -x .arm64/bin/python3 -a -d .arm64/site/onnxruntime || ROOT=.arm64 HOST_PY=$(PY) sh devices/emulation/arm64-env.sh

# Known vulnerabilities in the installed dependencies (pip-audit against PyPI's advisory data): reported, not
# silenced; a finding does not fail the build, it is printed and kept in runs/audit.json for the team to act on.
audit: install
	$(PY) -m edgeward.tools audit --out runs/audit.json

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
	bare=""; for p in $(APT_NO_RECOMMENDS); do dpkg -s $$p >/dev/null 2>&1 || bare="$$bare $$p"; done; \
	if [ -n "$$missing$$bare" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq \
	    && { [ -z "$$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; } \
	    && { [ -z "$$bare" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$bare; }; \
	  else echo "please install:$$missing$$bare (sudo apt-get install$$missing; sudo apt-get install --no-install-recommends$$bare)"; exit 1; fi; \
	fi

clean:
	rm -rf $(VENV) runs build *.egg-info
