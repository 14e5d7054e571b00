# VM test harness (scripts/vm, tests/vm) and benchmarks (scripts/bench).
#   make vmtest [T='name ...']   run the VM tests (all, or those named; globs allowed)
#   make test-vm                 the same, as a suite of `make test`
#   make bench-vm [FS='gfs2 ext4'] [RUNS=3]   the peer benchmarks, docs/bench/results.md
TEST_SUITES += vm
BENCH += bench-vm

.PHONY: vmtest test-vm bench-vm
vmtest: build-all
	T="$(T)" tests/vm/run.sh

test-vm: build-all
	T="$(T)" tests/vm/run.sh

bench-vm: build-all
	scripts/bench/run.sh $(if $(FS),--fs "$(FS)") $(if $(RUNS),--runs $(RUNS))
