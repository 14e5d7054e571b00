#!/usr/bin/env python3
"""fcntl (POSIX) byte-range locks for kernel-cluster-plock.sh, one action per run.

  hold PATH START LEN r|w READY RELEASE   F_SETLKW, write our pid to READY, keep the lock
                                          until the file RELEASE exists (then exit: the
                                          close releases it)
  try PATH START LEN r|w                  F_SETLK: exit 0 granted, 11 conflict (EAGAIN)
  get PATH START LEN r|w                  F_GETLK: prints "unlocked" or "r|w START LEN PID"
  wait PATH START LEN r|w SECONDS [FILE]  F_SETLKW, interrupted by SIGALRM after SECONDS:
                                          prints "granted after S s" (and FILE's content
                                          as read once granted) or exits 4 on EINTR
  cycle PATH A_START B_START READY GO SECONDS
                                          holds [A_START, +10) w, writes READY, waits for
                                          GO, then F_SETLKW [B_START, +10) w: prints
                                          "granted", "EDEADLK" or "EINTR"
Ranges with LEN 0 run to the end of the file, as fcntl says.
"""
import errno
import fcntl
import os
import signal
import struct
import sys
import time

FLOCK = "hhqqi4x"  # struct flock on x86_64: type, whence, start, len, pid


def kind(c):
    return {"r": fcntl.F_RDLCK, "w": fcntl.F_WRLCK}[c]


def setlk(fd, cmd, typ, start, length):
    fcntl.fcntl(fd, cmd, struct.pack(FLOCK, typ, os.SEEK_SET, start, length, 0))


class Alarm(Exception):
    pass


def on_alarm(signum, frame):
    # Raising is what makes Python give up the call: a handler that returns lets it
    # retry the interrupted fcntl (PEP 475).
    raise Alarm()


def main():
    act, path = sys.argv[1], sys.argv[2]
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    signal.signal(signal.SIGALRM, on_alarm)
    if act == "hold":
        start, length, typ, ready, release = int(sys.argv[3]), int(sys.argv[4]), kind(sys.argv[5]), sys.argv[6], sys.argv[7]
        setlk(fd, fcntl.F_SETLKW, typ, start, length)
        with open(ready + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(ready + ".tmp", ready)
        deadline = time.time() + 300
        while not os.path.exists(release) and time.time() < deadline:
            time.sleep(0.05)
        return 0
    if act == "try":
        start, length, typ = int(sys.argv[3]), int(sys.argv[4]), kind(sys.argv[5])
        try:
            setlk(fd, fcntl.F_SETLK, typ, start, length)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                return 11
            raise
        return 0
    if act == "get":
        start, length, typ = int(sys.argv[3]), int(sys.argv[4]), kind(sys.argv[5])
        got = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(FLOCK, typ, os.SEEK_SET, start, length, 0))
        t, _, s, ln, pid = struct.unpack(FLOCK, got)
        if t == fcntl.F_UNLCK:
            print("unlocked")
        else:
            print("%s %d %d %d" % ("w" if t == fcntl.F_WRLCK else "r", s, ln, pid))
        return 0
    if act == "wait":
        start, length, typ, secs = int(sys.argv[3]), int(sys.argv[4]), kind(sys.argv[5]), int(sys.argv[6])
        t0 = time.time()
        signal.alarm(secs)
        try:
            setlk(fd, fcntl.F_SETLKW, typ, start, length)
        except Alarm:
            print("EINTR after %.1f s" % (time.time() - t0))
            return 4
        signal.alarm(0)
        line = "granted after %.1f s" % (time.time() - t0)
        if len(sys.argv) > 7:
            try:
                with open(sys.argv[7]) as f:
                    line += " " + f.read().strip()
            except FileNotFoundError:
                line += " (no file)"
        print(line)
        return 0
    if act == "cycle":
        a, b, ready, go, secs = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], int(sys.argv[7])
        setlk(fd, fcntl.F_SETLKW, fcntl.F_WRLCK, a, 10)
        open(ready, "w").close()
        deadline = time.time() + 120
        while not os.path.exists(go) and time.time() < deadline:
            time.sleep(0.05)
        signal.alarm(secs)
        try:
            setlk(fd, fcntl.F_SETLKW, fcntl.F_WRLCK, b, 10)
            print("granted")
        except Alarm:
            print("EINTR")
        except OSError as e:
            if e.errno != errno.EDEADLK:
                raise
            print("EDEADLK")
        sys.stdout.flush()
        return 0
    sys.exit("unknown action " + act)


if __name__ == "__main__":
    sys.exit(main())
