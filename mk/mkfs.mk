# mkfs.clusterfs: mkfs/layout.* (planning and writing, reusable by tests) + mkfs/main.cpp.
#   MKFS_LAYOUT_OBJ  object of the layout code, for test binaries that build images
MKFS_BIN        := $(BIN)/mkfs.clusterfs
MKFS_LAYOUT_OBJ := $(OBJ)/mkfs/layout.o
MKFS_LDLIBS     := -lblkid -luuid

$(OBJ)/mkfs/%.o: mkfs/%.cpp | $(OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) -Imkfs $(CXXFLAGS) -MMD -MP -c -o $@ $<

-include $(OBJ)/mkfs/layout.d $(OBJ)/mkfs/main.d

$(MKFS_BIN): $(OBJ)/mkfs/main.o $(MKFS_LAYOUT_OBJ) $(LIB_A) | $(BIN)
	$(CXX) $(CXXFLAGS) -o $@ $(OBJ)/mkfs/main.o $(MKFS_LAYOUT_OBJ) $(LIB_A) $(MKFS_LDLIBS) $(LIB_LDLIBS)

ALL += $(MKFS_BIN)
LIB_UNIT_EXTRA_OBJS += $(MKFS_LAYOUT_OBJ)
INSTALL += install-mkfs

.PHONY: install-mkfs
install-mkfs: $(MKFS_BIN)
	install -D -m 0755 $(MKFS_BIN) $(DESTDIR)$(PREFIX)/sbin/mkfs.clusterfs

# Suite mkfs: the command line (refusals, libblkid probe and -O wipe, options on disk,
# all block sizes, 1 TiB sparse speed). About 5 s.
.PHONY: test-mkfs
test-mkfs: $(MKFS_BIN)
	timeout 300 tests/mkfs/cli.sh $(MKFS_BIN)
TEST_SUITES += mkfs
