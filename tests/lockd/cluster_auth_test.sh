#!/usr/bin/env bash
# Who may talk to lockd: every message between lockds is a CPG message, so corosync's
# crypto (knet, keyed by the authkey every node has) is what keeps a host that is not a
# cluster member from forging a grant or a release. Real corosync, four namespaces: nodes
# 1-3 share a key, node 4 is in the nodelist but has another key (then none). Asserts
# what the members' clients see: node 4 never joins the membership, is never quorate,
# its lockd grants it nothing, and the members' locks do not change; frames of node 1
# captured on the wire and sent again to nodes 2 and 3 are dropped by knet (logged) and
# change nothing either; lockd with `require_crypto = 1` refuses to start on a corosync
# without crypto. Needs root.
CLUSTER_CRYPTO=1
. "$(dirname "$0")/cluster_lib.sh"

LS=$RUN_ID:fs
ENOLCK=-37
step() { log "== $*"; }
count() { grep -Ec -- "$2" "$1" 2>/dev/null || true; }
tool() { local node=$1 cmd=$2; shift 2; "$TOOL" "$cmd" -s "$(sock "$node")" "$@"; }
members_of() { ip netns exec "$(ns "$1")" corosync-quorumtool -s 2>/dev/null | sed -n 's/^Nodes: *//p'; }

# frames capture IFACE SRC_IP FILE STOP_FILE | frames replay FILE IFACE...: in the bridge
# namespace, the UDP frames (corosync's knet port) node SRC_IP sends, kept raw, then put
# on the wire again towards other nodes: the same bytes, keys and sequence numbers.
frames() {
	ip netns exec "${RUN_ID}br" python3 - "$@" <<'PYEOF'
import socket, struct, sys, os
ETH_P_ALL = 0x0003
if sys.argv[1] == "capture":
    iface, src, path, stop = sys.argv[2:6]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.settimeout(0.1)
    src = socket.inet_aton(src)
    with open(path, "wb") as out:
        while not os.path.exists(stop):
            try:
                frame = s.recv(65535)
            except socket.timeout:
                continue
            # IPv4, UDP, from SRC, to corosync's port 5405.
            if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17 or frame[26:30] != src:
                continue
            ihl = (frame[14] & 0x0F) * 4
            if struct.unpack("!H", frame[14 + ihl + 2:14 + ihl + 4])[0] != 5405:
                continue
            out.write(struct.pack("!I", len(frame)) + frame)
            out.flush()
else:
    path, ifaces = sys.argv[2], sys.argv[3:]
    data = open(path, "rb").read()
    frames, at = [], 0
    while at < len(data):
        (n,) = struct.unpack("!I", data[at:at + 4])
        frame = bytearray(data[at + 4:at + 4 + n])
        # veth offloads checksums: the captured UDP checksum may be a partial one. Zero
        # means "none" in IPv4; the payload, which knet authenticates, is unchanged.
        ihl = (frame[14] & 0x0F) * 4
        frame[14 + ihl + 6:14 + ihl + 8] = b"\x00\x00"
        frames.append(bytes(frame))
        at += 4 + n
    for iface in ifaces:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((iface, 0))
        for frame in frames:
            s.send(frame)
    print(len(frames))
PYEOF
}

# start_node4_refused WHAT: starts node 4's corosync; node 1's must log a packet of it
# that it could not authenticate within 30 s.
start_node4_refused() {
	local before end
	before=$(count "$WORK/n1/corosync.log" "Unable to decrypt/auth packet")
	corosync_start 4
	end=$((SECONDS + 30))
	until [ "$(count "$WORK/n1/corosync.log" "Unable to decrypt/auth packet")" -gt "$before" ]; do
		[ "$SECONDS" -lt "$end" ] || fail "node 1's corosync logged no refused packet of node 4 $1"
		sleep 0.2
	done
}

step "nodelist of 4, nodes 1-3 keyed alike and quorate (3 of 4 votes), node 4 with another key"
cluster_create 4
corosync-keygen -k "$WORK/otherkey" >/dev/null 2>&1 || fail "corosync-keygen failed"
install -m 0400 "$WORK/otherkey" "$WORK/n4/authkey.other"
mv -f "$WORK/n4/authkey.other" "$WORK/n4/authkey"
cmp -s "$WORK/n1/authkey" "$WORK/n4/authkey" && fail "node 4's key is node 1's"
for i in 1 2 3; do corosync_start "$i"; done
for i in 1 2 3; do quorate_wait "$i"; done
for i in 1 2; do
	echo "require_crypto = 1" >>"$WORK/n$i/lockd.conf"
	lockd_start "$i"
	grep -q "corosync authenticates cluster traffic (crypto_hash sha256, crypto_cipher aes256)" "$WORK/n$i/lockd.log" ||
		fail "lockd on node $i did not report corosync's crypto: $(tail -n 3 "$WORK/n$i/lockd.log")"
done
client_start a 1 "$LS"
client_start b 2 "$LS"

