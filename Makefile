# clusterfs: the one entry point.
#   make            build every userspace binary into build/bin (and the module when it builds)
#   make test       run every test suite, print "N suites passed, M failed"
#   make vmtest     run the VM tests (tests/vm), T=name selects a subset
#   make bench      run the benchmarks, results under docs/bench/
#   make demo       boot a VM cluster on a shared disk and show clusterfs working
#   make deps       install the Debian packages the build and tests need (root)
#   make install    install binaries, man pages, the lockd unit and example configuration,
#                   the module (depmod) and its dkms source tree (mk/packaging.mk)
#
# Each component owns one fragment in mk/ and adds to these lists:
#   ALL          targets built by `make`
#   TEST_SUITES  names N with a `test-N` target; `make test` runs them all
#   BENCH        targets run by `make bench`
#   INSTALL      targets run by `make install`

BUILD   ?= build
BIN     := $(BUILD)/bin
OBJ     := $(BUILD)/obj
PREFIX  ?= /usr/local
DESTDIR ?=

CXX      ?= g++
CC       ?= gcc
CXXSTD   := -std=gnu++20
WARN     := -Wall -Wextra -Wno-unused-parameter
CXXFLAGS ?= -O2 -g
CFLAGS   ?= -O2 -g
CPPFLAGS += -Iinclude -Ilib

ALL :=
TEST_SUITES :=
BENCH :=
INSTALL :=

.PHONY: all test test-all vmtest bench demo deps install clean
all: build-all

$(BIN) $(OBJ):
	mkdir -p $@

.SECONDEXPANSION:
include $(sort $(wildcard mk/*.mk))

build-all: $(ALL)

# `make test` (the README's test command) first installs any missing Debian package, then
# runs make again so that what the packages bring (kernel headers: KDIR) is seen.
test:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory -j$$(nproc) build-all
	@$(MAKE) --no-print-directory test-all

test-all: build-all
	@scripts/run-suites.sh $(TEST_SUITES)

bench: build-all $(BENCH)

install: build-all $(INSTALL)

deps:
	scripts/install-deps.sh

clean:
	rm -rf $(BUILD)
	-$(MAKE) -C kernel clean >/dev/null 2>&1 || true
