#!/usr/bin/env python3
"""A stand-in for clusterfs_lockd's admin socket, for tests of clusterfs_tool without
corosync: it answers CFS_ADMIN_DUMP_CLUSTER with a canned reply.

usage: fake_lockd.py SOCKET REPLY_FILE LOG_FILE

Each admin request is answered with status and text read from REPLY_FILE at that moment
(first line "status N", the rest the text), so a test can change the answer without a
restart. Each request is logged to LOG_FILE as "admin command=C arg=A lockspace=NAME".
The wire format is include/clusterfs/lockproto.h: a 16-byte little-endian header (magic
"CLCK", version 1, type, length, seq); REQ_ADMIN (type 8) carries command, arg and a
64-byte NUL-padded lockspace name; EV_ADMIN_REPLY (type 70) carries status and text_len,
then the text. Serves until killed.
"""
import os
import socket
import struct
import sys

MAGIC = 0x4B434C43  # "CLCK" as little-endian bytes
VERSION = 1
REQ_ADMIN = 8
EV_ADMIN_REPLY = 70
HEADER = struct.Struct("<IHHII")  # magic, version, type, length, seq
ADMIN_BODY = struct.Struct("<II64s")  # command, arg, lockspace
REPLY_BODY = struct.Struct("<iI")  # status, text_len


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_reply(path):
    with open(path, "rb") as f:
        first, _, text = f.read().partition(b"\n")
    status = int(first.split()[1])
    return status, text


def serve(conn, reply_file, log):
    while True:
        head = recv_exact(conn, HEADER.size)
        if head is None:
            return
        magic, version, mtype, length, seq = HEADER.unpack(head)
        if magic != MAGIC or version != VERSION or length < HEADER.size:
            log.write("bad header magic=%#x version=%d length=%d\n" % (magic, version, length))
            return
        body = recv_exact(conn, length - HEADER.size)
        if body is None:
            return
        if mtype != REQ_ADMIN or len(body) != ADMIN_BODY.size:
            log.write("ignored type=%d length=%d\n" % (mtype, length))
            continue
        command, arg, lockspace = ADMIN_BODY.unpack(body)
        log.write("admin command=%d arg=%d lockspace=%s\n"
                  % (command, arg, lockspace.rstrip(b"\0").decode(errors="replace")))
        status, text = read_reply(reply_file)
        reply = HEADER.pack(MAGIC, VERSION, EV_ADMIN_REPLY,
                            HEADER.size + REPLY_BODY.size + len(text), seq)
        conn.sendall(reply + REPLY_BODY.pack(status, len(text)) + text)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, reply_file, log_file = sys.argv[1:]
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path + ".tmp")
    srv.listen(4)
    # Appears under its final name only once it accepts connections.
    os.rename(path + ".tmp", path)
    with open(log_file, "a", buffering=1) as log:
        while True:
            conn, _ = srv.accept()
            with conn:
                serve(conn, reply_file, log)


if __name__ == "__main__":
    main()
