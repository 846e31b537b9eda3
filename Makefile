# The two commands users need: `make demo` and `make test`. Each does its own set-up.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
CORES ?= 2
# Command-line tools the workflow calls (Debian package names). Debian's mosdepth loads
# libhts.so, which only libhts-dev provides.
DEBIAN_TOOLS := bcftools samtools tabix mawk fastp bwa minimap2 mosdepth libhts-dev picard-tools openjdk-17-jre-headless plink2 chromium
TOOL_COMMANDS := bcftools samtools tabix bgzip mawk fastp bwa minimap2 mosdepth PicardCommandLine java plink2 chromium

.PHONY: setup tools venv demo demo-data test test-slurm lint format bench clean

setup: tools venv

tools:
	@missing=""; for t in $(TOOL_COMMANDS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_TOOLS) >/dev/null; \
	else \
		echo "missing tools:$$missing. Install them (Debian/Ubuntu: sudo apt-get install $(DEBIAN_TOOLS))"; \
		echo "or run the workflow with 'genopass run --sdm conda' (environments in envs/)."; \
		exit 1; \
	fi

$(BIN)/genopass: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/genopass

demo-data: setup
	$(BIN)/genopass demo-data resources/demo

# The demo's config is config/config.yaml; the workflow reads no config unless it is given.
demo: demo-data
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/genopass run --configfile config/config.yaml \
		--profile workflow/profiles/local --cores $(CORES)
	@echo "demo export: results/export/demo/ (see README.md, Outputs)"

lint: setup
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/snakefmt --check workflow

format: venv
	$(BIN)/ruff check --fix src tests scripts
	$(BIN)/ruff format src tests scripts
	$(BIN)/snakefmt workflow

test: lint
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest -q
	$(MAKE) --no-print-directory test-slurm

# The demo on a real one-node SLURM cluster on localhost (scripts/slurm_cluster.py, as root;
# docs/cluster.md). Installs the Debian packages and the executor plugin when missing.
SLURM_PACKAGES := slurm-wlm slurmdbd munge mariadb-server
SLURM_PROGRAMS := /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/slurmdbd /usr/sbin/munged \
	/usr/sbin/mariadbd /usr/bin/sbatch /usr/bin/sacct
test-slurm: setup
	@missing=""; for t in $(SLURM_PROGRAMS); do test -x $$t || missing="$$missing $$t"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(SLURM_PACKAGES) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SLURM_PACKAGES) >/dev/null; \
	else \
		echo "missing$$missing. Install them as root (Debian/Ubuntu: apt-get install $(SLURM_PACKAGES))"; \
		exit 1; \
	fi
	$(BIN)/python -c 'import snakemake_executor_plugin_slurm' 2>/dev/null \
		|| $(BIN)/python -m pip install -q -e '.[dev,slurm]'
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest -q -s -m slurm tests/slurm

bench: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python scripts/bench.py

clean:
	rm -rf results .snakemake resources/demo
