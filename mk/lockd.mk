# clusterfs_lockd: the userspace DLM over corosync (lockd/), its tests and benchmark.
LOCKD_CORE_SRCS := lockd/lock_table.cpp lockd/plock_table.cpp
LOCKD_SRCS := $(LOCKD_CORE_SRCS) lockd/main.cpp lockd/daemon.cpp lockd/lockspace.cpp lockd/lockspace_dump.cpp lockd/membership.cpp lockd/util.cpp lockd/cpg_transport.cpp lockd/config.cpp lockd/client_proto.cpp
LOCKD_HDRS := $(wildcard lockd/*.h) include/clusterfs/lockproto.h
LOCKD_LDLIBS := -lcpg -lquorum -lcmap -lsystemd
LOCKD_CPPFLAGS := -Ilockd

ALL += $(BIN)/clusterfs_lockd $(BIN)/lockd_test_client $(BIN)/dlm_bench
TEST_SUITES += lockd-unit lockd-cluster
BENCH += bench-lockd
INSTALL += install-lockd

# clusterfs_tool's locks/cluster/lock/fence-ack commands speak the client protocol.
TOOL_SRCS += lockd/client_proto.cpp

$(BIN)/clusterfs_lockd: $(LOCKD_SRCS) $(LOCKD_HDRS) | $(BIN)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) $(LOCKD_CPPFLAGS) $(CXXFLAGS) -o $@ $(LOCKD_SRCS) $(LOCKD_LDLIBS)

$(BIN)/lockd_test_client: tests/lockd/test_client.cpp lockd/client_proto.cpp $(LOCKD_CORE_SRCS) $(LOCKD_HDRS) | $(BIN)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) $(LOCKD_CPPFLAGS) $(CXXFLAGS) -o $@ tests/lockd/test_client.cpp lockd/client_proto.cpp $(LOCKD_CORE_SRCS)

LOCKD_UNIT_SRCS := tests/lockd/lock_table_test.cpp tests/lockd/lock_owner_test.cpp tests/lockd/plock_table_test.cpp tests/lockd/lockproto_test.cpp tests/lockd/config_test.cpp \
	tests/lockd/membership_test.cpp lockd/membership.cpp lockd/util.cpp lockd/cpg_transport.cpp \
	$(LOCKD_CORE_SRCS) lockd/client_proto.cpp lockd/config.cpp
$(BIN)/lockd_unit_tests: $(LOCKD_UNIT_SRCS) tests/lockd/lockproto_c_test.c $(LOCKD_HDRS) | $(BIN)
	$(CC) -std=c11 -Wall -Wextra -Werror $(CPPFLAGS) -fsyntax-only tests/lockd/lockproto_c_test.c
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) $(LOCKD_CPPFLAGS) $(CXXFLAGS) -o $@ $(LOCKD_UNIT_SRCS) \
		-lgtest -lgtest_main -pthread $(LOCKD_LDLIBS)

.PHONY: test-lockd-unit test-lockd-cluster bench-lockd install-lockd
test-lockd-unit: $(BIN)/lockd_unit_tests
	$(BIN)/lockd_unit_tests

test-lockd-cluster: $(BIN)/clusterfs_lockd $(BIN)/lockd_test_client $(BIN)/clusterfs_tool
	timeout 420 tests/lockd/cluster_test.sh
	timeout 120 tests/lockd/cluster_two_node_test.sh
	timeout 180 tests/lockd/cluster_fence_test.sh
	timeout 180 tests/lockd/cluster_auth_test.sh

bench-lockd: $(BIN)/clusterfs_lockd $(BIN)/lockd_test_client
	timeout 600 tests/lockd/bench.sh docs/bench/lockd-results.md

# The man page is installed with the others (mk/packaging.mk); the example configuration
# too, without replacing an existing one.
install-lockd: $(BIN)/clusterfs_lockd
	install -D -m 0755 $(BIN)/clusterfs_lockd $(DESTDIR)$(PREFIX)/sbin/clusterfs_lockd
	mkdir -p $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|@SBINDIR@|$(PREFIX)/sbin|' lockd/clusterfs_lockd.service >$(DESTDIR)$(PREFIX)/lib/systemd/system/clusterfs_lockd.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/clusterfs_lockd.service

# The kernel DLM's figures for the same operations, and lockd's, in the VM harness
# (scripts/vm): `make bench-lockd-vm` (minutes under TCG; not part of `make bench`).
$(BIN)/dlm_bench: tests/lockd/dlm_bench.c | $(BIN)
	$(CC) -std=gnu11 -pthread $(WARN) $(CFLAGS) -o $@ $< -ldlm

.PHONY: bench-lockd-vm
bench-lockd-vm: $(BIN)/clusterfs_lockd $(BIN)/lockd_test_client $(BIN)/dlm_bench
	timeout 1800 tests/lockd/vm_compare.sh docs/bench/lockd-vm-results.md

# libFuzzer over the client protocol's stream decoder (the socket and the kernel's
# device): suite `lockd-fuzz`, bounded by LOCKD_FUZZ_SECONDS, seeds in tests/fuzz/lockproto.
LOCKD_FUZZ_SECONDS ?= 30
$(BUILD)/fuzz/lockproto_fuzz: tests/fuzz/lockproto_fuzz.cpp lockd/client_proto.cpp $(LOCKD_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -Ilockd -fsanitize=fuzzer -o $@ tests/fuzz/lockproto_fuzz.cpp lockd/client_proto.cpp

.PHONY: test-lockd-fuzz
test-lockd-fuzz: $(BUILD)/fuzz/lockproto_fuzz
	@mkdir -p $(BUILD)/fuzz/lockproto-corpus $(BUILD)/fuzz/artifacts
	timeout $$(( $(LOCKD_FUZZ_SECONDS) + 60 )) $(BUILD)/fuzz/lockproto_fuzz -max_total_time=$(LOCKD_FUZZ_SECONDS) \
		-timeout=10 -max_len=4096 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/artifacts/lockproto- \
		$(BUILD)/fuzz/lockproto-corpus tests/fuzz/lockproto
TEST_SUITES += lockd-fuzz
