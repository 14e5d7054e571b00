# Installation beyond each component's binaries, and the suite that checks it.
#   make install [PREFIX=/usr/local] [DESTDIR=]
#     $(PREFIX)/sbin          mkfs.clusterfs, fsck.clusterfs, clusterfs_tool, clusterfs_lockd
#                             (mk/mkfs.mk, mk/tools.mk, mk/lockd.mk). util-linux's mkfs -t
#                             and fsck -t look for mkfs.TYPE / fsck.TYPE in PATH only
#                             (Debian 12, util-linux 2.38): /usr/sbin (PREFIX=/usr) and
#                             /usr/local/sbin are in root's PATH.
#     $(PREFIX)/share/man     every man page (man5, man8)
#     $(PREFIX)/lib/systemd/system/clusterfs_lockd.service  (mk/lockd.mk)
#     /etc/clusterfs/lockd.conf   the example configuration, unless one exists
#     /lib/modules/KVER/extra/clusterfs.ko   when the module was built (KDIR); then
#                             depmod, unless DESTDIR is set (a package runs depmod when
#                             it is installed)
#     /usr/src/clusterfs-VERSION  the module's sources and dkms.conf, for
#                             `dkms add/install -m clusterfs -v VERSION`
#     /usr/lib/ocf/resource.d/clusterfs/clusterfs_lockd  OCF agent (Pacemaker), where
#                             Pacemaker looks whatever PREFIX is
# Suite `install`: tests/install/install.sh. (Named to sort after kernel.mk: it reads KDIR.)

CLUSTERFS_VERSION := 0.1
SYSCONFDIR ?= /etc
MAN_PAGES  := $(sort $(wildcard man/*.[1-8])) lockd/clusterfs_lockd.8
# The module's kernel release, from the headers it is built against.
KVER = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null)
DKMS_DIR = $(DESTDIR)/usr/src/clusterfs-$(CLUSTERFS_VERSION)
# What dkms needs to build the module: kernel/ (not its tests), lib/'s core (not the
# userspace host lib/user), the on-disk format headers.
DKMS_SOURCES := $(filter-out kernel/tests/% kernel/.gitignore,$(shell git ls-files kernel 2>/dev/null || \
	find kernel -type f ! -name '*.o' ! -name '*.ko' ! -name '*.cmd' ! -name '*.mod*' ! -path 'kernel/lib/*')) \
	$(sort $(wildcard lib/*.cpp lib/*.h include/clusterfs/*.h))

INSTALL += install-man install-config install-dkms install-ocf
ifneq ($(KDIR),)
INSTALL += install-module
endif

.PHONY: install-man install-config install-module install-dkms install-ocf test-install
install-man:
	for page in $(MAN_PAGES); do \
		section=$${page##*.}; \
		install -D -m 0644 $$page $(DESTDIR)$(PREFIX)/share/man/man$$section/$$(basename $$page) || exit 1; \
	done

install-config:
	if [ ! -e $(DESTDIR)$(SYSCONFDIR)/clusterfs/lockd.conf ]; then \
		install -D -m 0644 packaging/lockd.conf $(DESTDIR)$(SYSCONFDIR)/clusterfs/lockd.conf; fi

install-ocf:
	install -D -m 0755 packaging/ocf/clusterfs_lockd $(DESTDIR)/usr/lib/ocf/resource.d/clusterfs/clusterfs_lockd

# modules_install without signing (the key is the distribution's); depmod makes
# `modprobe clusterfs` load libcrc32c first and `mount -t clusterfs` load the module
# (MODULE_ALIAS_FS: fs-clusterfs).
install-module: kernel-module
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel modules_install INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=extra CONFIG_MODULE_SIG_ALL= >/dev/null
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi

install-dkms:
	for f in $(DKMS_SOURCES); do install -D -m 0644 $$f $(DKMS_DIR)/$$f || exit 1; done
	chmod 0755 $(DKMS_DIR)/kernel/scripts/*.sh
	sed 's|@VERSION@|$(CLUSTERFS_VERSION)|g' packaging/dkms.conf.in >$(DKMS_DIR)/dkms.conf
	chmod 0644 $(DKMS_DIR)/dkms.conf

# Installs into a scratch DESTDIR and checks the file list, mkfs -t / fsck -t, the man
# pages, the example configuration, lockd's readiness notification, the OCF agent's
# actions, the module's dependencies and alias, and a dkms build in private dkms trees.
TEST_SUITES += install
test-install: build-all
	timeout 1500 tests/install/install.sh "$(KDIR)" "$(KVER)" "$(CLUSTERFS_VERSION)"
