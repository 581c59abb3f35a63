# The benchmark harness (issue 9): `make bench` compares cis490-shipper
# with the tar | zstd | curl pipeline into nginx and writes
# bench/RESULTS.md.  Not part of `make check`: it takes minutes, needs
# nginx, and its numbers are measurements, not pass/fail.
#
#   make bench            the full run (under 15 minutes on 2 cores)
#   make bench SMALL=1    small corpora, for working on the harness
#   make bench-deps       only install what the benchmark needs
#
# BENCH_SEED picks the corpus; corpora are cached in BENCH_CACHE, keyed
# by the seed, the size and the generator's version.  More knobs, read
# by bench/run.sh from the environment: BENCH_LABELS="a b" (only these
# corpora) and BENCH_EXTRAS=0 (no memory, idle or latency part) make a
# partial run, written to $(BENCH_CACHE)/RESULTS-partial.md;
# BENCH_VARIANTS="compression threads 2" (shipper.conf lines, ";"
# between them) and BENCH_VARIANT_LABELS="a b" choose what ours is also
# run with; IDLE_WINDOW=60 (seconds).  bench/profile.sh profiles one
# corpus by hand.

# Installed by bench-deps only, so `make check` never installs nginx.
BENCH_PKGS = nginx python3 openssl curl zstd tar procps
BENCH_CACHE ?= /var/tmp/cis490-bench
BENCH_SEED ?= 490
BENCH_GEN = build/std/bench/bench-gen

.PHONY: bench bench-deps

bench-deps: deps
	@missing=$$(for p in $(BENCH_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make bench-deps: installing" $$missing; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null; then SUDO=sudo; \
		else echo "make bench-deps: need root to install:" \
		     $$missing >&2; exit 1; fi; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install \
		    -y -q --no-install-recommends $$missing; \
	fi

# Always the optimised build: sanitizer numbers would mean nothing.
bench: bench-deps
	@$(MAKE) --no-print-directory SANITIZE= all $(BENCH_GEN)
	SHIPPER=$(abspath build/std/cis490-shipper) \
	    RECEIVER=$(abspath build/std/cis490-receiver) \
	    BENCH_GEN=$(abspath $(BENCH_GEN)) BENCH_CACHE=$(BENCH_CACHE) \
	    BENCH_SEED=$(BENCH_SEED) SMALL=$(SMALL) \
	    bash bench/run.sh

$(BUILD)/bench/bench-gen: $(BUILD)/bench/gen.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^
