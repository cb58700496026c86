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
	QVIT_PROGRESS=0 $(BIN)/jupyter-book build . --all -W -n --keep-going

# Lint, then the unit tests, every chapter under nbval and the browser tests, in quick mode,
# one pytest-xdist worker per core; each worker takes whole files (a chapter's cells share a kernel).
# The tests that start a local Ray instance run afterwards, alone (Ray's node must start in 30 s).
test: lint
	QVIT_QUICK=1 $(BIN)/python -m pytest -n auto --dist loadfile -m "not ray"
	QVIT_QUICK=1 $(BIN)/python -m pytest -m ray

# The fast tests only: no chapters, no browser, nothing marked slow (about a minute).
unit: $(STAMP)
	QVIT_QUICK=1 $(BIN)/python -m pytest tests -m "not browser and not notebook and not slow"

# ruff: lint and format check of the library, the tests and the chapters' code.
lint: $(STAMP)
	$(BIN)/ruff check qvit_lib tests book
	$(BIN)/ruff format --check qvit_lib tests book

clean:
	rm -rf _build

# Refresh the vendored browser scripts (committed; the build itself needs no network):
# MathJax; require.js and the ipywidgets HTML manager (AMD build, which loads third-party
# widget modules); anywidget's front end, which renders the book's explorers from saved state.
VENDOR := book/_static/vendor
vendor:
	rm -rf /tmp/qvit-vendor && mkdir -p /tmp/qvit-vendor
	cd /tmp/qvit-vendor && npm pack --silent @jupyter-widgets/html-manager@1.0.11 mathjax@3.2.2 requirejs@2.3.7 anywidget@0.11.0
	cd /tmp/qvit-vendor && for p in *.tgz; do mkdir -p "$${p%.tgz}" && tar xzf "$$p" -C "$${p%.tgz}"; done
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/html-manager-1.0.11 $(VENDOR)/mathjax-3.2.2 $(VENDOR)/requirejs-2.3.7 $(VENDOR)/anywidget-0.11.0
	cp /tmp/qvit-vendor/jupyter-widgets-html-manager-1.0.11/package/dist/embed-amd.js /tmp/qvit-vendor/jupyter-widgets-html-manager-1.0.11/package/dist/*.woff* /tmp/qvit-vendor/jupyter-widgets-html-manager-1.0.11/package/dist/*.ttf /tmp/qvit-vendor/jupyter-widgets-html-manager-1.0.11/package/LICENSE $(VENDOR)/html-manager-1.0.11/
	cp /tmp/qvit-vendor/mathjax-3.2.2/package/es5/tex-svg-full.js /tmp/qvit-vendor/mathjax-3.2.2/package/LICENSE $(VENDOR)/mathjax-3.2.2/
	cp /tmp/qvit-vendor/requirejs-2.3.7/package/require.js $(VENDOR)/requirejs-2.3.7/
	cp /tmp/qvit-vendor/anywidget-0.11.0/package/dist/index.js /tmp/qvit-vendor/anywidget-0.11.0/package/LICENSE $(VENDOR)/anywidget-0.11.0/
