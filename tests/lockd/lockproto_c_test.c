/* lockproto.h must compile as C11 (the kernel side is C): the build runs this through
 * the C compiler with -Werror; the static_asserts in the header check the layout. */
#include "clusterfs/lockproto.h"

int cfs_lockproto_c_sizes(void)
{
	return (int)(sizeof(struct cfs_lock_req_lock) + sizeof(struct cfs_lock_ev_complete));
}
