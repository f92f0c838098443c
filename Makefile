# Two commands on a fresh machine: `make demo` (install + pretrain + probe on the embedded data)
# and `make test`. Everything installs into .venv; nothing is downloaded at run time.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
INFOMIN := $(VENV)/bin/infomin
# torch's threads are set by the CLI itself (the cores it may use; --threads overrides it), see
# infomin_cli/runtime/threads.py and benchmarks/RESULTS.md, section threads.

.PHONY: install demo test test-slow test-all bench bench-gpu gpu-check lint results-table clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $@

demo: install
	$(INFOMIN) pretrain --preset demo --out runs/demo --resume
	$(INFOMIN) probe runs/demo --label class --label background --label position --results results/demo.csv
	$(INFOMIN) probe runs/demo --random-init --label class --label background --label position --results results/demo.csv

# two workers, one torch thread each. `make test` leaves out the tests marked slow (each trains or
# launches processes for more than a few seconds); CI (.ci/run) runs them too, with `make test-slow`.
test: install
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -m "not slow"

test-slow: install
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -m slow

test-all: test test-slow

bench: install
	$(PY) -m benchmarks.bench_pretrain_step
	$(PY) -m benchmarks.bench_views
	$(PY) -m benchmarks.bench_mi_staircase
	$(PY) -m benchmarks.bench_threads
	$(PY) -m benchmarks.bench_cli

bench-gpu: install  # on a machine with a CUDA GPU: views, colour conversion, training steps
	$(PY) -m benchmarks.bench_gpu

# on a machine with a CUDA GPU, first and after every change to the CUDA path (<= 8 min on one
# H100/H200): CUDA tests, bench_gpu, the streamed ResNet-50 recipes; figures into benchmarks/RESULTS.md.
# `$(PY) -m benchmarks.gpu_check --dry-run` runs every step tiny on a CPU.
gpu-check: install
	$(PY) -m benchmarks.gpu_check

# the README's results table, rebuilt from the headers of docs/figures/*.md (tests/test_figure_notes.py
# fails while it is stale)
results-table: install
	$(PY) docs/figures/make_table.py

lint: install
	$(VENV)/bin/ruff check infomin_cli tests benchmarks

clean:
	rm -rf runs/demo results/demo.csv
