#!/usr/bin/env python3
"""Poor man's kernel profiler for the test VMs (no perf there): where tasks wait.

  kstack_sampler.py sample SECONDS [INTERVAL] > samples.txt
      every INTERVAL seconds (default 0.01) prints "== comm state" and the kernel stack
      (/proc/PID/task/TID/stack) of every task that is running (R) or blocked (D);
      no fork per sample, so it keeps up under TCG.
  kstack_sampler.py summary samples.txt [--match REGEX] [--depth N]
      counts identical stacks, keeping per stack only the frames matching REGEX
      (default: clusterfs' own functions and the waits they end in), most frequent first.

Used for docs/alloc-locks.md: run `sample` in the background on a node while a workload
runs there, copy the file out, `summary` it on the host.
"""
import collections
import os
import re
import sys
import time

DEFAULT_MATCH = r"cfs|glock|journal|checkpoint|submit_bio|wait|mutex|schedule"


def sample(seconds, interval):
    end = time.monotonic() + seconds
    me = str(os.getpid())
    out = sys.stdout
    while time.monotonic() < end:
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or pid == me:
                continue
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{tid}/stat") as f:
                        stat = f.read()
                    state = stat[stat.rindex(")") + 2]
                    if state not in "DR":
                        continue
                    comm = stat[stat.index("(") + 1:stat.rindex(")")]
                    with open(f"/proc/{pid}/task/{tid}/stack") as f:
                        stack = f.read()
                    out.write(f"== {comm} {state}\n{stack}")
            except OSError:
                pass  # the task exited between listing and reading
        out.flush()
        time.sleep(interval)


def summary(path, match, depth):
    keep = re.compile(match)
    counts = collections.Counter()
    key = None
    frames = 0
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("== "):
                if key is not None:
                    counts[key] += 1
                key = " ".join(line.split()[1:3])
                frames = 0
                continue
            frames += 1
            parts = line.split()
            if frames > depth or len(parts) < 2:
                continue
            func = re.sub(r"\+0x.*", "", parts[1])
            if keep.search(func):
                key += " < " + func
    if key is not None:
        counts[key] += 1
    total = sum(counts.values())
    print(f"{total} samples")
    for stack, n in counts.most_common():
        print(f"{n:6d} {stack}")


def main():
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "sample":
        sample(float(args[1]), float(args[2]) if len(args) > 2 else 0.01)
    elif len(args) >= 2 and args[0] == "summary":
        match, depth = DEFAULT_MATCH, 16
        rest = args[2:]
        while rest:
            if rest[0] == "--match" and len(rest) > 1:
                match, rest = rest[1], rest[2:]
            elif rest[0] == "--depth" and len(rest) > 1:
                depth, rest = int(rest[1]), rest[2:]
            else:
                sys.exit(f"kstack_sampler: unknown argument {rest[0]}")
        summary(args[1], match, depth)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
