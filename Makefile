# dmdesk — two commands: `make run` and `make test`. Everything else is what they use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY310 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10.*/bin/python3.10) $(shell command -v python3.10))
PY311 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.11.*/bin/python3.11) $(shell command -v python3.11))
RASA_VENV := .venv-rasa
APP_VENV := .venv-app
RASA_STAMP := $(RASA_VENV)/.installed
APP_STAMP := $(APP_VENV)/.installed
RASA := $(RASA_VENV)/bin/rasa
PY := $(APP_VENV)/bin/python
MODEL := models/dmdesk.tar.gz
RASA_ENV := PYTHONPATH=$(CURDIR) RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
TRAIN_DATA := data/nlu data/rules.yml .build/nlu_faq.yml
PIP_QUIET := --quiet --disable-pip-version-check --no-input

.PHONY: help install browser-deps train run test pytest rasa-validate rasa-test eval bench bench-parts bench-baseline lint clean

help:
	@echo "make run    install what is missing, train if needed, start the stack on the demo brand"
	@echo "make test   install what is missing, train if needed, run the whole test suite"
	@echo "make eval FILE=eval/dev.yml OUT=results/dev.json   evaluate end to end"
	@echo "make bench  end to end vs Rasa's rasa-init defaults, long conversations, replicas (BENCH_ARGS=--quick)"
	@echo "make bench-parts  handoff-to-console latency, queue with 1,000 tickets, 20 agents claiming 200;"
	@echo "            FAQ edit-to-live, index build/update/search by size; retrain-and-swap (make bench runs them too)"
	@echo "make train | install | lint | clean"

install: $(RASA_STAMP) $(APP_STAMP)

