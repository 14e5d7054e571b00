// The admin dumps of a lockspace (clusterfs_tool locks and cluster): its lock table,
// POSIX locks, members, mounts, fences and recoveries as JSON and as text. Apart from
// the replication in lockspace.cpp: read-only views that change nothing.
#include <cstring>
#include <string>

#include "daemon.h"
#include "lockspace.h"

namespace clusterfs::lockd {

namespace {

std::string hex(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	std::string s;
	for (size_t i = 0; i < n; i++) {
		s += digits[p[i] >> 4];
		s += digits[p[i] & 15];
	}
	return s;
}

} // namespace

void Lockspace::append_locks_json(std::string &out) const
{
	out += "{\"name\":\"" + json_escape(name_) + "\",\"resources\":[";
	bool first = true;
	auto lock_json = [](const LockTable::LockView &l, bool queued) {
		std::string s = "{\"node\":" + std::to_string(l.id.node) + ",\"lock\":\"" + std::to_string(l.id.local) +
				"\",\"mode\":\"" + mode_name(l.granted) + "\"";
		if (queued)
			s += std::string(",\"requested\":\"") + mode_name(l.requested) + "\"";
		if (l.orphaned)
			s += ",\"orphaned\":true";
		if (l.pinned_journal >= 0)
			s += ",\"pinned_journal\":" + std::to_string(l.pinned_journal);
		return s + "}";
	};
	for (const auto &r : table_.resources()) {
		if (!first)
			out += ",";
		first = false;
		out += "{\"resource\":\"" + json_escape(r.name) + "\",\"lvb\":\"" + hex(r.lvb.data(), r.lvb.size()) +
		       "\",\"lvb_valid\":" + (r.lvb_valid ? "true" : "false");
		// Owned: the owner's node alone knows its locks (docs/lockd-ownership.md).
		if (r.owner)
			out += ",\"owner_node\":" + std::to_string(r.owner->node) + ",\"owner_mount\":\"" +
			       std::to_string(r.owner->local) + "\",\"recalling\":" + (r.recalling ? "true" : "false") +
			       ",\"parked\":" + std::to_string(r.parked);
		const std::pair<const char *, const std::vector<LockTable::LockView> *> queues[] = {
			{"granted", &r.granted}, {"converting", &r.converting}, {"waiting", &r.waiting}};
		for (auto &[qname, q] : queues) {
			out += std::string(",\"") + qname + "\":[";
			for (size_t i = 0; i < q->size(); i++)
				out += (i ? "," : "") + lock_json((*q)[i], q != &r.granted);
			out += "]";
		}
		out += "}";
	}
	out += "],\"plocks\":[";
	// Offsets as JSON numbers (end 18446744073709551615: to the end of the file); the
	// owner cookie and mount id as strings, like lock ids.
	auto plock_json = [](const PlockTable::PlockView &l) {
		return "\"node\":" + std::to_string(l.owner.mount.node) + ",\"mount\":\"" +
		       std::to_string(l.owner.mount.local) + "\",\"owner\":\"" + std::to_string(l.owner.owner) +
		       "\",\"pid\":" + std::to_string(l.pid) + ",\"start\":" + std::to_string(l.start) +
		       ",\"end\":" + std::to_string(l.end) + ",\"type\":\"" + (l.write ? "write" : "read") + "\"";
	};
	first = true;
	for (const auto &f : plocks_.files()) {
		out += std::string(first ? "" : ",") + "{\"number\":" + std::to_string(f.number) + ",\"held\":[";
		first = false;
		for (size_t i = 0; i < f.held.size(); i++)
			out += std::string(i ? "," : "") + "{" + plock_json(f.held[i]) + "}";
		out += "],\"waiting\":[";
		for (size_t i = 0; i < f.waiting.size(); i++)
			out += std::string(i ? "," : "") + "{" + plock_json(f.waiting[i].lock) +
			       ",\"seq\":" + std::to_string(f.waiting[i].seq) + "}";
		out += "]}";
	}
	out += "]}";
}

void Lockspace::append_cluster_json(std::string &out) const
{
	out += "{\"name\":\"" + json_escape(name_) + "\",\"state\":\"" +
	       (refused_ ? "refused" : have_state_ ? "member" : "joining") + "\",\"grants_enabled\":" +
	       (table_.grants_enabled() ? "true" : "false") + ",\"table_divergences\":" + std::to_string(divergences_) +
	       ",\"members\":[";
	bool first = true;
	for (NodeId n : members_) {
		out += (first ? "" : ",") + std::to_string(n);
		first = false;
	}
	out += "],\"mounts\":[";
	first = true;
	for (const auto &m : table_.mounts()) {
		out += std::string(first ? "" : ",") + "{\"node\":" + std::to_string(m.id.node) +
		       ",\"journal\":" +
		       (m.journal == LockTable::kNoJournal ? std::string("null") : std::to_string(m.journal)) + "}";
		first = false;
	}
	out += "],\"awaiting_fence\":[";
	first = true;
	for (NodeId n : table_.nodes_awaiting_fence()) {
		out += (first ? "" : ",") + std::to_string(n);
		first = false;
	}
	out += "],\"recoveries\":[";
	first = true;
	for (const auto &rec : table_.recoveries()) {
		out += std::string(first ? "" : ",") + "{\"journal\":" + std::to_string(rec.journal) +
		       ",\"dead_node\":" + std::to_string(rec.dead_node) + ",\"assigned_node\":" +
		       (rec.assigned ? std::to_string(rec.assigned->node) : "null") + "}";
		first = false;
	}
	out += "],\"lock_ops\":{\"local\":" + std::to_string(counts_.local) +
	       ",\"multicast\":" + std::to_string(counts_.multicast) + ",\"recalls\":" + std::to_string(counts_.recalls) +
	       ",\"publishes\":" + std::to_string(counts_.publishes) + ",\"owned_resources\":" +
	       std::to_string(table_.owned_count()) + "}}";
}

void Lockspace::append_locks_text(std::string &out) const
{
	out += "lockspace " + name_ + "\n";
	auto lock_text = [](const LockTable::LockView &l, bool queued) {
		std::string s = "node " + std::to_string(l.id.node) + " " + mode_name(l.granted);
		if (queued)
			s += std::string("->") + mode_name(l.requested);
		if (l.orphaned)
			s += l.pinned_journal >= 0 ? " (dead, pinned until journal " + std::to_string(l.pinned_journal) +
							     " is replayed)"
						   : std::string(" (dead, awaiting fencing)");
		return s;
	};
	auto resources = table_.resources();
	if (resources.empty())
		out += "  (no resources)\n";
	for (const auto &r : resources) {
		out += "  " + json_escape(r.name) + "  lvb " + hex(r.lvb.data(), r.lvb.size()) +
		       (r.lvb_valid ? "" : " INVALID") +
		       (!r.owner ? std::string()
				 : "  owned by node " + std::to_string(r.owner->node) +
					   (r.owner->node == d_.node_id() ? std::string() : " (its locks are known there)") +
					   (r.recalling ? ", recalled (" + std::to_string(r.parked) + " waiting)" : "")) +
		       "\n";
		const std::pair<const char *, const std::vector<LockTable::LockView> *> queues[] = {
			{"granted", &r.granted}, {"converting", &r.converting}, {"waiting", &r.waiting}};
		for (auto &[qname, q] : queues)
			for (const auto &l : *q)
				out += std::string("    ") + qname + std::string(11 - strlen(qname), ' ') +
				       lock_text(l, q != &r.granted) + "\n";
	}
	auto plock_text = [](const PlockTable::PlockView &l) {
		return std::string(l.write ? "write " : "read ") + std::to_string(l.start) + "-" +
		       (l.end == PlockTable::kEndOfFile ? std::string("eof") : std::to_string(l.end)) + " node " +
		       std::to_string(l.owner.mount.node) + " pid " + std::to_string(l.pid);
	};
	for (const auto &f : plocks_.files()) {
		out += "  posix locks of inode " + std::to_string(f.number) + "\n";
		for (const auto &l : f.held)
			out += "    held       " + plock_text(l) + "\n";
		for (const auto &w : f.waiting)
			out += "    waiting    " + plock_text(w.lock) + "\n";
	}
}

void Lockspace::append_cluster_text(std::string &out) const
{
	out += "lockspace " + name_ + ": " + (refused_ ? "refused" : have_state_ ? "member" : "joining") +
	       ", grants " + (table_.grants_enabled() ? "enabled" : "STOPPED (waiting for quorum)") + "\n  members:";
	for (NodeId n : members_)
		out += " " + std::to_string(n);
	out += "\n  mounts:";
	for (const auto &m : table_.mounts())
		out += " node " + std::to_string(m.id.node) +
		       (m.journal == LockTable::kNoJournal ? std::string(" (no journal)")
							   : " journal " + std::to_string(m.journal)) +
		       ";";
	out += "\n";
	for (NodeId n : table_.nodes_awaiting_fence())
		out += "  node " + std::to_string(n) + " awaits fencing" +
		       (d_.config().fence_command.empty() ? " (no fence_command: run clusterfs_tool fence-ack " +
								  std::to_string(n) + ")"
							    : "") +
		       "\n";
	for (const auto &rec : table_.recoveries())
		out += "  journal " + std::to_string(rec.journal) + " of dead node " + std::to_string(rec.dead_node) +
		       (rec.assigned ? " being replayed by node " + std::to_string(rec.assigned->node)
				     : std::string(" awaits a mount to replay it")) +
		       "\n";
	out += "  lock operations of this node: " + std::to_string(counts_.local) + " local, " +
	       std::to_string(counts_.multicast) + " multicast; " + std::to_string(counts_.recalls) + " recalls, " +
	       std::to_string(counts_.publishes) + " publishes; " + std::to_string(table_.owned_count()) +
	       " resources owned\n";
}

} // namespace clusterfs::lockd
