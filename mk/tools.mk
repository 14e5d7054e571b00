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
	tools/fsck/fsimage.cpp tools/fsck/libfs.cpp
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

.PHONY: test-tools
test-tools: $(TOOLS_TEST_BINS)
	timeout 300 tests/tools/run.sh $(BIN)
TEST_SUITES += tools
