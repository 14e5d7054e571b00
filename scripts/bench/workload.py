#!/usr/bin/env python3
"""Benchmark workloads, run inside a test VM on a mounted filesystem.

One process issues the system calls (no fork per file: under TCG a fork costs more than
the filesystem operation being measured). Each command prints "seconds S" and, where it
applies, "count N" on stdout; errors go to stderr with a non-zero status.

With --go PATH the command prepares, creates PATH.ready-<node>, waits for PATH to appear
(the harness creates it once every node is ready) and times from there: the way several
nodes start one workload together.
"""
import argparse
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import time

LINE = 16  # bytes per ping-pong record: fixed, so the file size counts the hand-offs


def wait_for_go(go, node):
    if not go:
        return
    with open(f"{go}.ready-{node}", "w"):
        pass
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            sys.exit(f"workload: no go signal at {go} within 120 s")
        time.sleep(0.002)


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def create(args):
    os.makedirs(args.dir, exist_ok=True)
    wait_for_go(args.go, args.node)
    start = time.monotonic()
    for i in range(args.count):
        os.close(os.open(f"{args.dir}/{args.prefix}{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    return time.monotonic() - start, args.count


def stat_all(args):
    """ls -l: read the directory, lstat every entry."""
    if args.drop_caches:
        drop_caches()
    start = time.monotonic()
    count = 0
    with os.scandir(args.dir) as entries:
        for entry in entries:
            entry.stat(follow_symlinks=False)
            count += 1
    return time.monotonic() - start, count


def unlink_all(args):
    names = os.listdir(args.dir)
    start = time.monotonic()
    for name in names:
        os.unlink(f"{args.dir}/{name}")
    return time.monotonic() - start, len(names)


def write(args):
    block = b"\xa5" * (1 << 20)
    start = time.monotonic()
    fd = os.open(args.file, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        for _ in range(args.mib):
            os.write(fd, block)
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.monotonic() - start, args.mib


def read(args):
    if args.drop_caches:
        drop_caches()
    total = 0
    start = time.monotonic()
    fd = os.open(args.file, os.O_RDONLY)
    try:
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
    finally:
        os.close(fd)
    return time.monotonic() - start, total >> 20


def randwrite(args):
    """4 KiB writes at random page-aligned offsets of a fully written file, each followed
    by fsync: the database/log pattern, issued by fio (psync, --fsync=1) so the figure
    compares with published ones. The file is written and fsync'ed before timing, so
    every write overwrites allocated blocks (no allocation, no unwritten extents); fio
    then finds it at full size and lays nothing out. Time: fio's own job runtime."""
    chunk = b"\0" * (1 << 20)
    fd = os.open(args.file, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        for _ in range(args.mib):
            os.write(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
    cmd = ["fio", "--name=randwrite", f"--filename={args.file}", "--rw=randwrite", "--bs=4k",
           f"--size={args.mib}m", f"--number_ios={args.ops}", "--ioengine=psync", "--fsync=1",
           "--direct=0", f"--randseed={args.seed}", "--overwrite=1", "--output-format=json"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"workload randwrite: fio exited {done.returncode}: {done.stderr.strip()}")
    job = json.loads(done.stdout[done.stdout.index("{"):])["jobs"][0]
    if job.get("error"):
        sys.exit(f"workload randwrite: fio job error {job['error']}")
    ios = job["write"]["total_ios"]
    if ios != args.ops:
        sys.exit(f"workload randwrite: fio wrote {ios} blocks, not {args.ops}")
    return job["job_runtime"] / 1000.0, ios


def make_tree_tarball(args):
    """Writes the untar workload's tarball (run on the host, once per benchmark): a
    deterministic tree of small files in nested directories, sizes drawn from 0 to
    16 KiB with most under 4 KiB, like a source tree."""
    rng = random.Random(args.seed)
    files = 0
    with tarfile.open(args.out, "w", format=tarfile.GNU_FORMAT) as tar:
        def add_dir(name):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = 1700000000
            tar.addfile(info)
        for top in range(args.top_dirs):
            add_dir(f"tree/d{top}")
            for sub in range(args.sub_dirs):
                directory = f"tree/d{top}/s{sub}"
                add_dir(directory)
                for i in range(args.files_per_dir):
                    size = min(int(rng.expovariate(1 / 3000)), 16384)
                    info = tarfile.TarInfo(f"{directory}/file{i}.c")
                    info.size = size
                    info.mode = 0o644
                    info.mtime = 1700000000
                    tar.addfile(info, io.BytesIO(rng.randbytes(size)))
                    files += 1
    return 0.0, files


def untar(args):
    """Extracts the tarball with GNU tar into a fresh directory, then sync: creates,
    small writes, directory inserts and the journal commit, as unpacking a source tree
    does. The count is the regular files extracted."""
    with tarfile.open(args.tarball) as tar:
        files = sum(1 for member in tar if member.isfile())
    os.makedirs(args.dir, exist_ok=True)
    start = time.monotonic()
    done = subprocess.run(["tar", "-xf", args.tarball, "-C", args.dir], stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"workload untar: tar failed: {done.stderr.strip()}")
    os.sync()
    return time.monotonic() - start, files


def pingpong(args):
    """Nodes 1 and 2 append fixed-size records in turn: record i is node (i % 2) + 1's.
    Each waits until the file holds every earlier record, so each append is a hand-off
    of the file between nodes. Node 1 reports the time until all records are there."""
    total = 2 * args.rounds
    wait_for_go(args.go, args.node)
    start = time.monotonic()
    deadline = start + args.timeout
    for i in range(args.node - 1, total, 2):
        while os.stat(args.file).st_size < i * LINE:
            if time.monotonic() > deadline:
                sys.exit(f"workload: ping-pong stuck before record {i}")
            time.sleep(0.0002)
        with open(args.file, "ab") as f:
            f.write(f"node{args.node} {i:09d}\n".encode()[:LINE].ljust(LINE, b" "))
    while os.stat(args.file).st_size < total * LINE:
        if time.monotonic() > deadline:
            sys.exit("workload: ping-pong did not complete")
        time.sleep(0.0002)
    elapsed = time.monotonic() - start
    with open(args.file, "rb") as f:
        data = f.read()
    for i in range(total):
        owner = data[i * LINE:(i + 1) * LINE].split()[0].decode()
        if owner != f"node{i % 2 + 1}":
            sys.exit(f"workload: ping-pong record {i} written by {owner}, expected node{i % 2 + 1}")
    return elapsed, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", type=int, default=int(os.environ.get("CFS_NODE", "1")))
    parser.add_argument("--go", help="start together with other nodes (see module doc)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("create")
    p.add_argument("--dir", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--prefix", default="f")
    p.set_defaults(run=create)
    p = sub.add_parser("stat")
    p.add_argument("--dir", required=True)
    p.add_argument("--drop-caches", action="store_true")
    p.set_defaults(run=stat_all)
    p = sub.add_parser("unlink")
    p.add_argument("--dir", required=True)
    p.set_defaults(run=unlink_all)
    p = sub.add_parser("write")
    p.add_argument("--file", required=True)
    p.add_argument("--mib", type=int, required=True)
    p.set_defaults(run=write)
    p = sub.add_parser("read")
    p.add_argument("--file", required=True)
    p.add_argument("--drop-caches", action="store_true")
    p.set_defaults(run=read)
    p = sub.add_parser("randwrite")
    p.add_argument("--file", required=True)
    p.add_argument("--mib", type=int, required=True, help="size of the file written first")
    p.add_argument("--ops", type=int, required=True, help="4 KiB pwrite+fsync operations")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(run=randwrite)
    p = sub.add_parser("make-tree-tarball")
    p.add_argument("--out", required=True)
    p.add_argument("--top-dirs", type=int, default=10)
    p.add_argument("--sub-dirs", type=int, default=10)
    p.add_argument("--files-per-dir", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(run=make_tree_tarball)
    p = sub.add_parser("untar")
    p.add_argument("--tarball", required=True)
    p.add_argument("--dir", required=True)
    p.set_defaults(run=untar)
    p = sub.add_parser("pingpong")
    p.add_argument("--file", required=True)
    p.add_argument("--rounds", type=int, required=True)
    p.add_argument("--timeout", type=float, default=300)
    p.set_defaults(run=pingpong)
    args = parser.parse_args()
    try:
        seconds, count = args.run(args)
    except OSError as e:
        sys.exit(f"workload {args.command}: {e}")
    print(f"seconds {seconds:.6f}")
    print(f"count {count}")


if __name__ == "__main__":
    main()