# Rasa 3.6 needs Python 3.10. Never let this environment pull torch (the
# registry serves a 5 GB CUDA build for 3.10): nothing in requirements/rasa.txt needs it.
$(RASA_STAMP): requirements/rasa.txt requirements/rasa.lock
	@test -n "$(PY310)" || { echo "Python 3.10 not found (pyenv install 3.10)"; exit 1; }
	$(PY310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install $(PIP_QUIET) --upgrade pip wheel
	$(RASA_VENV)/bin/pip install $(PIP_QUIET) -r requirements/rasa.txt -c requirements/rasa.lock
	@! $(RASA_VENV)/bin/pip show torch >/dev/null 2>&1 || { echo "torch must not be in the Rasa env"; exit 1; }
	touch $@

# Python 3.11: the CPU build of torch comes first (local wheel), so nothing later pulls a CUDA build.
$(APP_STAMP): requirements/app.txt requirements/app.lock pyproject.toml
	@test -n "$(PY311)" || { echo "Python 3.11 not found (pyenv install 3.11)"; exit 1; }
	$(PY311) -m venv $(APP_VENV)
	$(APP_VENV)/bin/pip install $(PIP_QUIET) --upgrade pip wheel
	$(APP_VENV)/bin/pip install $(PIP_QUIET) torch==2.13.0
	$(APP_VENV)/bin/pip install $(PIP_QUIET) -r requirements/app.txt -c requirements/app.lock
	$(APP_VENV)/bin/pip install $(PIP_QUIET) --no-deps -e .
	touch $@

.build/spacy_xx/meta.json: bot/nlu/spacy_pipeline.py $(RASA_STAMP)
	$(RASA_ENV) $(RASA_VENV)/bin/python -m bot.nlu.spacy_pipeline .build/spacy_xx

.build/nlu_faq.yml: data/faq.yml bot/training.py $(wildcard data/nlu/*.yml) $(APP_STAMP)
	$(PY) -m bot.training $@

# Retrains only when data, config or the NLU components changed.
$(MODEL): config.yml domain.yml data/rules.yml $(wildcard data/nlu/*.yml) .build/nlu_faq.yml .build/spacy_xx/meta.json \
          bot/nlu/components.py bot/nlu/counts.py bot/language.py $(wildcard bot/encoders/*.py) $(RASA_STAMP)
	$(RASA_ENV) $(RASA) train --data $(TRAIN_DATA) --domain domain.yml -c config.yml \
	    --out models --fixed-model-name dmdesk
	@touch $@

# The FAQ answer verifier (bot/faq/verifier.py), trained by simulation on the FAQ
# plus the labelled dev queries (never the held-out test set).
.build/verifier.json: data/faq.yml eval/dev.yml bot/faq/verifier.py bot/faq/index.py bot/faq/terms.py \
                      bot/faq/normalize.py bot/faq/lexical.py $(APP_STAMP)
	$(PY) -m bot.faq.verifier data/faq.yml $@ --calibration eval/dev.yml

train: $(MODEL) .build/verifier.json

run: install train
	$(PY) -m bot.cli run

# The browser tests (tests/browser) drive Debian's chromium through its chromedriver; nothing is
# downloaded at run time. Installed with apt when either is missing.
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
browser-deps:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
	    echo "installing chromium and chromium-driver (apt-get)…"; \
	    SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

test: install train browser-deps
	$(PY) -m bot.cli ensure-redis
	$(MAKE) --no-print-directory pytest rasa-validate rasa-test

pytest:
	$(PY) -m pytest -q -p no:cacheprovider

rasa-validate:
	$(RASA_ENV) $(RASA) data validate --data $(TRAIN_DATA) --domain domain.yml -c config.yml --quiet

rasa-test:
	$(RASA_ENV) $(RASA) test core --stories tests/stories -m $(MODEL) --fail-on-prediction-errors \
	    --out .cache/rasa-test --quiet

FILE ?= eval/dev.yml
OUT ?= results/eval.json
eval: install train
	$(PY) -m bot.cli eval $(FILE) --out $(OUT)

# The baseline of the benchmark: what Rasa's own `rasa init` config.yml resolves to (its `pipeline: null`
# and `policies: null` mean Rasa's default_config.yml), trained on our domain and data. Slow (DIET, TED and
# UnexpecTED, 100 epochs each; ~10 s an epoch on 2 quiet cores): once, cached in .cache/baseline.
# BASELINE_EPOCHS=N trains N epochs instead: same networks, so the same cost per message (bench/run.py
# reports the epochs it ran against).
BASELINE := .cache/baseline/baseline.tar.gz
BASELINE_EPOCHS ?= 100
$(BASELINE): domain.yml data/rules.yml $(wildcard data/nlu/*.yml) .build/nlu_faq.yml $(RASA_STAMP)
	mkdir -p .cache/baseline
	sed 's/epochs: 100/epochs: $(BASELINE_EPOCHS)/' "$$($(RASA_VENV)/bin/python -c 'import pathlib, rasa.engine.recipes as r; print(pathlib.Path(r.__file__).parent / "config_files" / "default_config.yml")')" > .cache/baseline/config.yml
	$(RASA_ENV) $(RASA) train --data $(TRAIN_DATA) --domain domain.yml -c .cache/baseline/config.yml \
	    --out .cache/baseline --fixed-model-name baseline
	@touch $@

bench-baseline: install $(BASELINE)

# End to end vs the baseline in the same run, long conversations, replicas, startup, retrieval
# (bench/run.py; about 16 minutes on 2 busy cores; BENCH_ARGS=--quick: about 6). Writes bench/results/e2e.{json,md,png}.
BENCH_ARGS ?=
bench: install train $(BASELINE)
	$(PY) -m bot.cli ensure-redis
	$(PY) -m bench.run $(BENCH_ARGS)
	$(MAKE) --no-print-directory bench-parts

# The agent workspace (bench/agents.py, bench/console.py: handoff latency to a live console, queue and console
# with 1,000 tickets, 20 agents claiming 200), FAQ edits (bench/faq_edit.py: edit-to-live, index by size) and
# retrain-and-swap (bench/retrain.py: time, requests failed during the swap)
bench-parts: install train browser-deps
	$(PY) -m bot.cli ensure-redis
	$(PY) -m bench.agents
	$(PY) -m bench.console
	$(PY) -m bench.faq_edit
	$(PY) -m bench.retrain

lint:
	$(APP_VENV)/bin/ruff check bot actions connectors tests
	$(APP_VENV)/bin/mypy bot

clean:
	rm -rf .build models .cache
