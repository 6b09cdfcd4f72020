# 政务智能助手 — one command to set up, one to run, one to test.
# Every step is a file target, so re-running `make setup` skips what is up to date.

PYTHON_SYS ?= python3.11
VENV       := .venv
PY         := $(VENV)/bin/python
PIP        := $(VENV)/bin/pip
RASA       := $(VENV)/bin/rasa
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONWARNINGS := ignore::DeprecationWarning

KB_DATA     := $(shell find knowledge_base/data -type f 2>/dev/null)
KB_CODE     := $(shell find knowledge_base -name '*.py' -not -path '*/embedder/*' 2>/dev/null)
RASA_INPUTS := config.yml domain.yml $(shell find training_data -type f 2>/dev/null) \
               $(shell find knowledge_base/data/dict -type f 2>/dev/null)

.PHONY: setup venv browser embedder index triage train run test test-fast validate eval bench bench-kb bench-triage bench-flood bench-assist faults lint format clean

setup: venv browser embedder index triage train  ## everything a fresh machine needs
	@echo "setup: done. Start the assistant with: make run"

venv: $(VENV)/.ready
$(VENV)/.ready: requirements/lock.txt scripts/check_env.py
	test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check pip==24.2
	$(PIP) install --quiet --disable-pip-version-check --ignore-requires-python --no-deps -r requirements/lock.txt
	$(PY) scripts/check_env.py
	touch $@

browser:  ## Debian's chromium and a Chinese font for the browser tests (skipped when present)
	@if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s fonts-wqy-microhei >/dev/null 2>&1; then \
	  echo "setup: installing Debian's chromium and fonts-wqy-microhei (needs root)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	fi

embedder: build/embedder/.checked
build/embedder/.checked: $(VENV)/.ready
	$(PY) -m knowledge_base build-embedder --out build/embedder
	$(PY) -m knowledge_base check-embedder --model build/embedder
	touch $@

index: build/index/manifest.json
build/index/manifest.json: build/embedder/.checked $(KB_DATA) $(KB_CODE)
	$(PY) -m knowledge_base build

# The triage classifier, trained on the shared labelled citizen messages
# (../shared/data); without them setup goes on and the assistant runs without
# triage (every free message goes to the knowledge base).
TRIAGE_CODE := $(shell find knowledge_base/triage -name '*.py' 2>/dev/null)
triage: build/triage/model.json
build/triage/model.json: $(VENV)/.ready $(TRIAGE_CODE) knowledge_base/data/dict/userdict.txt
	$(PY) -m knowledge_base.triage train --if-data

# Rasa's training cache does not fingerprint the jieba dictionary folder, so a
# changed dictionary forces a full retrain.
train: models/.trained
models/.trained: $(VENV)/.ready $(RASA_INPUTS)
	$(RASA) train --data training_data --fixed-model-name assistant --out models \
	  $(if $(filter knowledge_base/data/dict/%,$?),--force)
	touch $@

run: $(VENV)/.ready  ## start every process; Ctrl-C stops them all
	$(PY) -m bot run

validate: $(VENV)/.ready
	$(RASA) data validate --data training_data --fail-on-warnings

test: $(VENV)/.ready validate  ## pytest (starts the services it needs) + rasa data validate
	$(PY) -m pytest

test-fast: $(VENV)/.ready
	$(PY) -m pytest -m "not slow"

eval: $(VENV)/.ready  ## retrieval numbers on the shared Beijing sets
	$(PY) -m knowledge_base eval \
	  --corpus ../shared/data/msgabench_beijing_gov_qa/gov_faq.jsonl \
	  --queries ../shared/eval/beijing_faq_dev.jsonl \
	  --queries ../shared/eval/beijing_unanswerable_dev.jsonl

bench: $(VENV)/.ready
	$(PY) -m benchmarks

faults: $(VENV)/.ready  ## submission fault cases with counts (needs PostgreSQL on 127.0.0.1:5432)
	$(PY) -m tests.actions.fault_cases --postgres

# atheris over the parsers that take outside input; FUZZ_RUNS inputs each.
FUZZ_RUNS ?= 20000
.PHONY: fuzz
fuzz: $(VENV)/.ready  ## fuzz WeChat XML+decrypt, web and backend bodies, answers, FAQ import (~3 min)
	$(PY) -m fuzz --runs $(FUZZ_RUNS)

bench-kb: $(VENV)/.ready  ## KB quality vs single legs, field detection, speed at 2k/20k/100k (~6 min)
	$(PY) -m benchmarks --only kb

bench-triage: $(VENV)/.ready  ## triage precision/recall on the held-out split, routing, speed (~1 min)
	$(PY) -m benchmarks --only triage

bench-assist: $(VENV)/.ready  ## hotline assist suggest latency, 2 and 10 turns, 1 and 4 agents (~2 min)
	$(PY) -m benchmarks --only assist

bench-flood: $(VENV)/.ready  ## other citizens' latency with and without a flood, limits on/off (~1 min)
	$(PY) -m benchmarks --only flood

lint: $(VENV)/.ready
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.ready
	$(VENV)/bin/ruff format .

clean:  ## remove what setup builds except the venv
	rm -rf build models var
