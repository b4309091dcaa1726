# Every target does its own set-up: a fresh clone needs only Python >= 3.11.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of torch that the project is tested with.
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed
# Use the shared dataset folder beside the checkout when there is one (CI's layout); otherwise dllab looks in
# ~/.cache/dllab and downloads.
DLLAB_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export DLLAB_DATA

.PHONY: install demo suite test notebooks lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test,browser,ray,slurm,mlflow,notebook,s3]"
	touch $(STAMP)

## suite: every experiment at the smoke preset, then the combined report (runs/suite-smoke/report.html and .pdf)
suite: $(STAMP)
	$(BIN)/dllab suite --preset smoke --out runs/suite-smoke --resume

## demo: train multinomial logistic regression on MNIST (cpu preset, ~1 min) and print the report's path
demo: $(STAMP)
	$(BIN)/dllab run mnist-logreg --preset cpu

## test: the whole test suite (needs DLLAB_DATA pointing at the datasets, e.g. ../shared/data): the tests that
## assert a time or a CPU share alone first, then the rest on TEST_WORKERS pytest-xdist workers (a file each)
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -m serial
	$(BIN)/python -m pytest -m "not serial" -n $(TEST_WORKERS) --dist loadfile

## notebooks: execute the five homework notebooks at smoke (fresh kernels; executed copies in build/notebooks)
notebooks: $(STAMP)
	$(BIN)/python notebooks/run.py --out build/notebooks

## lint: ruff (the rules are in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/data_loading.py

clean:
	rm -rf $(VENV) runs build .pytest_cache
