// The grant state machine; see lock_table.h and docs/locking.md for the rules.
#include "lock_table.h"

#include <cerrno>

namespace clusterfs::lockd {

namespace {

// The DLM compatibility matrix, indexed by CFS_LOCK_* (NL CR CW PR PW EX).
constexpr bool kCompatible[CFS_LOCK_MODE_COUNT][CFS_LOCK_MODE_COUNT] = {
	{1, 1, 1, 1, 1, 1},
	{1, 1, 1, 1, 1, 0},
	{1, 1, 1, 0, 0, 0},
	{1, 1, 0, 1, 0, 0},
	{1, 1, 0, 0, 0, 0},
	{1, 0, 0, 0, 0, 0},
};

bool valid_mode(Mode m) { return m >= CFS_LOCK_NL && m <= CFS_LOCK_EX; }
bool writes_lvb(Mode m) { return m == CFS_LOCK_PW || m == CFS_LOCK_EX; }
bool is_journal_name(const std::string &name)
{
	return name.rfind(CFS_JOURNAL_LOCK_PREFIX, 0) == 0;
}

} // namespace

bool modes_compatible(Mode a, Mode b) { return kCompatible[a][b]; }

bool is_down_conversion(Mode from, Mode to)
{
	for (Mode m = CFS_LOCK_NL; m <= CFS_LOCK_EX; m++)
		if (kCompatible[from][m] && !kCompatible[to][m])
			return false;
	return true;
}

const char *mode_name(Mode m)
{
	static const char *const names[] = {"NL", "CR", "CW", "PR", "PW", "EX"};
	return valid_mode(m) ? names[m] : "IV";
}

std::optional<Mode> parse_mode(const std::string &s)
{
	for (Mode m = CFS_LOCK_NL; m <= CFS_LOCK_EX; m++)
		if (s == mode_name(m))
			return m;
	return std::nullopt;
}

std::string journal_lock_name(uint32_t journal)
{
	return CFS_JOURNAL_LOCK_PREFIX + std::to_string(journal);
}

LockId recovery_lock_id(NodeId node, uint32_t journal)
{
	// Top bit set: never produced by a node's own lock id counter (see lockd.cpp).
	return LockId{node, (uint64_t{1} << 63) | journal};
}

// ---- helpers ----

void LockTable::fail(MountId mount, LockId id, int status, Mode mode, std::vector<Event> &out)
{
	Event e;
	e.kind = Event::Kind::Complete;
	e.mount = mount;
	e.lock = id;
	e.status = status;
	e.mode = mode;
	out.push_back(e);
}

void LockTable::complete(const Lock &l, int status, std::vector<Event> &out)
{
	fail(l.mount, l.id, status, l.granted, out);
}

void LockTable::unlink(Lock &l)
{
	Resource &r = resource_of(l);
	auto &q = l.queue == Queue::Granted ? r.granted : l.queue == Queue::Converting ? r.converting : r.waiting;
	q.remove(l.id);
}

void LockTable::remove_lock(LockId id)
{
	auto it = locks_.find(id);
	if (it == locks_.end())
		return;
	unlink(it->second);
	locks_.erase(it);
}

void LockTable::create_granted(MountId mount, LockId id, const std::string &resource, Mode mode)
{
	Lock l;
	l.id = id;
	l.mount = mount;
	l.resource = resource;
	l.granted = mode;
	l.queue = Queue::Granted;
	resources_[resource].granted.push_back(id);
	locks_[id] = std::move(l);
}

bool LockTable::compatible_with_holders(const Resource &r, const Lock &l, Mode mode) const
{
	for (const auto *q : {&r.granted, &r.converting})
		for (LockId other : *q)
			if (other != l.id && !modes_compatible(locks_.at(other).granted, mode))
				return false;
	return true;
}

void LockTable::grant(Lock &l, std::vector<Event> &out)
{
	Resource &r = resource_of(l);
	bool up = l.granted == kNoMode || l.requested > l.granted;
	unlink(l);
	l.granted = l.requested;
	l.requested = kNoMode;
	l.queue = Queue::Granted;
	l.bast_modes = 0;
	r.granted.push_back(l.id);

	Event e;
	e.kind = Event::Kind::Complete;
	e.mount = l.mount;
	e.lock = l.id;
	e.mode = l.granted;
	if ((l.flags & CFS_LKF_VALBLK) && up && l.granted > CFS_LOCK_NL) {
		e.lvb_present = true;
		e.lvb_invalid = !r.lvb_valid;
		e.lvb = r.lvb;
	}
	out.push_back(e);
}

// Grants what the queues allow: conversions first, in order; then waiters, in order,
// once no conversion is pending. Then tells holders who blocks whom.
void LockTable::process(const std::string &name, std::vector<Event> &out)
{
	auto rit = resources_.find(name);
	if (rit == resources_.end())
		return;
	Resource &r = rit->second;
	if (may_grant()) {
		while (!r.converting.empty()) {
			Lock &head = locks_.at(r.converting.front());
			if (!compatible_with_holders(r, head, head.requested))
				break;
			grant(head, out);
		}
		while (r.converting.empty() && !r.waiting.empty()) {
			Lock &head = locks_.at(r.waiting.front());
			if (!compatible_with_holders(r, head, head.requested))
				break;
			grant(head, out);
		}
	}
	send_basts(r, out);
	static const Lvb zero{};
	if (r.granted.empty() && r.converting.empty() && r.waiting.empty() && r.lvb_valid && r.lvb == zero)
		resources_.erase(rit);
}

void LockTable::process_all(std::vector<Event> &out)
{
	std::vector<std::string> names;
	for (const auto &[name, r] : resources_)
		names.push_back(name);
	for (const auto &name : names)
		process(name, out);
}

// A holder is told once per mode that blocks on it: a later request that releasing
// for an earlier bast would also satisfy produces no second callback.
void LockTable::send_basts(Resource &r, std::vector<Event> &out)
{
	for (const auto *queue : {&r.converting, &r.waiting}) {
		for (LockId qid : *queue) {
			const Lock &waiter = locks_.at(qid);
			for (const auto *held : {&r.granted, &r.converting}) {
				for (LockId hid : *held) {
					Lock &h = locks_.at(hid);
					if (hid == qid || h.orphaned || modes_compatible(h.granted, waiter.requested))
						continue;
					bool covered = false;
					for (Mode m = CFS_LOCK_NL; m <= CFS_LOCK_EX; m++)
						if ((h.bast_modes & (1u << m)) && is_down_conversion(m, waiter.requested))
							covered = true;
					if (covered)
						continue;
					h.bast_modes |= 1u << waiter.requested;
					Event e;
					e.kind = Event::Kind::Bast;
					e.mount = h.mount;
					e.lock = h.id;
					e.mode = waiter.requested;
					out.push_back(e);
				}
			}
		}
	}
}

// ---- requests ----

void LockTable::request(MountId mount, LockId id, const std::string &resource, Mode mode, uint32_t flags,
			std::vector<Event> &out)
{
	auto mit = mounts_.find(mount);
	if (mit == mounts_.end() || mit->second.dead || mit->second.journal < 0)
		return fail(mount, id, -ENOENT, kNoMode, out);
	if (!valid_mode(mode) || resource.empty() || resource.size() > CFS_RESOURCE_NAME_MAX ||
	    is_journal_name(resource))
		return fail(mount, id, -EINVAL, kNoMode, out);
	if (locks_.count(id))
		return fail(mount, id, -EEXIST, kNoMode, out);

	Resource &r = resources_[resource];
	Lock l;
	l.id = id;
	l.mount = mount;
	l.resource = resource;
	l.requested = mode;
	l.flags = flags;
	bool now = may_grant() && r.converting.empty() && r.waiting.empty() &&
		   compatible_with_holders(r, l, mode);
	if (!now && (flags & CFS_LKF_NOQUEUE)) {
		fail(mount, id, -EAGAIN, kNoMode, out);
		return process(resource, out); // drops the resource if we created it
	}
	l.queue = Queue::Waiting;
	r.waiting.push_back(id);
	Lock &stored = locks_[id] = std::move(l);
	if (now)
		grant(stored, out);
	process(resource, out);
}

void LockTable::convert(MountId mount, LockId id, Mode mode, uint32_t flags, const Lvb &lvb,
			std::vector<Event> &out)
{
	auto it = locks_.find(id);
	if (it == locks_.end() || it->second.mount != mount || it->second.orphaned)
		return fail(mount, id, -ENOENT, kNoMode, out);
	Lock &l = it->second;
	if (!valid_mode(mode))
		return complete(l, -EINVAL, out);
	if (l.queue != Queue::Granted)
		return complete(l, -EBUSY, out);
	if (mode == l.granted)
		return complete(l, 0, out);

	Resource &r = resource_of(l);
	if (is_down_conversion(l.granted, mode)) {
		// Always granted at once: nobody can be blocked by a weaker mode.
		if ((flags & CFS_LKF_VALBLK) && writes_lvb(l.granted)) {
			r.lvb = lvb;
			r.lvb_valid = true;
		}
		l.flags = flags;
		l.requested = mode;
		grant(l, out);
		return process(l.resource, out);
	}

	bool now = may_grant() && r.converting.empty() && compatible_with_holders(r, l, mode);
	if (!now && (flags & CFS_LKF_NOQUEUE))
		return complete(l, -EAGAIN, out);
	if (!now) {
		// Conversions are granted in order; a queued conversion that wants a mode our
		// granted mode blocks would wait for us while we wait behind it.
		for (LockId c : r.converting)
			if (!modes_compatible(locks_.at(c).requested, l.granted))
				return complete(l, -EDEADLK, out);
	}
	l.flags = flags;
	l.requested = mode;
	if (now) {
		grant(l, out);
	} else {
		unlink(l);
		l.queue = Queue::Converting;
		r.converting.push_back(l.id);
	}
	process(l.resource, out);
}

void LockTable::unlock(MountId mount, LockId id, uint32_t flags, const Lvb &lvb, std::vector<Event> &out)
{
	auto it = locks_.find(id);
	if (it == locks_.end() || it->second.mount != mount || it->second.orphaned)
		return fail(mount, id, -ENOENT, kNoMode, out);
	Lock &l = it->second;
	if (l.queue != Queue::Granted)
		return complete(l, -EBUSY, out);
	if (is_journal_name(l.resource))
		return complete(l, -EPERM, out); // journal locks go with leave/recovered
	Resource &r = resource_of(l);
	if ((flags & CFS_LKF_VALBLK) && writes_lvb(l.granted)) {
		r.lvb = lvb;
		r.lvb_valid = true;
	}
	std::string name = l.resource;
	remove_lock(id);
	fail(mount, id, 0, kNoMode, out);
	process(name, out);
}

void LockTable::cancel(MountId mount, LockId id, std::vector<Event> &out)
{
	auto it = locks_.find(id);
	if (it == locks_.end() || it->second.mount != mount || it->second.queue == Queue::Granted)
		return; // nothing queued: the grant or failure already completed the request
	Lock &l = it->second;
	std::string name = l.resource;
	if (l.queue == Queue::Waiting) {
		remove_lock(id);
		fail(mount, id, -ECANCELED, kNoMode, out);
	} else {
		unlink(l);
		l.requested = kNoMode;
		l.queue = Queue::Granted;
		resource_of(l).granted.push_back(id);
		complete(l, -ECANCELED, out);
	}
	process(name, out);
}

// ---- mounts and journals ----

bool LockTable::journal_free(uint32_t j) const
{
	if (recoveries_.count(j))
		return false;
	auto it = resources_.find(journal_lock_name(j));
	return it == resources_.end() ||
	       (it->second.granted.empty() && it->second.converting.empty() && it->second.waiting.empty());
}

void LockTable::join(MountId mount, uint32_t journal_count, LockId journal_lock, std::vector<Event> &out)
{
	if (mounts_.count(mount) || locks_.count(journal_lock)) {
		Event e;
		e.kind = Event::Kind::Joined;
		e.mount = mount;
		e.status = -EEXIST;
		out.push_back(e);
		return;
	}
	Mount m;
	m.journal_count = journal_count;
	m.journal_lock = journal_lock;
	mounts_[mount] = m;
	try_pending_joins(out);
}

void LockTable::try_pending_joins(std::vector<Event> &out)
{
	if (!grants_enabled_)
		return;
	for (auto it = mounts_.begin(); it != mounts_.end();) {
		Mount &m = it->second;
		if (m.journal >= 0 || m.dead) {
			++it;
			continue;
		}
		Event e;
		e.kind = Event::Kind::Joined;
		e.mount = it->first;
		if (m.journal_count == 0) {
			// A tool's mount: locks, no journal, never asked to recover one.
			m.journal = kNoJournal;
			e.journal = CFS_NO_JOURNAL;
			out.push_back(e);
			++it;
			continue;
		}
		e.status = -ENOSPC;
		for (uint32_t j = 0; j < m.journal_count; j++) {
			if (journal_free(j)) {
				m.journal = j;
				create_granted(it->first, m.journal_lock, journal_lock_name(j), CFS_LOCK_EX);
				e.status = 0;
				e.journal = j;
				break;
			}
		}
		out.push_back(e);
		if (e.status == 0 && state_lost_) {
			// Any other free slot may be a dead node's unreplayed journal.
			for (uint32_t k = 0; k < m.journal_count; k++)
				if (static_cast<int64_t>(k) != m.journal && journal_free(k))
					recoveries_[k] = Recovery{};
			state_lost_ = false;
		}
		it = e.status ? mounts_.erase(it) : std::next(it);
	}
	assign_recoveries(out);
}

void LockTable::leave(MountId mount, std::vector<Event> &out)
{
	auto mit = mounts_.find(mount);
	if (mit == mounts_.end())
		return;
	std::set<std::string> touched;
	for (auto it = locks_.begin(); it != locks_.end();) {
		if (it->second.mount == mount && !it->second.orphaned) {
			touched.insert(it->second.resource);
			unlink(it->second);
			it = locks_.erase(it);
		} else {
			++it;
		}
	}
	for (auto &[j, rec] : recoveries_)
		if (rec.assigned == mount)
			rec.assigned.reset();
	mounts_.erase(mit);
	for (const auto &name : touched)
		process(name, out);
	assign_recoveries(out);
}

void LockTable::mount_withdrawn(MountId mount, std::vector<Event> &out)
{
	auto mit = mounts_.find(mount);
	if (mit == mounts_.end())
		return;
	const int64_t journal = mit->second.journal;
	const bool has_journal = journal >= 0 && journal != kNoJournal;
	std::set<std::string> touched;
	for (auto it = locks_.begin(); it != locks_.end();) {
		Lock &l = it->second;
		if (l.mount != mount || l.orphaned) {
			++it;
			continue;
		}
		touched.insert(l.resource);
		if (l.queue == Queue::Converting) {
			// The conversion is abandoned; what it held is still what it held.
			unlink(l);
			l.queue = Queue::Granted;
			l.requested = kNoMode;
			resource_of(l).granted.push_back(l.id);
		}
		const bool dirty_maybe = l.queue == Queue::Granted && writes_lvb(l.granted) &&
					 !is_journal_name(l.resource);
		if (dirty_maybe)
			resource_of(l).lvb_valid = false;
		if (dirty_maybe && has_journal) {
			// Its changes may sit unreplayed in its journal: hold the resource.
			l.orphaned = true;
			l.pinned_journal = journal;
			++it;
		} else {
			unlink(l);
			it = locks_.erase(it);
		}
	}
	for (auto &[j, rec] : recoveries_)
		if (rec.assigned == mount)
			rec.assigned.reset(); // its recovery lock (a journal lock) went above
	if (has_journal)
		recoveries_[static_cast<uint32_t>(journal)] = Recovery{mount.node, std::nullopt};
	mounts_.erase(mit);
	for (const auto &name : touched)
		process(name, out);
	assign_recoveries(out);
}

// Nothing new is granted while a journal of an unknown dead node awaits replay: any
// resource could have been dirtied in it.
bool LockTable::may_grant() const
{
	if (!grants_enabled_)
		return false;
	for (const auto &[j, rec] : recoveries_)
		if (rec.dead_node == 0)
			return false;
	return true;
}

bool LockTable::mount_joined(MountId mount) const
{
	auto it = mounts_.find(mount);
	return it != mounts_.end() && !it->second.dead && it->second.journal >= 0;
}

bool LockTable::holds_dead_state() const
{
	if (!awaiting_fence_.empty() || !recoveries_.empty())
		return true;
	for (const auto &[id, l] : locks_)
		if (l.orphaned || l.pinned_journal >= 0)
			return true;
	return false;
}

void LockTable::assign_recoveries(std::vector<Event> &out)
{
	if (!grants_enabled_)
		return;
	for (auto &[j, rec] : recoveries_) {
		if (rec.assigned)
			continue;
		for (const auto &[id, m] : mounts_) {
			if (m.dead || m.journal < 0 || m.journal == kNoJournal)
				continue;
			// The dead journal's own lock went at fencing and no join can take it
			// while it awaits replay, so this grant never conflicts.
			create_granted(id, recovery_lock_id(id.node, j), journal_lock_name(j), CFS_LOCK_EX);
			rec.assigned = id;
			Event e;
			e.kind = Event::Kind::Recover;
			e.mount = id;
			e.journal = j;
			e.dead_node = rec.dead_node;
			out.push_back(e);
			break;
		}
	}
}

int LockTable::journal_recovered(MountId mount, uint32_t journal, std::vector<Event> &out)
{
	auto it = recoveries_.find(journal);
	if (it == recoveries_.end() || it->second.assigned != mount)
		return -EINVAL;
	remove_lock(recovery_lock_id(mount.node, journal));
	for (auto lit = locks_.begin(); lit != locks_.end();) {
		if (lit->second.pinned_journal == journal) {
			unlink(lit->second);
			lit = locks_.erase(lit);
		} else {
			++lit;
		}
	}
	recoveries_.erase(it);
	process_all(out);
	try_pending_joins(out);
	return 0;
}

// ---- membership ----

bool LockTable::node_down(NodeId node, std::vector<Event> &out)
{
	bool held = false;
	for (auto it = mounts_.begin(); it != mounts_.end();) {
		if (it->first.node == node && it->second.journal < 0) {
			it = mounts_.erase(it); // its join never completed
			continue;
		}
		if (it->first.node == node) {
			it->second.dead = true;
			held = true;
		}
		++it;
	}
	for (auto it = locks_.begin(); it != locks_.end();) {
		Lock &l = it->second;
		if (l.id.node != node || l.orphaned) {
			++it;
			continue;
		}
		held = true;
		if (l.queue == Queue::Waiting) {
			unlink(l);
			it = locks_.erase(it);
			continue;
		}
		if (l.queue == Queue::Converting) {
			unlink(l);
			l.queue = Queue::Granted;
			l.requested = kNoMode;
			resource_of(l).granted.push_back(l.id);
		}
		l.orphaned = true;
		++it;
	}
	if (held)
		awaiting_fence_.insert(node);
	process_all(out);
	return held;
}

void LockTable::node_fenced(NodeId node, std::vector<Event> &out)
{
	if (!awaiting_fence_.erase(node))
		return;
	for (auto &[id, m] : mounts_) {
		if (id.node == node && m.dead && m.journal >= 0 && m.journal != kNoJournal)
			recoveries_[static_cast<uint32_t>(m.journal)] = Recovery{node, std::nullopt};
	}
	for (auto &[j, rec] : recoveries_)
		if (rec.assigned && rec.assigned->node == node)
			rec.assigned.reset(); // its recovery lock is dropped below
	for (auto it = locks_.begin(); it != locks_.end();) {
		Lock &l = it->second;
		if (l.id.node != node || !l.orphaned || l.pinned_journal >= 0) {
			++it;
			continue;
		}
		auto mit = mounts_.find(l.mount);
		bool keep = writes_lvb(l.granted) && !is_journal_name(l.resource) && mit != mounts_.end() &&
			    mit->second.journal >= 0 && mit->second.journal != kNoJournal;
		if (writes_lvb(l.granted) && !is_journal_name(l.resource))
			resource_of(l).lvb_valid = false;
		if (keep) {
			// Its changes may sit unreplayed in the dead journal: hold the resource.
			l.pinned_journal = mit->second.journal;
			++it;
		} else {
			unlink(l);
			it = locks_.erase(it);
		}
	}
	for (auto it = mounts_.begin(); it != mounts_.end();)
		it = it->first.node == node && it->second.dead ? mounts_.erase(it) : std::next(it);
	assign_recoveries(out);
	process_all(out);
}

void LockTable::set_grants_enabled(bool enabled, std::vector<Event> &out)
{
	grants_enabled_ = enabled;
	if (!enabled)
		return;
	try_pending_joins(out);
	process_all(out);
}

// ---- introspection ----

std::optional<LockTable::LockView> LockTable::lock(LockId id) const
{
	auto it = locks_.find(id);
	if (it == locks_.end())
		return std::nullopt;
	const Lock &l = it->second;
	return LockView{l.id, l.mount, l.granted, l.requested, l.flags, l.orphaned, l.pinned_journal, l.bast_modes};
}

std::vector<LockTable::ResourceView> LockTable::resources() const
{
	std::vector<ResourceView> v;
	for (const auto &[name, r] : resources_) {
		ResourceView rv{name, {}, {}, {}, r.lvb, r.lvb_valid};
		for (LockId id : r.granted)
			rv.granted.push_back(*lock(id));
		for (LockId id : r.converting)
			rv.converting.push_back(*lock(id));
		for (LockId id : r.waiting)
			rv.waiting.push_back(*lock(id));
		v.push_back(std::move(rv));
	}
	return v;
}

std::vector<LockTable::MountView> LockTable::mounts() const
{
	std::vector<MountView> v;
	for (const auto &[id, m] : mounts_)
		v.push_back(MountView{id, m.journal});
	return v;
}

std::vector<LockTable::RecoveryView> LockTable::recoveries() const
{
	std::vector<RecoveryView> v;
	for (const auto &[j, rec] : recoveries_)
		v.push_back(RecoveryView{j, rec.dead_node, rec.assigned});
	return v;
}

// ---- snapshot encoding ----

namespace {
constexpr uint32_t kSnapshotMagic = 0x54534c43; // "CLST"
constexpr uint32_t kMaxCount = 1u << 24;
} // namespace

void LockTable::encode(wire::Writer &w) const
{
	w.u32(kSnapshotMagic);
	w.u8(grants_enabled_);
	w.u32(static_cast<uint32_t>(mounts_.size()));
	for (const auto &[id, m] : mounts_) {
		w.u32(id.node);
		w.u64(id.local);
		w.i64(m.journal);
		w.u32(m.journal_count);
		w.u32(m.journal_lock.node);
		w.u64(m.journal_lock.local);
		w.u8(m.dead);
	}
	w.u32(static_cast<uint32_t>(resources_.size()));
	for (const auto &[name, r] : resources_) {
		w.str(name);
		w.bytes(r.lvb.data(), r.lvb.size());
		w.u8(r.lvb_valid);
		uint32_t n = static_cast<uint32_t>(r.granted.size() + r.converting.size() + r.waiting.size());
		w.u32(n);
		// Queue order matters: write each queue front to back.
		for (const auto *q : {&r.granted, &r.converting, &r.waiting}) {
			for (LockId id : *q) {
				const Lock &l = locks_.at(id);
				w.u32(l.id.node);
				w.u64(l.id.local);
				w.u32(l.mount.node);
				w.u64(l.mount.local);
				w.i32(l.granted);
				w.i32(l.requested);
				w.u32(l.flags);
				w.u8(static_cast<uint8_t>(l.queue));
				w.u8(l.bast_modes);
				w.u8(l.orphaned);
				w.i64(l.pinned_journal);
			}
		}
	}
	w.u32(static_cast<uint32_t>(recoveries_.size()));
	for (const auto &[j, rec] : recoveries_) {
		w.u32(j);
		w.u32(rec.dead_node);
		w.u8(rec.assigned.has_value());
		w.u32(rec.assigned ? rec.assigned->node : 0);
		w.u64(rec.assigned ? rec.assigned->local : 0);
	}
	w.u32(static_cast<uint32_t>(awaiting_fence_.size()));
	for (NodeId n : awaiting_fence_)
		w.u32(n);
	w.u8(state_lost_);
}

bool LockTable::decode(wire::Reader &r)
{
	*this = LockTable{};
	auto bad = [this]() {
		*this = LockTable{};
		return false;
	};
	if (r.u32() != kSnapshotMagic)
		return bad();
	grants_enabled_ = r.u8();
	uint32_t nm = r.u32();
	if (nm > kMaxCount)
		return bad();
	for (uint32_t i = 0; i < nm && r.ok(); i++) {
		MountId id{r.u32(), r.u64()};
		Mount m;
		m.journal = r.i64();
		m.journal_count = r.u32();
		m.journal_lock = LockId{r.u32(), r.u64()};
		m.dead = r.u8();
		mounts_[id] = m;
	}
	uint32_t nr = r.u32();
	if (nr > kMaxCount)
		return bad();
	for (uint32_t i = 0; i < nr && r.ok(); i++) {
		std::string name = r.str(CFS_RESOURCE_NAME_MAX);
		Resource &res = resources_[name];
		r.bytes(res.lvb.data(), res.lvb.size());
		res.lvb_valid = r.u8();
		uint32_t n = r.u32();
		if (n > kMaxCount)
			return bad();
		for (uint32_t k = 0; k < n && r.ok(); k++) {
			Lock l;
			l.id = LockId{r.u32(), r.u64()};
			l.mount = MountId{r.u32(), r.u64()};
			l.resource = name;
			l.granted = r.i32();
			l.requested = r.i32();
			l.flags = r.u32();
			uint8_t q = r.u8();
			l.bast_modes = r.u8();
			l.orphaned = r.u8();
			l.pinned_journal = r.i64();
			if (q > static_cast<uint8_t>(Queue::Waiting) || locks_.count(l.id))
				return bad();
			l.queue = static_cast<Queue>(q);
			bool needs_granted = l.queue != Queue::Waiting, needs_requested = l.queue != Queue::Granted;
			if (needs_granted != valid_mode(l.granted) || needs_requested != valid_mode(l.requested))
				return bad();
			auto &queue = l.queue == Queue::Granted ? res.granted
				      : l.queue == Queue::Converting ? res.converting
								     : res.waiting;
			queue.push_back(l.id);
			locks_[l.id] = std::move(l);
		}
	}
	uint32_t nrec = r.u32();
	if (nrec > kMaxCount)
		return bad();
	for (uint32_t i = 0; i < nrec && r.ok(); i++) {
		uint32_t j = r.u32();
		Recovery rec;
		rec.dead_node = r.u32();
		bool assigned = r.u8();
		MountId m{r.u32(), r.u64()};
		if (assigned)
			rec.assigned = m;
		recoveries_[j] = rec;
	}
	uint32_t nf = r.u32();
	if (nf > kMaxCount)
		return bad();
	for (uint32_t i = 0; i < nf && r.ok(); i++)
		awaiting_fence_.insert(r.u32());
	state_lost_ = r.u8();
	if (!r.ok())
		return bad();
	return true;
}

} // namespace clusterfs::lockd
