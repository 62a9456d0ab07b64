# Two quick-start commands: `make demo` (set up, run the review on the bundled sample, offline)
# and `make test` (set up, run the tests). Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# --no-compile: byte-compiling ~120 packages up front costs ~20 s; Python compiles what it imports.
	$(BIN)/pip install --quiet --no-compile -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/review refresh --offline --config sample/refresh.yaml

test: $(STAMP)
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) outputs/review.sqlite* outputs/runs outputs/latest outputs/searches
