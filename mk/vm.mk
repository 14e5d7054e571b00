# VM test harness (scripts/vm, tests/vm) and benchmarks (scripts/bench).
#   make vmtest [T='name ...']   run every VM test, or those named (globs allowed)
#   make test-vm                 the `vm` suite of `make test`: the VM tests no other
#                                suite runs (see VM_SUITE_EXCLUDE)
#   make bench-vm [FS='gfs2 ext4'] [RUNS=3]   peer benchmarks -> docs/bench/results.md
#
# Another fragment whose suite runs some tests/vm scripts itself appends their pattern
# to VM_SUITE_EXCLUDE so `make test` does not run them twice. kernel-* is run by
# test-kernel-vm (mk/kernel.mk). gfs2-survivors is a measurement for
# docs/bench/cluster-failure.md, run by hand (make vmtest T=gfs2-survivors).
TEST_SUITES += vm
BENCH += bench-vm
VM_SUITE_EXCLUDE += kernel-* gfs2-survivors

.PHONY: vmtest test-vm bench-vm
vmtest: build-all
	T="$(T)" tests/vm/run.sh

test-vm: build-all
	tests/vm/run.sh --jobs $$(nproc) $(foreach p,$(VM_SUITE_EXCLUDE),--exclude '$(p)')

bench-vm: build-all
	scripts/bench/run.sh $(if $(FS),--fs "$(FS)") $(if $(RUNS),--runs $(RUNS))
