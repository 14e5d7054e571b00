#!/usr/bin/env python3
"""A stand-in for clusterfs_lockd on /dev/clusterfs_lock, to test the module's side of
the device alone: one opener, the HELLO it sends first, its answer to a malformed write,
and what a mount says when the daemon speaks another protocol revision or never answers.

usage: lockdev_peer.py mismatch|silent READY_FILE
Opens the device, checks it, answers the HELLO as told, creates READY_FILE, then keeps
the device open until killed. Exits non-zero (with a message) when a check fails."""
import errno
import os
import struct
import sys
import time

MAGIC = 0x4B434C43
REQ_HELLO, EV_HELLO = 9, 71
HEADER = "<IHHII"


def header(msg_type, length, seq=0):
    return struct.pack(HEADER, MAGIC, 1, msg_type, length, seq)


def fail(why):
    print("lockdev_peer: " + why, file=sys.stderr)
    sys.exit(1)


def main():
    mode, ready = sys.argv[1], sys.argv[2]
    fd = os.open("/dev/clusterfs_lock", os.O_RDWR)
    try:
        os.open("/dev/clusterfs_lock", os.O_RDWR)
        fail("a second open of the device succeeded")
    except OSError as e:
        if e.errno != errno.EBUSY:
            fail("second open: expected EBUSY, got %s" % errno.errorcode.get(e.errno))
    msg = os.read(fd, 4096)
    magic, version, msg_type, length, seq = struct.unpack_from(HEADER, msg)
    if (magic, version, msg_type, length, len(msg)) != (MAGIC, 1, REQ_HELLO, 32, 32) or seq == 0:
        fail("first message is not a HELLO: %r" % ((magic, version, msg_type, length, len(msg), seq),))
    status, rev_min, rev_max, features = struct.unpack_from("<iHHQ", msg, 16)
    if status != 0 or not 1 <= rev_min <= rev_max:
        fail("HELLO carries status %d, revisions %d-%d" % (status, rev_min, rev_max))
    # A message whose length does not match its type is refused, nothing else happens.
    try:
        os.write(fd, header(EV_HELLO, 31, seq) + b"\0" * 15)
        fail("a malformed HELLO answer was accepted")
    except OSError as e:
        if e.errno != errno.EINVAL:
            fail("malformed write: expected EINVAL, got %s" % errno.errorcode.get(e.errno))
    if mode == "mismatch":
        answer = header(EV_HELLO, 32, seq) + struct.pack("<iHHQ", -errno.EPROTONOSUPPORT, 7, 9, 0)
        if os.write(fd, answer) != 32:
            fail("the HELLO answer was not taken whole")
    open(ready, "w").close()
    while True:
        time.sleep(1)


main()
