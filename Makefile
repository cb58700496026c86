# The README's two commands: `make book` and `make test`. Each creates .venv from
# requirements.txt on first use (Python 3.11), so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test unit lint clean vendor

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Build the whole book, executing every chapter (full mode) on the default data.
book: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going

# Lint, then the unit tests, every chapter under nbval and the browser tests, in quick mode.
test: lint
	QVIT_QUICK=1 $(BIN)/python -m pytest

# The fast tests only: no chapters, no browser, nothing marked slow (about a minute).
unit: $(STAMP)
	QVIT_QUICK=1 $(BIN)/python -m pytest tests -m "not browser and not notebook and not slow"

# ruff: lint and format check of the library, the tests and the chapters' code.
lint: $(STAMP)
	$(BIN)/ruff check qvit_lib tests book
	$(BIN)/ruff format --check qvit_lib tests book

clean:
	rm -rf _build

# Refresh the vendored browser scripts (committed; the build itself needs no network).
VENDOR := book/_static/vendor
vendor:
	rm -rf /tmp/qvit-vendor && mkdir -p /tmp/qvit-vendor
	cd /tmp/qvit-vendor && npm pack --silent @jupyter-widgets/html-manager@1.0.11 mathjax@3.2.2
	cd /tmp/qvit-vendor && tar xzf jupyter-widgets-html-manager-1.0.11.tgz && mv package html-manager
	cd /tmp/qvit-vendor && tar xzf mathjax-3.2.2.tgz && mv package mathjax
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/html-manager-1.0.11 $(VENDOR)/mathjax-3.2.2
	cp /tmp/qvit-vendor/html-manager/dist/embed.js /tmp/qvit-vendor/html-manager/dist/*.woff* /tmp/qvit-vendor/html-manager/LICENSE $(VENDOR)/html-manager-1.0.11/
	cp /tmp/qvit-vendor/mathjax/es5/tex-svg-full.js /tmp/qvit-vendor/mathjax/LICENSE $(VENDOR)/mathjax-3.2.2/
