# clusterfs_tool (and, from the format work, mkfs.clusterfs and fsck.clusterfs).
# Other fragments may add sources/libraries to clusterfs_tool with
#   TOOL_SRCS += ...   TOOL_LDLIBS += ...
TOOL_SRCS += tools/clusterfs_tool.cpp tools/tool_fs_cmds.cpp tools/tool_lock_cmds.cpp
ALL += $(BIN)/clusterfs_tool

$(BIN)/clusterfs_tool: $$(TOOL_SRCS) tools/tool_commands.h | $(BIN)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) -Itools $(CXXFLAGS) -o $@ $(filter %.cpp,$^) $(TOOL_LDLIBS)
