# libclusterfs: the C++ core (lib/*.cpp) plus its userspace host (lib/user/*.cpp), built
# into one static archive that mkfs, fsck, clusterfs_tool and the unit tests link.
#   LIB_A            the archive; link with $(LIB_A) $(LIB_LDLIBS)
#   LIB_LDLIBS       libraries the userspace host needs
#   LIB_UNIT_SRCS    GoogleTest sources of the lib-unit suite (tests/unit/*.cpp); other
#                    fragments may append more
#   LIB_UNIT_EXTRA_OBJS  objects the unit tests also link (mkfs.mk adds its layout code)
# Suites: lib-unit (GoogleTest over lib/), lib-freestanding (kernel-like build of every
# lib/*.cpp; rejects undefined symbols outside env.h and static-init/TLS sections).

LIB_SRCS      := $(sort $(wildcard lib/*.cpp))
LIB_USER_SRCS := $(sort $(wildcard lib/user/*.cpp))
LIB_OBJS      := $(patsubst %.cpp,$(OBJ)/%.o,$(LIB_SRCS) $(LIB_USER_SRCS))
LIB_A         := $(BUILD)/libclusterfs.a
LIB_LDLIBS    := -lpthread
LIB_CXXFLAGS   = $(CXXSTD) $(WARN) $(CPPFLAGS) $(CXXFLAGS) -fno-exceptions -fno-rtti -MMD -MP

$(OBJ)/lib/%.o: lib/%.cpp | $(OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(LIB_CXXFLAGS) -c -o $@ $<

# lib/user may use the C++ library (containers) but not exceptions either.
$(OBJ)/lib/user/%.o: lib/user/%.cpp | $(OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) $(CXXFLAGS) -fno-exceptions -MMD -MP -c -o $@ $<

$(LIB_A): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

-include $(LIB_OBJS:.o=.d)

ALL += $(LIB_A)

# ---- lib-unit ----------------------------------------------------------------------
LIB_UNIT_SRCS += $(sort $(wildcard tests/unit/*.cpp))
LIB_UNIT_BIN  := $(BIN)/lib_unit_tests
LIB_UNIT_OBJS  = $(patsubst %.cpp,$(OBJ)/%.o,$(LIB_UNIT_SRCS))

$(OBJ)/tests/unit/%.o: tests/unit/%.cpp | $(OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) -Itests/unit -Imkfs $(CXXFLAGS) -MMD -MP -c -o $@ $<

-include $(patsubst %.cpp,$(OBJ)/%.d,$(sort $(wildcard tests/unit/*.cpp)))

$(LIB_UNIT_BIN): $$(LIB_UNIT_OBJS) $$(LIB_UNIT_EXTRA_OBJS) $(LIB_A) | $(BIN)
	$(CXX) $(CXXFLAGS) -o $@ $(LIB_UNIT_OBJS) $(LIB_UNIT_EXTRA_OBJS) $(LIB_A) -lgtest -lgtest_main $(LIB_LDLIBS)

.PHONY: test-lib-unit test-lib-freestanding
test-lib-unit: $(LIB_UNIT_BIN)
	timeout 600 $(LIB_UNIT_BIN) --gtest_brief=1

TEST_SUITES += lib-unit

# ---- lib-freestanding --------------------------------------------------------------
# Kernel-like flags (docs/kernel.md, "C++ in the module"); the kernel build itself
# derives its flags from Kbuild, this suite catches libc/libstdc++ use early and fast.
GCC_INC    := $(shell $(CXX) -print-file-name=include)
GXX_VER    := $(shell $(CXX) -dumpversion | cut -d. -f1)
FREESTANDING_CXXFLAGS := -std=gnu++20 -O2 -Wall -Wextra -Wno-unused-parameter \
	-ffreestanding -nostdinc -isystem $(GCC_INC) -isystem /usr/include/c++/$(GXX_VER) \
	-isystem /usr/include/x86_64-linux-gnu/c++/$(GXX_VER) -isystem lib/freestanding \
	-D__KERNEL__ -Iinclude -Ilib \
	-fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit \
	-faligned-new=8 -fcheck-new -mno-red-zone -mcmodel=kernel -mno-sse -mno-mmx -mno-avx \
	-mno-sse2 -mno-3dnow -msoft-float -fno-strict-aliasing -fno-delete-null-pointer-checks \
	-fno-strict-overflow -fno-common -fno-pie -ftrivial-auto-var-init=zero \
	-fstack-protector-strong -mfentry -pg -mindirect-branch=thunk-extern \
	-mfunction-return=thunk-extern -mharden-sls=all -fcf-protection=branch
FREESTANDING_OBJS := $(patsubst lib/%.cpp,$(OBJ)/freestanding/%.o,$(LIB_SRCS))

$(OBJ)/freestanding/%.o: lib/%.cpp | $(OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(FREESTANDING_CXXFLAGS) -MMD -MP -c -o $@ $<

-include $(FREESTANDING_OBJS:.o=.d)

# The check must also fail on code that breaks the rules (a check that cannot fail
# proves nothing).
$(OBJ)/freestanding/selftest-bad.o: tests/unit/fixtures/freestanding_bad.cpp | $(OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(FREESTANDING_CXXFLAGS) -c -o $@ $<

test-lib-freestanding: $(FREESTANDING_OBJS) $(OBJ)/freestanding/selftest-bad.o
	$(CC) -std=c11 -pedantic -Wall -Wextra -Werror -Iinclude -Ilib -fsyntax-only tests/unit/fixtures/headers_c.c
	tests/unit/check_freestanding.sh lib/env.h $(FREESTANDING_OBJS)
	@out=$$(tests/unit/check_freestanding.sh lib/env.h $(OBJ)/freestanding/selftest-bad.o 2>&1); \
	if [ $$? -eq 0 ]; then echo "lib-freestanding selftest: a bad object passed" >&2; exit 1; fi; \
	for want in 'undefined symbol outside env.h: strlen' 'forbidden sections: .init_array' '.tdata'; do \
		echo "$$out" | grep -qF -- "$$want" || { echo "lib-freestanding selftest: missing '$$want' in: $$out" >&2; exit 1; }; \
	done; echo "lib-freestanding selftest: bad object rejected"

TEST_SUITES += lib-freestanding

# ---- lib-unit-asan -----------------------------------------------------------------
# The same unit tests with AddressSanitizer and UBSan (lib, lib/user, mkfs layout).
ASAN_OBJ   := $(BUILD)/asan
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize=vptr \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
ASAN_LIB_OBJS  = $(patsubst %.cpp,$(ASAN_OBJ)/%.o,$(LIB_SRCS) $(LIB_USER_SRCS))
ASAN_TEST_OBJS = $(patsubst %.cpp,$(ASAN_OBJ)/%.o,$(LIB_UNIT_SRCS) mkfs/layout.cpp)
ASAN_UNIT_BIN := $(BIN)/lib_unit_tests_asan

$(ASAN_OBJ)/lib/%.o: lib/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) $(ASAN_FLAGS) -fno-exceptions -MMD -MP -c -o $@ $<
$(ASAN_OBJ)/tests/unit/%.o: tests/unit/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) -Itests/unit -Imkfs $(ASAN_FLAGS) -MMD -MP -c -o $@ $<
$(ASAN_OBJ)/mkfs/%.o: mkfs/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXSTD) $(WARN) $(CPPFLAGS) -Imkfs $(ASAN_FLAGS) -MMD -MP -c -o $@ $<
-include $(wildcard $(ASAN_OBJ)/*/*.d $(ASAN_OBJ)/*/*/*.d)

$(ASAN_UNIT_BIN): $$(ASAN_TEST_OBJS) $$(ASAN_LIB_OBJS) | $(BIN)
	$(CXX) $(ASAN_FLAGS) -o $@ $(ASAN_TEST_OBJS) $(ASAN_LIB_OBJS) -lgtest -lgtest_main $(LIB_LDLIBS)

.PHONY: test-lib-unit-asan
test-lib-unit-asan: $(ASAN_UNIT_BIN)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		timeout 900 $(ASAN_UNIT_BIN) --gtest_brief=1
TEST_SUITES += lib-unit-asan
