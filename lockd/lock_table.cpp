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
// The EX lock that stands for a dead or withdrawn owner's unknown locks (disown).
bool stands_for_owner(LockId id) { return (id.local >> 62) == 1; }

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
	if (!r.owner && r.granted.empty() && r.converting.empty() && r.waiting.empty() && r.lvb_valid &&
	    r.lvb == zero)
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

void LockTable::do_request(MountId mount, LockId id, const std::string &resource, Mode mode, uint32_t flags,
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

void LockTable::do_convert(MountId mount, LockId id, Mode mode, uint32_t flags, const Lvb &lvb,
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

void LockTable::do_unlock(MountId mount, LockId id, uint32_t flags, const Lvb &lvb, std::vector<Event> &out)
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

void LockTable::do_cancel(MountId mount, LockId id, std::vector<Event> &out)
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

// ---- agreed operations and ownership ----

void LockTable::request(MountId mount, LockId id, const std::string &resource, Mode mode, uint32_t flags,
			std::vector<Event> &out)
{
	apply(LockOp{LockOp::Kind::Request, mount, id, resource, mode, flags, {}}, out);
}

void LockTable::convert(MountId mount, LockId id, Mode mode, uint32_t flags, const Lvb &lvb,
			std::vector<Event> &out)
{
	apply(LockOp{LockOp::Kind::Convert, mount, id, {}, mode, flags, lvb}, out);
}

void LockTable::unlock(MountId mount, LockId id, uint32_t flags, const Lvb &lvb, std::vector<Event> &out)
{
	apply(LockOp{LockOp::Kind::Unlock, mount, id, {}, kNoMode, flags, lvb}, out);
}

void LockTable::cancel(MountId mount, LockId id, std::vector<Event> &out)
{
	apply(LockOp{LockOp::Kind::Cancel, mount, id, {}, kNoMode, 0, {}}, out);
}

void LockTable::execute(const LockOp &op, std::vector<Event> &out)
{
	switch (op.kind) {
	case LockOp::Kind::Request:
		return do_request(op.mount, op.id, op.resource, op.mode, op.flags, out);
	case LockOp::Kind::Convert:
		return do_convert(op.mount, op.id, op.mode, op.flags, op.lvb, out);
	case LockOp::Kind::Unlock:
		return do_unlock(op.mount, op.id, op.flags, op.lvb, out);
	case LockOp::Kind::Cancel:
		return do_cancel(op.mount, op.id, out);
	}
}

std::string LockTable::resource_of_lock(LockId id) const
{
	auto it = locks_.find(id);
	return it == locks_.end() ? std::string() : it->second.resource;
}

std::optional<MountId> LockTable::owner_of(const std::string &name) const
{
	auto it = resources_.find(name);
	return it == resources_.end() ? std::nullopt : it->second.owner;
}

void LockTable::apply(const LockOp &op, std::vector<Event> &out)
{
	std::string name = op.resource;
	if (op.kind != LockOp::Kind::Request) {
		// The lock's own resource wins over the name given (a copy that knows the lock).
		std::string known = resource_of_lock(op.id);
		if (!known.empty())
			name = known;
	}
	auto rit = owning_ && !name.empty() ? resources_.find(name) : resources_.end();
	if (rit != resources_.end() && rit->second.owner) {
		Resource &r = rit->second;
		const MountId owner = *r.owner;
		bool by_owner = op.mount == owner && !(op.flags & CFS_LKF_VALBLK);
		if (!r.recalling && by_owner) {
			// The owner's copy holds the state; the others know only the owner.
			if (self_ == owner.node)
				execute(op, out);
			return;
		}
		if (!r.recalling) {
			r.recalling = true;
			Event e;
			e.kind = Event::Kind::Recall;
			e.mount = owner;
			e.resource = name;
			out.push_back(e);
		}
		r.parked.push_back(op);
		if (r.parked.back().resource.empty())
			r.parked.back().resource = name;
		return;
	}
	execute(op, out);
	if (owning_ && !name.empty())
		after_agreed(name);
}

// Decided on every copy at the same point of the agreed order: all copies hold the same
// state of a resource that is not owned.
void LockTable::after_agreed(const std::string &name)
{
	auto rit = resources_.find(name);
	if (rit == resources_.end() || rit->second.owner)
		return;
	Resource &r = rit->second;
	std::optional<MountId> only;
	bool blocked = false;
	for (const auto *q : {&r.granted, &r.converting, &r.waiting}) {
		for (LockId id : *q) {
			const Lock &l = locks_.at(id);
			if (only && *only != l.mount)
				r.contended = true;
			only = l.mount;
			if (l.flags & CFS_LKF_VALBLK)
				r.uses_lvb = true;
			if (l.orphaned || l.pinned_journal >= 0)
				blocked = true;
		}
	}
	if (!only || r.contended || r.uses_lvb || blocked || !r.converting.empty() || !r.waiting.empty() ||
	    is_journal_name(name) || !may_grant())
		return;
	auto mit = mounts_.find(*only);
	if (mit == mounts_.end() || mit->second.dead || mit->second.journal < 0 || mit->second.journal == kNoJournal)
		return;
	r.owner = *only;
	if (self_ != only->node)
		drop_resource_locks(r);
}

void LockTable::drop_resource_locks(Resource &r)
{
	for (auto *q : {&r.granted, &r.converting, &r.waiting}) {
		for (LockId id : *q)
			locks_.erase(id);
		q->clear();
	}
}

bool LockTable::local(const LockOp &op, std::vector<Event> &out)
{
	if (!owning_ || op.mount.node != self_ || (op.flags & CFS_LKF_VALBLK))
		return false;
	std::string name = op.resource;
	if (op.kind != LockOp::Kind::Request) {
		auto it = locks_.find(op.id);
		if (it == locks_.end() || it->second.mount != op.mount)
			return false;
		name = it->second.resource;
	}
	auto rit = resources_.find(name);
	if (rit == resources_.end())
		return false;
	const Resource &r = rit->second;
	if (r.owner != op.mount || r.recalling || r.publishing)
		return false;
	LockOp named = op;
	named.resource = name;
	execute(named, out);
	return true;
}

void encode_lock_op(wire::Writer &w, const LockOp &op)
{
	w.u8(static_cast<uint8_t>(op.kind));
	w.u32(op.mount.node);
	w.u64(op.mount.local);
	w.u32(op.id.node);
	w.u64(op.id.local);
	w.str(op.resource);
	w.i32(op.mode);
	w.u32(op.flags);
	w.bytes(op.lvb.data(), op.lvb.size());
}

bool decode_lock_op(wire::Reader &r, LockOp &op)
{
	uint8_t kind = r.u8();
	op.mount = MountId{r.u32(), r.u64()};
	op.id = LockId{r.u32(), r.u64()};
	op.resource = r.str(CFS_RESOURCE_NAME_MAX);
	op.mode = r.i32();
	op.flags = r.u32();
	r.bytes(op.lvb.data(), op.lvb.size());
	if (kind < static_cast<uint8_t>(LockOp::Kind::Request) || kind > static_cast<uint8_t>(LockOp::Kind::Cancel))
		return false;
	op.kind = static_cast<LockOp::Kind>(kind);
	return r.ok();
}

bool LockTable::encode_publish(const std::string &name, wire::Writer &w)
{
	auto rit = resources_.find(name);
	if (rit == resources_.end())
		return false;
	Resource &r = rit->second;
	if (!r.owner || r.owner->node != self_ || r.publishing)
		return false;
	r.publishing = true;
	w.str(name);
	w.u32(static_cast<uint32_t>(r.granted.size() + r.converting.size() + r.waiting.size()));
	for (const auto *q : {&r.granted, &r.converting, &r.waiting}) {
		for (LockId id : *q) {
			const Lock &l = locks_.at(id);
			w.u32(l.id.node);
			w.u64(l.id.local);
			w.i32(l.granted);
			w.i32(l.requested);
			w.u32(l.flags);
			w.u8(static_cast<uint8_t>(l.queue));
			w.u8(l.bast_modes);
		}
	}
	return true;
}

bool LockTable::publish(NodeId sender, wire::Reader &rd, std::vector<Event> &out)
{
	std::string name = rd.str(CFS_RESOURCE_NAME_MAX);
	uint32_t n = rd.u32();
	if (!rd.ok() || n > (1u << 20))
		return false;
	std::vector<Lock> published;
	for (uint32_t i = 0; i < n; i++) {
		Lock l;
		l.id = LockId{rd.u32(), rd.u64()};
		l.resource = name;
		l.granted = rd.i32();
		l.requested = rd.i32();
		l.flags = rd.u32();
		uint8_t q = rd.u8();
		l.bast_modes = rd.u8();
		if (!rd.ok() || q > static_cast<uint8_t>(Queue::Waiting))
			return false;
		l.queue = static_cast<Queue>(q);
		bool needs_granted = l.queue != Queue::Waiting, needs_requested = l.queue != Queue::Granted;
		if (needs_granted != valid_mode(l.granted) || needs_requested != valid_mode(l.requested))
			return false;
		published.push_back(std::move(l));
	}
	auto rit = resources_.find(name);
	if (rit == resources_.end() || !rit->second.owner || rit->second.owner->node != sender)
		return true; // the owner is gone (or this publish crossed another): nothing to do
	Resource &r = rit->second;
	const MountId owner = *r.owner;
	drop_resource_locks(r); // the owner's copy: the same locks come back below
	for (Lock &l : published) {
		if (l.id.node != owner.node || locks_.count(l.id))
			continue; // only the owner's own locks can be on an owned resource
		l.mount = owner;
		auto &queue = l.queue == Queue::Granted ? r.granted : l.queue == Queue::Converting ? r.converting : r.waiting;
		queue.push_back(l.id);
		locks_[l.id] = std::move(l);
	}
	share_again(name, 0, out);
	return true;
}

// The resource loses its owner and is shared again: what parked on it runs in its
// agreed order (a dead node's own operations dropped).
void LockTable::share_again(const std::string &name, NodeId dead_node, std::vector<Event> &out)
{
	Resource &r = resources_.at(name);
	r.owner.reset();
	r.recalling = false;
	r.publishing = false;
	std::vector<LockOp> parked = std::move(r.parked);
	r.parked.clear();
	for (const LockOp &op : parked) {
		if (dead_node && op.mount.node == dead_node)
			continue;
		apply(op, out);
	}
	process(name, out);
	after_agreed(name);
}

bool LockTable::disown(MountId owner_mount, bool by_node, bool orphan, int64_t pin_journal, std::vector<Event> &out)
{
	std::vector<std::string> names;
	for (const auto &[name, r] : resources_)
		if (r.owner && (by_node ? r.owner->node == owner_mount.node : *r.owner == owner_mount))
			names.push_back(name);
	for (const std::string &name : names) {
		Resource &r = resources_.at(name);
		const MountId owner = *r.owner;
		drop_resource_locks(r);
		if (orphan) {
			// What the owner held is unknown: the strongest mode, as for a node that
			// died holding EX. Its value block was never used (owned resources have none).
			Lock l;
			l.id = LockId{owner.node, (uint64_t{1} << 62) | ++synthetic_seq_};
			l.mount = owner;
			l.resource = name;
			l.granted = CFS_LOCK_EX;
			l.queue = Queue::Granted;
			l.orphaned = true;
			l.pinned_journal = pin_journal;
			r.granted.push_back(l.id);
			locks_[l.id] = std::move(l);
		}
		share_again(name, by_node ? owner.node : 0, out);
	}
	return !names.empty();
}

std::vector<std::string> LockTable::idle_owned() const
{
	std::vector<std::string> names;
	for (const auto &[name, r] : resources_)
		if (r.owner && r.owner->node == self_ && !r.recalling && !r.publishing && r.granted.empty() &&
		    r.converting.empty() && r.waiting.empty())
			names.push_back(name);
	return names;
}

size_t LockTable::owned_count() const
{
	size_t n = 0;
	for (const auto &[name, r] : resources_)
		n += r.owner.has_value();
	return n;
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
	disown(mount, false, false, -1, out); // nobody else holds anything on them
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
	if (has_journal)
		disown(mount, false, true, journal, out);
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
	if (disown(MountId{node, 0}, true, true, -1, out))
		held = true;
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
		if (writes_lvb(l.granted) && !is_journal_name(l.resource) && !stands_for_owner(l.id))
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
		ResourceView rv{name, {}, {}, {}, r.lvb, r.lvb_valid, r.owner, r.recalling, r.parked.size()};
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
constexpr uint32_t kSnapshotMagic = 0x32534c43; // "CLS2": with ownership
constexpr uint8_t kOwned = 1, kContended = 2, kUsesLvb = 4, kRecalling = 8;
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
		w.u8((r.owner ? kOwned : 0) | (r.contended ? kContended : 0) | (r.uses_lvb ? kUsesLvb : 0) |
		     (r.recalling ? kRecalling : 0));
		w.u32(r.owner ? r.owner->node : 0);
		w.u64(r.owner ? r.owner->local : 0);
		w.u32(static_cast<uint32_t>(r.parked.size()));
		for (const LockOp &op : r.parked)
			encode_lock_op(w, op);
		// An owned resource's locks live in its owner's copy only.
		uint32_t n = r.owner ? 0 : static_cast<uint32_t>(r.granted.size() + r.converting.size() + r.waiting.size());
		w.u32(n);
		if (r.owner)
			continue;
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
	w.u64(synthetic_seq_);
}

bool LockTable::decode(wire::Reader &r)
{
	// Whether this copy owns and whose copy it is are this node's, not the snapshot's.
	const bool owning = owning_;
	const NodeId self = self_;
	auto reset = [&]() {
		*this = LockTable{};
		owning_ = owning;
		self_ = self;
	};
	reset();
	auto bad = [&]() {
		reset();
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
		uint8_t bits = r.u8();
		MountId owner{r.u32(), r.u64()};
		if (bits & kOwned)
			res.owner = owner;
		res.contended = bits & kContended;
		res.uses_lvb = bits & kUsesLvb;
		res.recalling = bits & kRecalling;
		uint32_t np = r.u32();
		if (np > kMaxCount)
			return bad();
		for (uint32_t k = 0; k < np && r.ok(); k++) {
			LockOp op;
			if (!decode_lock_op(r, op))
				return bad();
			res.parked.push_back(std::move(op));
		}
		uint32_t n = r.u32();
		if (n && res.owner)
			return bad();
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
	synthetic_seq_ = r.u64();
	if (!r.ok())
		return bad();
	return true;
}

} // namespace clusterfs::lockd
