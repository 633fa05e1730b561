# Two commands do everything on a fresh machine: `make book` and `make test`.
# Both create .venv if it is missing and install the pinned requirements.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= quick

export TQDM_DISABLE ?= 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: install notebooks html book test unit nbval seeds bench check-pages mathjax clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

install: $(STAMP)

## Run every notebook in place (papermill is the only executor), keeping a committed
## notebook whose cells come out unchanged (scripts/execute_notebook.py: papermill's
## timings do not count), so re-running on stored results rewrites nothing. The
## notebooks' defaults are the quick profile; `make notebooks PROFILE=full` injects another.
## Quick runs compute on one thread each, so two papers run at a time on two
## cores (JOBS=1: one at a time); a paper's notebooks run in order, since later
## sections reuse what earlier ones cached; the summary pages run last.
PROFILE_PARAM := $(if $(filter-out quick,$(PROFILE)),-p profile $(PROFILE))
JOBS ?= $(if $(filter quick,$(PROFILE)),2,1)
PAPERS := $(sort $(dir $(wildcard notebooks/*/*.ipynb)))
SUMMARY_NOTEBOOKS := $(wildcard notebooks/*.ipynb)
EXECUTE = $(BIN)/python scripts/execute_notebook.py $(PROFILE_PARAM)
notebooks: $(STAMP)
	@printf '%s\n' $(PAPERS) | xargs -P $(JOBS) -n 1 sh -c 'for nb in "$$0"*.ipynb; do \
	  $(EXECUTE) --cwd "$$0" "$$nb" || exit 255; done'
	@for nb in $(SUMMARY_NOTEBOOKS); do $(EXECUTE) --cwd notebooks "$$nb" || exit 1; done

## Build the site from the committed notebooks (no execution); a warning fails it.
## --all re-reads every page, so a warning from an unchanged page still fails the build.
html: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo "Book: file://$(abspath _build/html/index.html)"

book: notebooks html

unit: $(STAMP)
	$(BIN)/python -m pytest tests -q -n 2 -p no:cacheprovider

## nbval re-executes every notebook in verification mode (WEIGHTSPACE_VERIFY=1: each
## experiment is recomputed, nothing is written) and compares the cells tagged
## nbval-check-output with the committed outputs. Those digits reproduce on the CPU
## model they were made on (named in their provenance), with the quick profile's AVX2
## pin (weightspace.isa); elsewhere (another CPU model, ARM, no AVX2,
## WEIGHTSPACE_NATIVE_KERNELS=1) it says so in one line and instead recomputes seed 0
## of every quick experiment and checks that each claim holding in every committed seed
## holds again (a margin outside the committed seeds' band is printed as a note).
nbval: $(STAMP)
	@if $(BIN)/python -m weightspace kernels --digits; then \
	  WEIGHTSPACE_VERIFY=1 $(BIN)/python -m pytest -q --nbval-lax -n 2 --dist loadscope \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider notebooks; \
	else \
	  echo "nbval: the committed digits cannot be compared here; checking claims and seed bands instead"; \
	  WEIGHTSPACE_VERIFY=1 $(BIN)/python -m weightspace claims --recompute; \
	fi

test: unit nbval

## Seeds 1 and 2 of every quick experiment (the notebooks run seed 0), the claims'
## other seeds: one Ray task per run on this machine's cores, each result written as
## it arrives; stored results are skipped, so an interrupted run resumes.
seeds: $(STAMP)
	$(BIN)/python -m weightspace sweep all --seeds 1-2 --profile quick --backend ray

## Time the library's hot paths against in-project baselines (one thread, interleaved) and
## write results/bench/<device>.json; not part of `make test`. BENCH=nern runs only matching cases.
bench: $(STAMP)
	$(BIN)/python -m weightspace bench $(BENCH)

## Open every page of the built book in headless Chromium: images load, tables
## have rows, MathJax renders, nothing is fetched from outside the local server.
check-pages: $(STAMP)
	$(BIN)/python scripts/check_pages.py _build/html

## Refresh the vendored MathJax in book/_mathjax from npm (not part of the build).
MATHJAX_VERSION ?= 3
mathjax:
	@tmp="$$(mktemp -d)" && trap 'rm -rf "$$tmp"' EXIT && \
	npm install --prefix "$$tmp" --no-save --no-audit --no-fund --silent mathjax@$(MATHJAX_VERSION) && \
	src="$$tmp/node_modules/mathjax" && \
	rm -rf book/_mathjax && \
	mkdir -p book/_mathjax/output/chtml/fonts book/_mathjax/input/tex && \
	cp "$$src/es5/tex-mml-chtml.js" book/_mathjax/ && \
	cp -r "$$src/es5/output/chtml/fonts/woff-v2" book/_mathjax/output/chtml/fonts/ && \
	cp -r "$$src/es5/input/tex/extensions" book/_mathjax/input/tex/ && \
	cp "$$src/LICENSE" book/_mathjax/LICENSE && \
	version="$$(node -p "require('$$src/package.json').version")" && \
	printf 'mathjax %s (npm package, es5 build), refreshed by `make mathjax`\n' "$$version" > book/_mathjax/VERSION && \
	echo "book/_mathjax: mathjax $$version"

clean:
	rm -rf _build
