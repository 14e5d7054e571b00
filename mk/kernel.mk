# clusterfs.ko (kernel/): built with Kbuild against KDIR when kernel headers exist.
#   make kernel-module          build kernel/clusterfs.ko
#   make test-kernel-build      build it, and prove the C++ object check rejects what it must
#   make test-kernel-vm         the module's VM tests (tests/vm/kernel-*.sh)
#   make kernel-soak            the crash loop with CRASHES= iterations (default 200), then
#                               mount fuzzing with FUZZ= damaged images (default 500),
#                               node kills, the POSIX suite on a two-node cluster
#   make demo                   boot a VM and show clusterfs working
#   make kernel-module-612      build it for Debian's 6.12 too (build/kernel-612/kernel/)
#   make test-kernel-vm-612     kernel-mount and kernel-posix in VMs booting 6.12
KDIR ?= $(shell sh kernel/scripts/default-kdir.sh)
KERNEL_MODULE := kernel/clusterfs.ko

# Debian's 6.12 (linux-headers-6.12-amd64, linux-image-6.12-amd64): a second target.
# The default build and VM kernel stay Debian's default kernel (scripts/default-kernel.sh).
KDIR_612 ?= $(lastword $(sort $(wildcard /usr/src/linux-headers-6.12*-amd64)))
KERNEL_612_VERSION = $(patsubst linux-headers-%,%,$(notdir $(KDIR_612)))
KERNEL_612_TREE := build/kernel-612
KERNEL_MODULE_612 := $(KERNEL_612_TREE)/kernel/clusterfs.ko

.PHONY: kernel-module kernel-module-612 test-kernel-build test-kernel-vm test-kernel-vm-612 \
	kernel-soak demo demo-run

ifneq ($(KDIR),)
ALL += kernel-module
endif

kernel-module:
	@if [ -z "$(KDIR)" ]; then echo "kernel-module: no kernel headers (install linux-headers-amd64 or set KDIR)" >&2; exit 1; fi
	$(MAKE) -C kernel KDIR=$(KDIR)

$(KERNEL_MODULE): kernel-module

kernel-module-612:
	@if [ -z "$(KDIR_612)" ]; then echo "kernel-module-612: no /usr/src/linux-headers-6.12*-amd64 (make deps)" >&2; exit 1; fi
	kernel/scripts/mirror-sources.sh $(KERNEL_612_TREE)
	$(MAKE) -C $(KERNEL_612_TREE)/kernel KDIR=$(KDIR_612)

TEST_SUITES += kernel-build
test-kernel-build: kernel-module kernel-module-612
	kernel/tests/check-cxx-object-test.sh
	kernel/tests/module-symbols-test.sh $(KERNEL_MODULE) $(KDIR)
	kernel/tests/module-symbols-test.sh $(KERNEL_MODULE_612) $(KDIR_612)

# VM tests of the module: tests/vm/kernel-*.sh through the harness's runner.
TEST_SUITES += kernel-vm
test-kernel-vm: kernel-module build-all
	tests/vm/run.sh --jobs $$(nproc) 'kernel-*'

# The module on 6.12: kernel-mount, kernel-posix, kernel-aio-dio (sub-block direct writes lost data
# far more often on 6.12), kernel-cluster-coherence (two nodes mounted at once),
# kernel-cluster-withdraw (the withdraw's queue freeze and direct-I/O submission hook),
# kernel-cluster-plock (struct file_lock moved its fields in 6.9; flock's use of them
# too); a suite of its own so that `make test` shows which kernel failed.
# kernel-cluster-mount (device, handshake, flock, lockd death) runs on 6.1 only, to keep
# `make test` under an hour: run it on 6.12 by hand as below.
TEST_SUITES += kernel-vm-612
test-kernel-vm-612: kernel-module-612 build-all
	VM_KERNEL=$(KERNEL_612_VERSION) CFS_KERNEL_MODULE=$(KERNEL_MODULE_612) \
		tests/vm/run.sh --jobs $$(nproc) kernel-mount kernel-posix kernel-aio-dio \
		kernel-cluster-coherence kernel-cluster-withdraw kernel-cluster-plock

# The crash loop, the mount fuzzer and the node kills for longer, and the POSIX suite on a
# two-node cluster (too slow for `make test` while every glock release checkpoints):
# make kernel-soak [CRASHES=200] [FUZZ=500] [KILLS=50] [SURVIVOR_KILLS=50]
# cluster-posix is kernel-soak's only: keep it out of `make test`'s vm suite.
VM_SUITE_EXCLUDE += cluster-posix
kernel-soak: kernel-module build-all
	CFS_CRASH_ITERATIONS=$(or $(CRASHES),200) VM_TEST_TIMEOUT=$$(( $(or $(CRASHES),200) * 60 + 600 )) tests/vm/run.sh kernel-crash
	CFS_FUZZ_ITERATIONS=$(or $(FUZZ),500) VM_TEST_TIMEOUT=$$(( $(or $(FUZZ),500) * 10 + 600 )) tests/vm/run.sh kernel-fuzz
	CFS_KILL_ITERATIONS=$(or $(KILLS),50) VM_TEST_TIMEOUT=$$(( $(or $(KILLS),50) * 90 + 900 )) tests/vm/run.sh kernel-cluster-recovery
	CFS_SURVIVOR_KILLS=$(or $(SURVIVOR_KILLS),50) VM_TEST_TIMEOUT=$$(( $(or $(SURVIVOR_KILLS),50) * 200 + 600 )) tests/vm/run.sh kernel-cluster-survivors
	tests/vm/run.sh cluster-posix

# `make demo` is the README's first command on a fresh machine: install missing packages,
# then build in a fresh make (KDIR is read at parse time, after the headers exist).
demo:
	scripts/install-deps.sh
	$(MAKE) --no-print-directory -j$$(nproc) build-all
	$(MAKE) --no-print-directory demo-run

demo-run: kernel-module build-all
	scripts/demo.sh
