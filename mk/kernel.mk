# clusterfs.ko (kernel/): built with Kbuild against KDIR when kernel headers exist.
#   make kernel-module          build kernel/clusterfs.ko
#   make test-kernel-build      build it, and prove the C++ object check rejects what it must
#   make test-kernel-vm         the module's VM tests (tests/vm/kernel-*.sh)
#   make demo                   boot a VM and show clusterfs working
KDIR ?= $(shell sh kernel/scripts/default-kdir.sh)
KERNEL_MODULE := kernel/clusterfs.ko

.PHONY: kernel-module test-kernel-build test-kernel-vm demo

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
