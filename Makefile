# Shortcuts; ./scripts/test is the source of truth for the checks.
# Benchmarks need PostgreSQL: LEASESYNC_BENCH_DATABASE_URL (default
# postgresql://postgres@127.0.0.1:5432/test); each run creates and drops its own database.

VENV_PYTHON := .venv/bin/python

.PHONY: test bench bench-full

test:
	./scripts/test

# About a minute: 10 properties x 100 units, 30 turnovers.
bench:
	scripts/ensure-venv
	$(VENV_PYTHON) bench/run.py --size quick

# The issue #7 sizes: 200 properties x 500 units, 1,000 turnovers (takes long).
bench-full:
	scripts/ensure-venv
	$(VENV_PYTHON) bench/run.py --size full --profile