step "a replayed first acquire and release of node 1 change nothing"
# The first acquire of a name is a multicast (later ones of its only user are local).
rm -f "$WORK/capture.stop"
frames capture p1 10.77.0.1 "$WORK/node1.frames" "$WORK/capture.stop" &
capture_pid=$!
OUR_PIDS+=("$capture_pid")
sleep 0.5
send a lock 2 r2 EX
wait_for "$(out a)" "^complete id=2 status=0 mode=EX"
send a unlock 2
wait_for "$(out a)" "^complete id=2 status=0 mode=IV"
sleep 0.5
touch "$WORK/capture.stop"
wait "$capture_pid" || fail "frame capture failed"
send b lock 2 r2 EX
wait_for "$(out b)" "^complete id=2 status=0 mode=EX"
bast_before=$(count "$(out b)" "^bast id=2 ")
dropped_before=$(count "$WORK/n2/corosync.log" "rx: Packet has already been delivered")
replayed=$(frames replay "$WORK/node1.frames" p2 p3) || fail "replay failed"
[ "$replayed" -gt 0 ] || fail "no frame of node 1 was captured"
log "replayed $replayed frames of node 1 to nodes 2 and 3"
sleep 3
# knet authenticated them (same key) and dropped them by sequence number.
dropped=$(($(count "$WORK/n2/corosync.log" "rx: Packet has already been delivered") - dropped_before))
[ "$dropped" -gt 0 ] || fail "node 2's corosync logged no replayed packet it dropped"
log "node 2's corosync dropped $dropped replayed packets as already delivered"
[ "$(count "$(out b)" "^bast id=2 ")" = "$bast_before" ] ||
	fail "a replayed request of node 1 reached node 2's lock (blocking callback)"
tool 2 locks --json --lockspace "$LS" | grep -q '"r2"' || fail "node 2's lock on r2 is gone after the replay"
for i in 1 2 3; do
	[ "$(members_of "$i")" = 3 ] || fail "node $i's membership changed after the replay: $(members_of "$i") nodes"
done
# Both lockds still serve: a contended lock still goes from one to the other.
send a lock 3 r2 EX
wait_for "$(out b)" "^bast id=2 mode=EX"
send b unlock 2
wait_for "$(out a)" "^complete id=3 status=0 mode=EX"

step "node 4 with the wrong key: refused by every member, alone, inquorate, granted nothing"
send a lock 1 r1 EX
wait_for "$(out a)" "^complete id=1 status=0 mode=EX"
send b lock 1 r1 EX
wait_for "$(out a)" "^bast id=1 mode=EX"
start_node4_refused "with another key"
lockd_start 4
sleep 5 # node 4's corosync keeps trying to form a ring with the others
for i in 1 2 3; do
	[ "$(members_of "$i")" = 3 ] || fail "node $i counts $(members_of "$i") members with node 4 keyed otherwise"
done
[ "$(members_of 4)" = 1 ] || fail "node 4 sees $(members_of 4) members with another key"
if "$CLIENT" -s "$(sock 4)" script "$LS" 4 </dev/null >"$WORK/intruder.out" 2>&1; then
	fail "node 4 joined the lockspace: $(cat "$WORK/intruder.out")"
fi
grep -q "^joined status=$ENOLCK " "$WORK/intruder.out" ||
	fail "node 4's join: expected status $ENOLCK (inquorate): $(cat "$WORK/intruder.out")"
[ "$(count "$(out b)" "^complete id=1 ")" = 0 ] || fail "node 2 was granted r1 while node 1 holds it EX"
tool 1 locks --json --lockspace "$LS" | grep -q '"r1"' || fail "node 1's lock on r1 is gone"

step "node 4 with no crypto at all: refused too; lockd there with require_crypto refuses to start"
kill -9 "${LOCKD_PID[4]}" "${COROSYNC_PID[4]}" 2>/dev/null
wait "${LOCKD_PID[4]}" "${COROSYNC_PID[4]}" 2>/dev/null
sed -i -e 's/crypto_cipher: aes256/crypto_cipher: none/' -e 's/crypto_hash: sha256/crypto_hash: none/' \
	-e '/keyfile:/d' "$WORK/n4/corosync.conf"
start_node4_refused "in clear text"
sleep 3
for i in 1 2 3; do
	[ "$(members_of "$i")" = 3 ] || fail "node $i counts $(members_of "$i") members with node 4 in clear text"
done
echo "require_crypto = 1" >>"$WORK/n4/lockd.conf"
status=0
timeout 30 ip netns exec "$(ns 4)" "$LOCKD" -f -c "$WORK/n4/lockd.conf" -s "$(sock 4)" \
	>"$WORK/n4/lockd-require.log" 2>&1 || status=$?
[ "$status" = 1 ] || fail "lockd with require_crypto on a corosync without crypto: status $status, expected 1: $(tail -n 3 "$WORK/n4/lockd-require.log")"
grep -q "corosync does not authenticate cluster traffic (totem.crypto_hash is none) and require_crypto = 1" \
	"$WORK/n4/lockd-require.log" || fail "lockd's refusal does not say why: $(tail -n 3 "$WORK/n4/lockd-require.log")"

step "the members' locks are as they were: node 1's release hands r1 to node 2"
[ "$(count "$(out b)" "^complete id=1 ")" = 0 ] || fail "node 2 was granted r1 while node 1 holds it EX"
send a unlock 1
wait_for "$(out b)" "^complete id=1 status=0 mode=EX"
log "PASS ($SECONDS s)"
