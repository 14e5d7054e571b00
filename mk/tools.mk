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
