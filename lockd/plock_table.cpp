// POSIX byte-range locks; see plock_table.h and docs/locking.md, "POSIX locks (fcntl)".
#include "plock_table.h"

#include <cerrno>
#include <set>

namespace clusterfs::lockd {

namespace {
constexpr uint32_t kPlockMagic = 0x4c504c43; // "CLPL"
constexpr uint32_t kMaxCount = 1u << 24;

bool overlaps(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2) { return s1 <= e2 && s2 <= e1; }
} // namespace

bool PlockTable::valid_range(uint64_t start, uint64_t end)
{
	return start <= end && start <= kMaxOffset && (end <= kMaxOffset || end == kEndOfFile);
}

// Makes [start, end] of one owner's locks exactly `write` (or unlocked if nullopt), as
// fcntl does: what overlaps is cut away (a segment straddling an edge keeps its outer
// part), then the new segment merges with adjacent segments of the same type.
void PlockTable::set_range(Segments &segs, uint64_t start, uint64_t end, std::optional<bool> write, uint32_t pid)
{
	auto it = segs.lower_bound(start);
	if (it != segs.begin() && std::prev(it)->second.end >= start)
		--it;
	while (it != segs.end() && it->first <= end) {
		uint64_t s = it->first;
		Segment seg = it->second;
		it = segs.erase(it);
		if (s < start)
			segs[s] = Segment{start - 1, seg.pid, seg.write};
		if (seg.end > end)
			it = segs.emplace(end + 1, seg).first; // beyond `end`: ends the loop
	}
	if (!write)
		return;
	auto cur = segs.emplace(start, Segment{end, pid, *write}).first;
	if (cur != segs.begin()) {
		auto prev = std::prev(cur);
		if (prev->second.end + 1 == start && prev->second.write == *write) {
			prev->second.end = end;
			prev->second.pid = pid;
			segs.erase(cur);
			cur = prev;
		}
	}
	auto next = std::next(cur);
	if (cur->second.end != kEndOfFile && next != segs.end() && next->first == cur->second.end + 1 &&
	    next->second.write == *write) {
		cur->second.end = next->second.end;
		segs.erase(next);
	}
}

// Whether another owner holds a lock overlapping [start, end] where either is a write
// lock; their owners are appended to *blockers (each once) if given.
bool PlockTable::conflicts(const File &f, const PlockOwner &who, uint64_t start, uint64_t end, bool write,
			   std::vector<PlockOwner> *blockers)
{
	bool any = false;
	for (const auto &[owner, segs] : f.held) {
		if (owner == who)
			continue;
		auto it = segs.upper_bound(end);
		while (it != segs.begin()) {
			--it;
			if (it->second.end < start)
				break; // segments are disjoint and sorted: nothing earlier reaches start
			if (write || it->second.write) {
				any = true;
				if (!blockers)
					return true;
				blockers->push_back(owner);
				break;
			}
		}
	}
	return any;
}

// Owner X waits for owner Y when a queued request of X conflicts with a lock of Y. A
// new request blocked by `blockers` deadlocks if one of them (transitively) waits for
// its own owner.
bool PlockTable::would_deadlock(const PlockOwner &who, const std::vector<PlockOwner> &blockers) const
{
	std::set<PlockOwner> seen(blockers.begin(), blockers.end());
	std::vector<PlockOwner> todo(blockers.begin(), blockers.end());
	while (!todo.empty()) {
		PlockOwner x = todo.back();
		todo.pop_back();
		if (x == who)
			return true;
		for (const auto &[number, f] : files_) {
			for (const Waiter &w : f.waiting) {
				if (PlockOwner{w.mount, w.owner} != x)
					continue;
				std::vector<PlockOwner> next;
				conflicts(f, x, w.start, w.end, w.write, &next);
				for (const PlockOwner &y : next)
					if (seen.insert(y).second)
						todo.push_back(y);
			}
		}
	}
	return false;
}

void PlockTable::drop_if_empty(uint64_t number)
{
	auto it = files_.find(number);
	if (it != files_.end() && it->second.held.empty() && it->second.waiting.empty())
		files_.erase(it);
}

// Grants queued requests that no longer conflict, front to back. A request is granted
// past an earlier one that is still blocked (as the kernel's local locks wake every
// waiter); each grant may convert its owner's own locks and so unblock an earlier
// request: the scan restarts from the front after every grant.
void PlockTable::retry(uint64_t number, std::vector<PlockEvent> &out)
{
	auto fit = files_.find(number);
	if (fit == files_.end() || !grants_enabled_)
		return;
	File &f = fit->second;
	for (bool granted = true; granted;) {
		granted = false;
		for (auto it = f.waiting.begin(); it != f.waiting.end(); ++it) {
			PlockOwner who{it->mount, it->owner};
			if (conflicts(f, who, it->start, it->end, it->write, nullptr))
				continue;
			set_range(f.held[who], it->start, it->end, it->write, it->pid);
			out.push_back(PlockEvent{it->mount, it->seq, 0, number});
			f.waiting.erase(it);
			granted = true;
			break;
		}
	}
}

void PlockTable::retry_all(std::vector<PlockEvent> &out)
{
	std::vector<uint64_t> numbers;
	for (const auto &[number, f] : files_)
		numbers.push_back(number);
	for (uint64_t n : numbers) {
		retry(n, out);
		drop_if_empty(n);
	}
}

void PlockTable::lock(MountId mount, uint32_t seq, uint64_t number, uint64_t owner, uint32_t pid, uint64_t start,
		      uint64_t end, bool write, bool wait, std::vector<PlockEvent> &out)
{
	auto answer = [&](int status) { out.push_back(PlockEvent{mount, seq, status, number}); };
	if (!valid_range(start, end))
		return answer(-EINVAL);
	File &f = files_[number];
	for (const Waiter &w : f.waiting)
		if (w.mount == mount && w.seq == seq) // the mount reused the seq of a queued request
			return answer(-EINVAL);
	PlockOwner who{mount, owner};
	std::vector<PlockOwner> blockers;
	bool conflict = conflicts(f, who, start, end, write, &blockers);
	if (!conflict && grants_enabled_) {
		set_range(f.held[who], start, end, write, pid);
		answer(0);
		// A write lock converted to read may unblock readers.
		return retry(number, out);
	}
	if (!wait) {
		answer(conflict ? -EAGAIN : -ENOLCK);
		return drop_if_empty(number);
	}
	if (would_deadlock(who, blockers)) {
		answer(-EDEADLK);
		return drop_if_empty(number);
	}
	f.waiting.push_back(Waiter{mount, seq, owner, pid, start, end, write});
}

void PlockTable::unlock(MountId mount, uint32_t seq, uint64_t number, uint64_t owner, uint64_t start, uint64_t end,
			std::vector<PlockEvent> &out)
{
	if (!valid_range(start, end)) {
		out.push_back(PlockEvent{mount, seq, -EINVAL, number});
		return;
	}
	out.push_back(PlockEvent{mount, seq, 0, number});
	auto fit = files_.find(number);
	if (fit == files_.end())
		return;
	auto hit = fit->second.held.find(PlockOwner{mount, owner});
	if (hit == fit->second.held.end())
		return;
	set_range(hit->second, start, end, std::nullopt, 0);
	if (hit->second.empty())
		fit->second.held.erase(hit);
	retry(number, out);
	drop_if_empty(number);
}

void PlockTable::cancel(MountId mount, uint32_t cancel_seq, std::vector<PlockEvent> &out)
{
	for (auto &[number, f] : files_) {
		for (auto it = f.waiting.begin(); it != f.waiting.end(); ++it) {
			if (it->mount != mount || it->seq != cancel_seq)
				continue;
			out.push_back(PlockEvent{mount, cancel_seq, -ECANCELED, number});
			f.waiting.erase(it);
			uint64_t n = number; // drop_if_empty invalidates the structured binding
			drop_if_empty(n);
			return;
		}
	}
}

std::optional<PlockTable::PlockView> PlockTable::get(uint64_t number, MountId mount, uint64_t owner, uint64_t start,
						     uint64_t end, bool write) const
{
	auto fit = files_.find(number);
	if (fit == files_.end() || !valid_range(start, end))
		return std::nullopt;
	PlockOwner who{mount, owner};
	for (const auto &[o, segs] : fit->second.held) {
		if (o == who)
			continue;
		for (const auto &[s, seg] : segs)
			if (overlaps(s, seg.end, start, end) && (write || seg.write))
				return PlockView{number, o, seg.pid, s, seg.end, seg.write};
	}
	return std::nullopt;
}

void PlockTable::mount_gone(MountId mount, std::vector<PlockEvent> &out)
{
	for (auto &[number, f] : files_) {
		std::erase_if(f.held, [&](const auto &h) { return h.first.mount == mount; });
		std::erase_if(f.waiting, [&](const Waiter &w) { return w.mount == mount; });
	}
	retry_all(out);
}

void PlockTable::node_down(NodeId node)
{
	std::vector<uint64_t> numbers;
	for (auto &[number, f] : files_) {
		std::erase_if(f.waiting, [&](const Waiter &w) { return w.mount.node == node; });
		numbers.push_back(number);
	}
	for (uint64_t n : numbers)
		drop_if_empty(n);
}

void PlockTable::node_fenced(NodeId node, std::vector<PlockEvent> &out)
{
	for (auto &[number, f] : files_) {
		std::erase_if(f.held, [&](const auto &h) { return h.first.mount.node == node; });
		std::erase_if(f.waiting, [&](const Waiter &w) { return w.mount.node == node; });
	}
	retry_all(out);
}

void PlockTable::set_grants_enabled(bool enabled, std::vector<PlockEvent> &out)
{
	grants_enabled_ = enabled;
	if (enabled)
		retry_all(out);
}

// ---- introspection ----

std::vector<PlockTable::FileView> PlockTable::files() const
{
	std::vector<FileView> v;
	for (const auto &[number, f] : files_) {
		FileView fv{number, {}, {}};
		for (const auto &[owner, segs] : f.held)
			for (const auto &[s, seg] : segs)
				fv.held.push_back(PlockView{number, owner, seg.pid, s, seg.end, seg.write});
		for (const Waiter &w : f.waiting)
			fv.waiting.push_back(WaiterView{
				w.mount, w.seq, PlockView{number, PlockOwner{w.mount, w.owner}, w.pid, w.start, w.end, w.write}});
		v.push_back(std::move(fv));
	}
	return v;
}

size_t PlockTable::held_count() const
{
	size_t n = 0;
	for (const auto &[number, f] : files_)
		for (const auto &[owner, segs] : f.held)
			n += segs.size();
	return n;
}

size_t PlockTable::waiting_count() const
{
	size_t n = 0;
	for (const auto &[number, f] : files_)
		n += f.waiting.size();
	return n;
}

// ---- snapshot encoding ----

void PlockTable::encode(wire::Writer &w) const
{
	w.u32(kPlockMagic);
	w.u8(grants_enabled_);
	w.u32(static_cast<uint32_t>(files_.size()));
	for (const auto &[number, f] : files_) {
		w.u64(number);
		w.u32(static_cast<uint32_t>(f.held.size()));
		for (const auto &[owner, segs] : f.held) {
			w.u32(owner.mount.node);
			w.u64(owner.mount.local);
			w.u64(owner.owner);
			w.u32(static_cast<uint32_t>(segs.size()));
			for (const auto &[s, seg] : segs) {
				w.u64(s);
				w.u64(seg.end);
				w.u32(seg.pid);
				w.u8(seg.write);
			}
		}
		w.u32(static_cast<uint32_t>(f.waiting.size()));
		for (const Waiter &wt : f.waiting) {
			w.u32(wt.mount.node);
			w.u64(wt.mount.local);
			w.u32(wt.seq);
			w.u64(wt.owner);
			w.u32(wt.pid);
			w.u64(wt.start);
			w.u64(wt.end);
			w.u8(wt.write);
		}
	}
}

bool PlockTable::decode(wire::Reader &r)
{
	*this = PlockTable{};
	auto bad = [this]() {
		*this = PlockTable{};
		return false;
	};
	if (r.u32() != kPlockMagic)
		return bad();
	grants_enabled_ = r.u8();
	uint32_t nf = r.u32();
	if (nf > kMaxCount)
		return bad();
	for (uint32_t i = 0; i < nf && r.ok(); i++) {
		uint64_t number = r.u64();
		if (files_.count(number))
			return bad();
		File &f = files_[number];
		uint32_t no = r.u32();
		if (no > kMaxCount)
			return bad();
		for (uint32_t k = 0; k < no && r.ok(); k++) {
			PlockOwner owner{MountId{r.u32(), r.u64()}, r.u64()};
			uint32_t ns = r.u32();
			if (ns == 0 || ns > kMaxCount || f.held.count(owner))
				return bad();
			Segments &segs = f.held[owner];
			bool first = true;
			uint64_t prev_end = 0;
			for (uint32_t s = 0; s < ns && r.ok(); s++) {
				uint64_t start = r.u64();
				Segment seg;
				seg.end = r.u64();
				seg.pid = r.u32();
				seg.write = r.u8();
				// Disjoint and in order, as set_range keeps them.
				if (!valid_range(start, seg.end) || (!first && (prev_end == kEndOfFile || start <= prev_end)))
					return bad();
				first = false;
				prev_end = seg.end;
				segs[start] = seg;
			}
		}
		uint32_t nw = r.u32();
		if (nw > kMaxCount)
			return bad();
		for (uint32_t k = 0; k < nw && r.ok(); k++) {
			Waiter w;
			w.mount = MountId{r.u32(), r.u64()};
			w.seq = r.u32();
			w.owner = r.u64();
			w.pid = r.u32();
			w.start = r.u64();
			w.end = r.u64();
			w.write = r.u8();
			if (!valid_range(w.start, w.end))
				return bad();
			f.waiting.push_back(w);
		}
		if (r.ok() && f.held.empty() && f.waiting.empty())
			return bad();
	}
	if (!r.ok())
		return bad();
	return true;
}

} // namespace clusterfs::lockd
