# clusterfs.ko (kernel/): built with Kbuild against KDIR when kernel headers exist.
#   make kernel-module          build kernel/clusterfs.ko
#   make test-kernel-build      build it, and prove the C++ object check rejects what it must
#   make test-kernel-vm         the module's VM tests (tests/vm/kernel-*.sh)
#   make kernel-soak            the crash loop with CRASHES= iterations (default 200), then
#                               mount fuzzing with FUZZ= damaged images (default 500)
#   make demo                   boot a VM and show clusterfs working
KDIR ?= $(shell sh kernel/scripts/default-kdir.sh)
KERNEL_MODULE := kernel/clusterfs.ko

.PHONY: kernel-module test-kernel-build test-kernel-vm kernel-soak demo demo-run

ifneq ($(KDIR),)
ALL += kernel-module
endif

kernel-module:
	@if [ -z "$(KDIR)" ]; then echo "kernel-module: no kernel headers (install linux-headers-amd64 or set KDIR)" >&2; exit 1; fi
	$(MAKE) -C kernel KDIR=$(KDIR)

$(KERNEL_MODULE): kernel-module

TEST_SUITES += kernel-build
test-kernel-build: kernel-module
	kernel/tests/check-cxx-object-test.sh
	kernel/tests/module-symbols-test.sh $(KERNEL_MODULE) $(KDIR)

# VM tests of the module: tests/vm/kernel-*.sh through the harness's runner.
TEST_SUITES += kernel-vm
test-kernel-vm: kernel-module build-all
	tests/vm/run.sh 'kernel-*'

# The crash loop and the mount fuzzer for longer: make kernel-soak [CRASHES=200] [FUZZ=500]
kernel-soak: kernel-module build-all
	CFS_CRASH_ITERATIONS=$(or $(CRASHES),200) VM_TEST_TIMEOUT=$$(( $(or $(CRASHES),200) * 60 + 600 )) tests/vm/run.sh kernel-crash
	CFS_FUZZ_ITERATIONS=$(or $(FUZZ),500) VM_TEST_TIMEOUT=$$(( $(or $(FUZZ),500) * 10 + 600 )) tests/vm/run.sh kernel-fuzz

# `make demo` is the README's first command on a fresh machine: install missing packages,
# then build in a fresh make (KDIR is read at parse time, after the headers exist).
demo:
	scripts/install-deps.sh
	$(MAKE) --no-print-directory -j$$(nproc) build-all
	$(MAKE) --no-print-directory demo-run

demo-run: kernel-module build-all
	scripts/demo.sh
