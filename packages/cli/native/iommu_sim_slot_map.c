/*
 * The daemon's view of a program's shared slot (src/daemon/slot-map.ts,
 * protocol.md "Shared slot"): a Node-API addon that maps the slot's memfd
 * MAP_SHARED into the daemon and hands the mapping to JavaScript as an
 * ArrayBuffer, so a poll is a load and a reply a store instead of a
 * pread/pwrite system call each.
 *
 * Built from this source with the system C compiler on first use
 * (src/shim/build.ts buildSlotMap), like the preload shim; when it cannot
 * be built or loaded the daemon reads and writes the slot with
 * pread/pwrite instead.
 *
 * A mapping of a file another process controls is only safe while that
 * file cannot shrink: an access past its end raises SIGBUS in the daemon.
 * So mapSlot() maps only a file carrying F_SEAL_SHRINK (a seal can never
 * be removed, fcntl(2) "File Sealing") of at least `size` bytes.
 *
 * Exports:
 * - mapSlot(fd: number, size: number): ArrayBuffer | number — the mapping
 *   of `size` bytes of fd from offset 0 (released when the ArrayBuffer is
 *   collected; fd may be closed at once), or a positive errno: EPERM (no
 *   F_SEAL_SHRINK), EINVAL (smaller than `size`, or bad arguments), or
 *   mmap's errno.
 * - schedYield(): undefined — sched_yield(2): lets a program that shares
 *   the daemon's CPU run while the daemon polls (src/daemon/shm.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>

#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#endif
#ifndef F_SEAL_SHRINK
#define F_SEAL_SHRINK 0x0002
#endif

/* Unmaps a collected mapping; `hint` carries its length. */
static void unmap_slot(napi_env env, void *data, void *hint)
{
	(void)env;
	munmap(data, (size_t)hint);
}

static napi_value number(napi_env env, int v)
{
	napi_value out;
	napi_create_int32(env, v, &out);
	return out;
}

/* The errno of mapping fd for `size` bytes, or 0 with *addr set. */
static int map_checked(int fd, size_t size, void **addr)
{
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0) return errno == EINVAL ? EPERM : errno; /* EINVAL: not a sealable file */
	if (!(seals & F_SEAL_SHRINK)) return EPERM;
	struct stat st;
	if (fstat(fd, &st) != 0) return errno;
	if (st.st_size < 0 || (size_t)st.st_size < size) return EINVAL;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) return errno;
	*addr = p;
	return 0;
}

static napi_value map_slot(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2];
	int32_t fd = -1, size = 0;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
	    napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
	    napi_get_value_int32(env, argv[1], &size) != napi_ok || fd < 0 || size <= 0)
		return number(env, EINVAL);
	void *addr = NULL;
	int err = map_checked(fd, (size_t)size, &addr);
	if (err != 0) return number(env, err);
	napi_value buf;
	if (napi_create_external_arraybuffer(env, addr, (size_t)size, unmap_slot, (void *)(size_t)size, &buf) !=
	    napi_ok) {
		munmap(addr, (size_t)size);
		return number(env, ENOTSUP);
	}
	return buf;
}

static napi_value sched_yield_(napi_env env, napi_callback_info info)
{
	(void)env;
	(void)info;
	sched_yield();
	return NULL;
}

static int export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb)
{
	napi_value fn;
	return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok &&
	       napi_set_named_property(env, exports, name, fn) == napi_ok;
}

NAPI_MODULE_INIT()
{
	if (!export_fn(env, exports, "mapSlot", map_slot) || !export_fn(env, exports, "schedYield", sched_yield_))
		return NULL;
	return exports;
}
