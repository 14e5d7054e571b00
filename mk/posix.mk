# POSIX behaviour programs (tests/posix): run inside the VMs against a mounted clusterfs and
# validated here against tmpfs and ext4 by `make test-posix-selftest`.
# Linked statically so the same binaries run unchanged in the VM guests.
POSIX_PROGS := $(addprefix $(BIN)/,cfs_posix_suite cfs_fsx cfs_crashwork cfs_crashcheck cfs_attrs cfs_dio_unaligned)
POSIX_HDRS := $(wildcard tests/posix/*.h)
ALL += $(POSIX_PROGS)
TEST_SUITES += posix-selftest

$(POSIX_PROGS): $(BIN)/%: tests/posix/%.cpp $(POSIX_HDRS) | $(BIN)
	$(CXX) $(CXXSTD) $(WARN) $(CXXFLAGS) -Itests/posix -static -o $@ $< -lz

.PHONY: test-posix-selftest
test-posix-selftest: $(POSIX_PROGS)
	tests/posix/selftest.sh $(BIN)
