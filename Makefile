# gpu-lab: `make test` and `make plan STACK=dev` set up everything they need; `make install`
# puts the `gpu-lab` command into $(VENV)/bin.
PYTHON ?= python3
VENV   := venv
PY     := $(VENV)/bin/python
STACK  ?= dev

.PHONY: install test plan bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	# gpu-lab itself, editable (the `gpu-lab` command reads this checkout), built with the
	# setuptools pinned above; its dependencies are the pins just installed.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps -e .
	touch $@

# Prometheus' own tools from Debian's package (promtool, prometheus), unpacked into the venv
# (no service is installed or started; `make clean` removes them with the venv): the twin
# evaluates PromQL and alert rules with promtool (kube/prometheus_engine.py).
PROMETHEUS_DIR := $(VENV)/prometheus
$(PROMETHEUS_DIR)/.installed: $(VENV)/.installed
	rm -rf $(PROMETHEUS_DIR) && mkdir -p $(PROMETHEUS_DIR)
	cd $(PROMETHEUS_DIR) && if apt-get download prometheus 2>/dev/null || \
			{ apt-get update -qq && apt-get download prometheus; }; then \
		dpkg -x prometheus_*.deb . && rm -f prometheus_*.deb && usr/bin/promtool --version; \
	else \
		echo "no Debian package prometheus: using promtool from PATH"; \
		promtool --version; \
	fi
	touch $@

install: $(VENV)/.installed $(PROMETHEUS_DIR)/.installed

# On every core: pytest-xdist hands tests to one worker per core as they free up.
test: install
	$(PY) -m pytest -n auto --dist load

plan: install
	$(VENV)/bin/gpu-lab render --stack $(STACK)

bench: install
	$(PY) bench/render.py
	$(PY) bench/tenants.py
	$(PY) bench/workload.py
	$(PY) bench/simulate.py

clean:
	rm -rf $(VENV) .pytest_cache
