# The README's two commands: `make book` and `make test`. Each creates .venv from
# requirements.txt on first use (Python 3.11), so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Build the whole book, executing every chapter (full mode) on the default data.
book: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going

# Unit tests plus every chapter under nbval, in quick mode.
test: $(STAMP)
	QVIT_QUICK=1 $(BIN)/python -m pytest

clean:
	rm -rf _build
