# clusterfs_tool and fsck.clusterfs, their tests (suites `tools` and `fuzz`) and the
# tools benchmark. Other fragments may add sources/libraries to clusterfs_tool with
#   TOOL_SRCS += ...   TOOL_LDLIBS += ...
# Both binaries link the userspace libclusterfs ($(LIB_A), mk/lib.mk).

# fsck's checker minus its main(): shared with clusterfs_tool (the offline device view)
# and with the fuzz target.
FSCK_CORE_SRCS := $(filter-out tools/fsck/main.cpp,$(sort $(wildcard tools/fsck/*.cpp)))
FSCK_HDRS      := $(wildcard tools/fsck/*.h)
TOOLS_LDLIBS   := -lblkid

TOOL_SRCS += tools/clusterfs_tool.cpp tools/tool_fs_cmds.cpp tools/tool_lock_cmds.cpp \
	tools/tool_glock_cmds.cpp tools/fsck/fsimage.cpp tools/fsck/libfs.cpp \
	tools/fsck/mounted.cpp
ALL += $(BIN)/clusterfs_tool $(BIN)/fsck.clusterfs

$(BIN)/clusterfs_tool: $$(TOOL_SRCS) tools/tool_commands.h tools/tool_output.h $(FSCK_HDRS) $$(LIB_A) | $(BIN)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) -Itools -Itools/fsck $(CXXFLAGS) -o $@ $(filter %.cpp,$^) $(TOOL_LDLIBS) $(LIB_A) $(LIB_LDLIBS) $(TOOLS_LDLIBS)

$(BIN)/fsck.clusterfs: tools/fsck/main.cpp $(FSCK_CORE_SRCS) $(FSCK_HDRS) $$(LIB_A) | $(BIN)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) -Itools/fsck $(CXXFLAGS) -o $@ $(filter %.cpp,$^) $(LIB_A) $(LIB_LDLIBS) $(TOOLS_LDLIBS)

# ---- tests: suite `tools` ------------------------------------------------------------
# tests/tools/*.sh drive the real binaries: mkfs → populate → tool → fsck round trips
# and corruption tests. cfs_populate fills images through lib.
$(BIN)/cfs_populate: tests/tools/cfs_populate.cpp $$(LIB_A) | $(BIN)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) $(CXXFLAGS) -o $@ $< $(LIB_A) $(LIB_LDLIBS)

$(BIN)/cfs_poke: tests/tools/cfs_poke.cpp $$(LIB_A) | $(BIN)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) $(CXXFLAGS) -o $@ $< $(LIB_A) $(LIB_LDLIBS)

TOOLS_TEST_BINS := $(BIN)/clusterfs_tool $(BIN)/fsck.clusterfs $(BIN)/mkfs.clusterfs \
	$(BIN)/cfs_populate $(BIN)/cfs_poke

# GoogleTest: fsck's decision and exit-status logic.
$(BIN)/tools_unit_tests: tests/tools/test_repairs.cpp tools/fsck/repair.cpp tools/fsck/repair.h | $(BIN)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) -Itools/fsck $(CXXFLAGS) -o $@ $(filter %.cpp,$^) -lgtest -lgtest_main -lpthread

.PHONY: test-tools
test-tools: $(TOOLS_TEST_BINS) $(BIN)/tools_unit_tests
	timeout 60 $(BIN)/tools_unit_tests --gtest_brief=1
	timeout 300 tests/tools/run.sh $(BIN)
TEST_SUITES += tools

# ---- fuzzing: suite `fuzz` -------------------------------------------------------------
# libFuzzer (clang) over fsck's check in -n mode, with ASan and UBSan. lib, its userspace
# host and fsck's core are compiled again with the sanitizers. The run is bounded
# (FUZZ_SECONDS) and starts from the committed corpus (tests/fuzz/corpus); inputs it
# finds go to build/fuzz/corpus, never into the source tree.
FUZZ_CXX      ?= clang++
FUZZ_SECONDS  ?= 60
FUZZ_DIR      := $(BUILD)/fuzz
FUZZ_FLAGS    := -std=gnu++20 -O1 -gline-tables-only -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer $(CPPFLAGS) -Itools/fsck
FUZZ_SRCS      = $(LIB_SRCS) $(LIB_USER_SRCS) $(FSCK_CORE_SRCS) tests/fuzz/fsck_fuzz.cpp
FUZZ_OBJS      = $(patsubst %.cpp,$(FUZZ_DIR)/obj/%.o,$(FUZZ_SRCS))

$(FUZZ_DIR)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -MMD -MP -c -o $@ $<

-include $(patsubst %.cpp,$(FUZZ_DIR)/obj/%.d,$(LIB_SRCS) $(LIB_USER_SRCS) $(FSCK_CORE_SRCS) tests/fuzz/fsck_fuzz.cpp)

$(FUZZ_DIR)/fsck_fuzz: $$(FUZZ_OBJS)
	$(FUZZ_CXX) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIB_LDLIBS) $(TOOLS_LDLIBS)

$(BIN)/make_seed: tests/fuzz/make_seed.cpp | $(BIN)
	$(CXX) $(CXXSTD) $(WARN) $(CXXFLAGS) -o $@ $<

.PHONY: test-fuzz fuzz-seeds
test-fuzz: $(FUZZ_DIR)/fsck_fuzz
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	timeout $$(( $(FUZZ_SECONDS) + 120 )) $(FUZZ_DIR)/fsck_fuzz -max_total_time=$(FUZZ_SECONDS) \
		-timeout=20 -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/ $(FUZZ_DIR)/corpus tests/fuzz/corpus
TEST_SUITES += fuzz

# Regenerates the committed seeds from fresh images (run by hand after a format change).
fuzz-seeds: $(BIN)/make_seed $(BIN)/mkfs.clusterfs $(BIN)/cfs_populate
	tests/fuzz/make_seeds.sh $(BIN) tests/fuzz/corpus

# ---- benchmark -----------------------------------------------------------------------
.PHONY: bench-tools
bench-tools: $(BIN)/mkfs.clusterfs $(BIN)/fsck.clusterfs $(BIN)/clusterfs_tool $(BIN)/cfs_populate
	scripts/bench/tools.sh $(BIN) docs/bench/tools.md
BENCH += bench-tools

# ---- install -------------------------------------------------------------------------
.PHONY: install-tools
# $(PREFIX)/sbin: fsck(8) looks for fsck.clusterfs in PATH (mk/packaging.mk). Man pages:
# mk/packaging.mk.
install-tools: $(BIN)/clusterfs_tool $(BIN)/fsck.clusterfs
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BIN)/clusterfs_tool $(BIN)/fsck.clusterfs $(DESTDIR)$(PREFIX)/sbin/
INSTALL += install-tools
