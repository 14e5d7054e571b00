// GroupTransport over corosync CPG (CPG_MODEL_V1, agreed order).
#include <corosync/cpg.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "transport.h"

namespace clusterfs::lockd {

namespace {

class CpgTransport final : public GroupTransport {
public:
	CpgTransport(const std::string &group, Listener &listener) : group_(group), listener_(listener) {}
	~CpgTransport() override
	{
		if (!handle_)
			return;
		cpg_name name = cpg_group();
		cpg_leave(handle_, &name);
		cpg_finalize(handle_);
	}

	bool join(std::string *error) override
	{
		if (group_.size() > CPG_MAX_NAME_LENGTH) {
			*error = "group name too long for CPG: " + group_;
			return false;
		}
		cpg_model_v1_data_t model{};
		model.model = CPG_MODEL_V1;
		model.cpg_deliver_fn = deliver;
		model.cpg_confchg_fn = confchg;
		model.cpg_totem_confchg_fn = totem;
		model.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF;
		cs_error_t err;
		// TRY_AGAIN only while corosync syncs; bounded, and before anything is served.
		for (int tries = 0; (err = cpg_model_initialize(&handle_, CPG_MODEL_V1,
							       reinterpret_cast<cpg_model_data_t *>(&model),
							       this)) == CS_ERR_TRY_AGAIN &&
				    tries < 50;
		     tries++)
			usleep(100000);
		if (err != CS_OK) {
			handle_ = 0;
			*error = "cannot connect to corosync CPG (error " + std::to_string(err) + "): is corosync running?";
			return false;
		}
		cpg_name name = cpg_group();
		for (int tries = 0; (err = cpg_join(handle_, &name)) == CS_ERR_TRY_AGAIN && tries < 50; tries++)
			usleep(100000);
		if (err != CS_OK || cpg_fd_get(handle_, &fd_) != CS_OK) {
			*error = "cannot join CPG group " + group_ + " (error " + std::to_string(err) + ")";
			return false;
		}
		return true;
	}

	int fd() const override { return fd_; }

	bool dispatch() override
	{
		cs_error_t err = cpg_dispatch(handle_, CS_DISPATCH_ALL);
		return err == CS_OK || err == CS_ERR_TRY_AGAIN;
	}

	SendResult multicast(const std::vector<uint8_t> &msg) override
	{
		iovec iov{const_cast<uint8_t *>(msg.data()), msg.size()};
		cs_error_t err = cpg_mcast_joined(handle_, CPG_TYPE_AGREED, &iov, 1);
		if (err == CS_OK)
			return SendResult::Sent;
		if (err == CS_ERR_TRY_AGAIN)
			return SendResult::Retry;
		return SendResult::Lost;
	}

private:
	cpg_name cpg_group() const
	{
		cpg_name name{};
		name.length = static_cast<uint32_t>(group_.size());
		memcpy(name.value, group_.data(), group_.size());
		return name;
	}
	static CpgTransport *self(cpg_handle_t handle)
	{
		void *ctx = nullptr;
		cpg_context_get(handle, &ctx);
		return static_cast<CpgTransport *>(ctx);
	}
	static std::vector<Member> members(const cpg_address *a, size_t n)
	{
		std::vector<Member> v;
		for (size_t i = 0; i < n; i++)
			v.push_back(Member{a[i].nodeid, a[i].pid, a[i].reason});
		return v;
	}
	static void deliver(cpg_handle_t handle, const cpg_name *, uint32_t nodeid, uint32_t, void *msg, size_t len)
	{
		self(handle)->listener_.on_deliver(nodeid, static_cast<const uint8_t *>(msg), len);
	}
	static void confchg(cpg_handle_t handle, const cpg_name *, const cpg_address *m, size_t nm,
			    const cpg_address *l, size_t nl, const cpg_address *j, size_t nj)
	{
		self(handle)->listener_.on_membership(members(m, nm), members(l, nl), members(j, nj));
	}
	static void totem(cpg_handle_t handle, cpg_ring_id ring_id, uint32_t, const uint32_t *)
	{
		self(handle)->listener_.on_ring(ring_id.seq);
	}

	std::string group_;
	Listener &listener_;
	cpg_handle_t handle_ = 0;
	int fd_ = -1;
};

} // namespace

std::unique_ptr<GroupTransport> make_cpg_transport(const std::string &group, GroupTransport::Listener &listener)
{
	return std::make_unique<CpgTransport>(group, listener);
}

} // namespace clusterfs::lockd
