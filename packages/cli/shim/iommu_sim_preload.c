/*
 * iommu-sim preload shim (LD_PRELOAD): serves the model's device nodes
 * (/dev/iommu, /dev/vfio/..., /dev/ioasid) to an unmodified program by
 * forwarding the file operations on them to the iommu-sim daemon over the
 * UNIX socket named by $IOMMU_SIM_SOCKET. Everything else goes to libc
 * (dlsym(RTLD_NEXT)).
 *
 * A served fd is a real placeholder fd (an eventfd whose counter is the
 * daemon's file id), so fd numbers, dup, fork, close-on-exec and
 * select/poll bookkeeping behave like real fds; the shim maps placeholder
 * fd -> daemon file id, and the daemon reads the id back from
 * /proc/<pid>/fdinfo when an ioctl names an fd. The wire protocol is
 * packages/cli/docs/protocol.md (version 1, little endian, 12-byte frame
 * header). Errors follow the kernel: the call returns -1 and sets errno.
 *
 * Intercepted: open, open64, openat, openat64 (+ the _FORTIFY_SOURCE
 * __open_2 variants), close, dup, dup2, dup3, fcntl/fcntl64 (F_DUPFD,
 * F_DUPFD_CLOEXEC), ioctl, read, write (+ __read_chk), poll (+ __poll_chk),
 * fork, and munmap / mmap(MAP_FIXED) (reported to the daemon, whose mirror
 * of the memory must forget the old pages). Linux + glibc only.
 *
 * Built by `iommu-sim exec` on first use: cc -shared -fPIC -O2.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PROTO_VERSION 2
#define HDR 12
#define REPLY 0x8000
enum {
	MSG_HELLO = 1,
	MSG_OPEN = 2,
	MSG_CLOSE = 3,
	MSG_IOCTL = 4,
	MSG_READ = 5,
	MSG_WRITE = 6,
	MSG_POLL = 7,
	MSG_FORK = 8,
	MSG_FORK_CANCEL = 9,
	MSG_FORK_DONE = 10,
	MSG_MUNMAP = 11,
	MSG_SHM_ATTACH = 12,
	MSG_WAKE = 13,
};

/* The shared slot (protocol.md "Shared slot", src/daemon/shm.ts SLOT): a
 * memfd both sides map/read; u32 fields at the offsets below. */
#define MAX_FRAME 8192
#define SLOT_SIZE 20480
#define SLOT_REQ_SEQ 0
#define SLOT_REQ_SUM 4
#define SLOT_POLLING 8
#define SLOT_SLEEPING 12
#define SLOT_ROUTE 16
#define SLOT_REQ 32
#define SLOT_REP_SEQ (64 + MAX_FRAME)
#define SLOT_REP_SUM (68 + MAX_FRAME)
#define SLOT_REP_TIME (72 + MAX_FRAME) /* CLOCK_MONOTONIC µs (mod 2^32) when the reply was stored */
#define SLOT_REP (76 + MAX_FRAME)
/* Waiting for a reply: spin with `pause` for a budget between these (ns,
 * adaptive), then block on the socket for the daemon's WAKE. */
#define SLOT_SPIN_MAX_NS 50000L
#define SLOT_SPIN_MIN_NS 2000L
/* Past this much spinning (a reply usually takes 4-8 us), yield the CPU
 * between looks: a daemon preempted on this CPU by a third task (the CPUs
 * are oversubscribed) then runs at once instead of after our budget.
 * Measured with a CPU hog beside the daemon and the program: 13,700 pairs/s
 * instead of 7,500; without one, no change. */
#define SLOT_YIELD_AFTER_NS 10000L
/* While blocked: re-send WAKE after this long if the daemon is not polling
 * (a safety net; the handshake needs no second WAKE). */
#define SLOT_RESEND_MS 50
/* IOCTL requests carry up to this many bytes of memory at `arg` (protocol.md, IOCTL). */
#define PREFETCH 128

/* fds at or above this are never served (the fd map is a flat array). */
#define MAX_FD 65536
/* The daemon connection is moved to an fd at least this high, out of the program's way. */
#define SOCK_FD_MIN 900
#define MAX_NS 32

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);
static int (*real_dup)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static int (*real_fcntl)(int, int, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static pid_t (*real_fork)(void);
static int (*real_munmap)(void *, size_t);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);

/* One lock for the connection and the fd map's writers; recursive so that
 * code running inside fork (atfork handlers) may still open/close. */
static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static int sock = -1;          /* connection to the daemon, -1 = none */
static pid_t sock_pid;         /* the process the connection speaks for */
static int broken;             /* the daemon is unreachable or refused us: errno to answer */
static uint32_t next_tag = 1;
static int32_t *fdmap;         /* fd -> daemon file id (0 = not served) */
static char ns[MAX_NS][64];    /* the served namespace (from HELLO) */
static int ns_count;
static uint8_t nonce[16];      /* proves our pid to the daemon */
static uint8_t *slot;          /* the shared slot (NULL: requests go on the socket) */
static pid_t slot_pid;         /* the process whose slot it is (a forked child must not use it) */
static uint32_t slot_seq;      /* the last request's req_seq */

/* Per-process count of our fds on each daemon file: the last close lets go. */
struct held { uint32_t file; uint32_t fds; };
static struct held *helds;
static size_t nheld, capheld;

#define RESOLVE(name) \
	do { if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name); } while (0)

static void resolve_all(void)
{
	RESOLVE(open); RESOLVE(openat); RESOLVE(close); RESOLVE(dup); RESOLVE(dup2);
	RESOLVE(dup3); RESOLVE(fcntl); RESOLVE(ioctl); RESOLVE(read); RESOLVE(write);
	RESOLVE(poll); RESOLVE(fork); RESOLVE(munmap); RESOLVE(mmap);
	if (!fdmap) fdmap = calloc(MAX_FD, sizeof(*fdmap));
}

static inline uint32_t served(int fd)
{
	if (fd < 0 || fd >= MAX_FD || !fdmap) return 0;
	return (uint32_t)__atomic_load_n(&fdmap[fd], __ATOMIC_ACQUIRE);
}

static void warn_once(const char *what)
{
	static int said;
	if (said++) return;
	char buf[1200];
	int n = snprintf(buf, sizeof buf, "iommu-sim: %s\n", what);
	if (n > 0) real_write(2, buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
}

/* ---- wire ---- */

static void put16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = v >> (8 * i); }
static uint16_t get16(const uint8_t *p) { return p[0] | p[1] << 8; }
static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static int send_all(const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(sock, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return -1;
		p += w; n -= (size_t)w;
	}
	return 0;
}

/* Forget the slot (the connection is gone, or it is the parent's after fork). */
static void drop_slot(void)
{
	if (slot) real_munmap(slot, SLOT_SIZE);
	slot = NULL;
}

static void disconnect(int why)
{
	if (sock >= 0) real_close(sock);
	sock = -1;
	broken = why;
	drop_slot();
}

static inline uint32_t *slot_word(size_t off) { return (uint32_t *)(void *)(slot + off); }

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static long elapsed_ns(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000000000L + (b.tv_nsec - a->tv_nsec);
}

/* A slot record's checksum (src/daemon/shm.ts slotSum): 32-bit FNV-1a over
 * the frame, seeded with the offset basis XOR seq. */
static uint32_t slot_sum(uint32_t seq, const uint8_t *p, size_t n)
{
	uint32_t h = 0x811c9dc5u ^ seq;
	for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x01000193u;
	return h;
}

/* Whether the reply to `seq` is complete in the slot: rep_seq says so and
 * the sum matches (the daemon's pwrite may store its bytes in any order). */
static int slot_replied(uint32_t seq)
{
	if (__atomic_load_n(slot_word(SLOT_REP_SEQ), __ATOMIC_ACQUIRE) != seq) return 0;
	const uint8_t *rep = slot + SLOT_REP;
	uint32_t len = get32(rep);
	if (len < HDR || len > MAX_FRAME) return 0;
	return slot_sum(seq, rep, len) == __atomic_load_n(slot_word(SLOT_REP_SUM), __ATOMIC_ACQUIRE);
}

/* Write a frame (protocol.md): header (length, type, flags 0, tag), then
 * the `len` body bytes. */
static void put_frame(uint8_t *f, uint16_t type, uint32_t tag, const uint8_t *body, size_t len)
{
	put32(f, (uint32_t)(HDR + len));
	put16(f + 4, type);
	put16(f + 6, 0);
	put32(f + 8, tag);
	if (len) memcpy(f + HDR, body, len);
}

/* The reply frame `rep` to request (`type`, `tag`): its body copied into
 * `reply` (up to `cap` bytes) and its length, or -1 if it answers another
 * request. */
static ssize_t take_reply(const uint8_t *rep, uint16_t type, uint32_t tag, uint8_t *reply, size_t cap)
{
	uint32_t rlen = get32(rep);
	if (get16(rep + 4) != (type | REPLY) || get32(rep + 8) != tag) return -1;
	size_t n = rlen - HDR < cap ? rlen - HDR : cap;
	memcpy(reply, rep + HDR, n);
	return (ssize_t)(rlen - HDR);
}

/* The connection is unusable: served fds fail with EIO from now on;
 * errno is restored to `saved`. Returns -1. */
static ssize_t connection_lost(int saved)
{
	warn_once("lost the connection to the daemon; served fds now fail with EIO");
	disconnect(EIO);
	errno = saved;
	return -1;
}

/* Tell the daemon a request is in the slot (it was not polling). */
static int send_wake(void)
{
	uint8_t w[HDR];
	put_frame(w, MSG_WAKE, 0, NULL, 0);
	return send_all(w, sizeof w);
}

/* Wait until the daemon has answered request `seq` (slot_replied): spin,
 * then block on the socket with `sleeping` set, which makes the daemon send
 * WAKE | REPLY after the reply (the Dekker handshake of protocol.md: set
 * the flag, fence, re-read rep_seq). No socket request is in flight
 * meanwhile (the lock is held), so the socket can hold only WAKE | REPLY
 * frames: they are drained as bytes. 0, or -1 if the connection is gone.
 * Lock held. */
static int slot_wait(uint32_t seq)
{
	/* The spin budget adapts to how long the daemon takes to answer: it
	 * doubles when the reply came while spinning; after a sleep it grows to
	 * twice the daemon's answer time when that was short (a longer spin
	 * would have caught the reply) and halves when it was long (the daemon
	 * is slow, or shares this CPU and cannot run while we spin). The answer
	 * time is the reply's `rep_time` (stamped by the daemon) minus when
	 * waiting began, not how long this thread slept: that includes the
	 * wake-up through the socket, tens of µs, and judged by it a budget
	 * once at the minimum would never grow back — every reply would then
	 * need a wake-up, which keeps the waits long. */
	static long spin_ns = SLOT_SPIN_MAX_NS;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 1;; i++) {
		if (slot_replied(seq)) {
			if (spin_ns < SLOT_SPIN_MAX_NS) spin_ns *= 2;
			return 0;
		}
		/* A signal handler's round trip reused the slot under us (the lock is recursive). */
		if (__atomic_load_n(&slot_seq, __ATOMIC_RELAXED) != seq) return -1;
		if (i % 32) { cpu_relax(); continue; }
		long spun = elapsed_ns(&t0);
		if (spun > spin_ns) break;
		if (spun > SLOT_YIELD_AFTER_NS) sched_yield();
	}
	for (;;) {
		__atomic_store_n(slot_word(SLOT_SLEEPING), 1, __ATOMIC_SEQ_CST);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (slot_replied(seq)) break;
		if (__atomic_load_n(&slot_seq, __ATOMIC_RELAXED) != seq) goto gone;
		struct pollfd p = { .fd = sock, .events = POLLIN };
		int r = real_poll(&p, 1, SLOT_RESEND_MS);
		if (r < 0 && errno != EINTR) goto gone;
		if (r > 0) {
			uint8_t junk[256];
			ssize_t n = recv(sock, junk, sizeof junk, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) goto gone;
		} else if (r == 0 && __atomic_load_n(slot_word(SLOT_POLLING), __ATOMIC_ACQUIRE) == 0) {
			if (send_wake() < 0) goto gone;
		}
	}
	__atomic_store_n(slot_word(SLOT_SLEEPING), 0, __ATOMIC_RELAXED);
	uint32_t t0_us = (uint32_t)((uint64_t)t0.tv_sec * 1000000u + (uint64_t)t0.tv_nsec / 1000u);
	int32_t answered_us = (int32_t)(__atomic_load_n(slot_word(SLOT_REP_TIME), __ATOMIC_RELAXED) - t0_us);
	long answered = answered_us < 0 ? 0 : (long)answered_us * 1000L;
	if (answered < SLOT_SPIN_MAX_NS)
		spin_ns = 2 * answered < SLOT_SPIN_MAX_NS ? (2 * answered > spin_ns ? 2 * answered : spin_ns) : SLOT_SPIN_MAX_NS;
	else
		spin_ns = spin_ns / 2 > SLOT_SPIN_MIN_NS ? spin_ns / 2 : SLOT_SPIN_MIN_NS;
	return 0;
gone:
	__atomic_store_n(slot_word(SLOT_SLEEPING), 0, __ATOMIC_RELAXED);
	return -1;
}

/* A round trip through the slot (same frames as the socket). Lock held. */
static ssize_t slot_roundtrip(uint16_t type, const uint8_t *body, size_t len, uint8_t *reply, size_t cap)
{
	uint8_t *req = slot + SLOT_REQ;
	const uint8_t *rep = slot + SLOT_REP;
	uint32_t tag = next_tag++;
	put_frame(req, type, tag, body, len);
	uint32_t seq = ++slot_seq;
	if (seq == 0) seq = ++slot_seq; /* 0 is the daemon's "nothing seen yet" */
	int saved = errno;
	__atomic_store_n(slot_word(SLOT_REQ_SUM), slot_sum(seq, req, HDR + len), __ATOMIC_RELAXED);
	__atomic_store_n(slot_word(SLOT_REQ_SEQ), seq, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(slot_word(SLOT_POLLING), __ATOMIC_ACQUIRE) == 0 && send_wake() < 0) goto fail;
	if (slot_wait(seq) < 0) goto fail;
	ssize_t got = take_reply(rep, type, tag, reply, cap);
	if (got < 0) goto fail;
	errno = saved;
	return got;
fail:
	return connection_lost(saved);
}

/* One round trip; `reply` gets the reply body (up to `cap` bytes). Returns the
 * body length, or -1 with the connection marked broken (EIO). Lock held. */
static ssize_t roundtrip(uint16_t type, const uint8_t *body, size_t len, uint8_t *reply, size_t cap)
{
	uint8_t frame[HDR + 4096 + 16];
	if (len > sizeof frame - HDR) return -1;
	/* The daemon routes requests to the socket while the CPUs are oversubscribed (protocol.md). */
	if (slot && slot_pid == sock_pid && __atomic_load_n(slot_word(SLOT_ROUTE), __ATOMIC_RELAXED) == 0)
		return slot_roundtrip(type, body, len, reply, cap);
	uint32_t tag = next_tag++;
	put_frame(frame, type, tag, body, len);
	int saved = errno;
	if (send_all(frame, HDR + len) < 0) goto fail;
	/* One recv usually brings the whole reply (the daemon answers each
	 * request with one frame, and nothing else is in flight on this
	 * connection, so reading ahead cannot take another frame's bytes). */
	uint8_t in[8192];
	size_t got = 0;
	for (;;) {
		/* With a slot, WAKE | REPLY frames (12 bytes) may come first: left over, skipped. */
		while (got >= HDR && get32(in) == HDR && get16(in + 4) == (MSG_WAKE | REPLY)) {
			memmove(in, in + HDR, got - HDR);
			got -= HDR;
		}
		if (got >= HDR && get32(in) <= got) break;
		ssize_t r = recv(sock, in + got, sizeof in - got, 0);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) goto fail;
		got += (size_t)r;
		if (got >= HDR && (get32(in) < HDR || get32(in) > sizeof in)) goto fail;
	}
	/* Anything after the reply can only be late WAKE | REPLY frames. */
	for (size_t off = get32(in); off < got; off += HDR)
		if (got - off < HDR || get32(in + off) != HDR || get16(in + off + 4) != (MSG_WAKE | REPLY)) goto fail;
	ssize_t body_len = take_reply(in, type, tag, reply, cap);
	if (body_len < 0) goto fail;
	errno = saved;
	return body_len;
fail:
	return connection_lost(saved);
}

/* A request whose reply is one i64: the result, or -errno. */
static int64_t call(uint16_t type, const uint8_t *body, size_t len)
{
	uint8_t r[8];
	if (sock < 0) return -(broken ? broken : EIO);
	if (roundtrip(type, body, len, r, sizeof r) < 8) return -EIO;
	return (int64_t)get64(r);
}

/* Serve this process's requests through a shared slot from now on
 * (protocol.md "Shared slot"): a memfd of SLOT_SIZE bytes, mapped shared,
 * which the daemon opens through /proc/<pid>/fd during SHM_ATTACH; the fd
 * is closed right after (the mapping keeps the memfd). Without memfd, or
 * with a daemon that answers ENOSYS, or IOMMU_SIM_TRANSPORT=socket,
 * requests stay on the socket. Lock held. */
static void attach_slot(void)
{
	const char *t = getenv("IOMMU_SIM_TRANSPORT");
	if (t && strcmp(t, "socket") == 0) return;
	int m = (int)syscall(SYS_memfd_create, "iommu-sim-slot", 3 /* MFD_CLOEXEC | MFD_ALLOW_SEALING */);
	if (m < 0) m = (int)syscall(SYS_memfd_create, "iommu-sim-slot", 1 /* MFD_CLOEXEC: a kernel without sealing */);
	if (m < 0) return;
	void *p = MAP_FAILED;
	if (ftruncate(m, SLOT_SIZE) == 0) p = real_mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	if (p == MAP_FAILED) { real_close(m); return; }
	/* The slot can no longer shrink: the daemon may then map it too (a
	 * mapping past a file's end faults). Unsealed, it uses pread/pwrite. */
	(void)real_fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK);
	uint8_t b[8];
	put32(b, (uint32_t)m);
	put32(b + 4, SLOT_SIZE);
	int64_t r = call(MSG_SHM_ATTACH, b, sizeof b);
	real_close(m);
	if (r == 0 && sock >= 0) {
		slot = p;
		slot_pid = sock_pid;
		slot_seq = 0;
	} else {
		real_munmap(p, SLOT_SIZE);
	}
}

/* Connect and say HELLO (claiming `fork_token`'s files when non-zero). Lock held. */
static int connect_daemon(uint64_t fork_token)
{
	const char *path = getenv("IOMMU_SIM_SOCKET");
	if (!path || !*path) { broken = ENOENT; return -1; }
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0) { broken = EIO; return -1; }
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	strncpy(a.sun_path, path, sizeof a.sun_path - 1);
	if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		char msg[256];
		snprintf(msg, sizeof msg, "cannot reach the daemon at %s: %s", path, strerror(errno));
		warn_once(msg);
		real_close(s);
		broken = EIO;
		return -1;
	}
	int high = real_fcntl(s, F_DUPFD_CLOEXEC, SOCK_FD_MIN);
	if (high >= 0) { real_close(s); s = high; }
	sock = s;
	sock_pid = getpid();
	if (syscall(SYS_getrandom, nonce, sizeof nonce, 0) != sizeof nonce) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		for (size_t i = 0; i < sizeof nonce; i++) nonce[i] = (uint8_t)(t.tv_nsec >> (i % 4 * 8)) ^ (uint8_t)i ^ (uint8_t)sock_pid;
	}
	uint8_t b[40];
	put32(b, PROTO_VERSION);
	put32(b + 4, (uint32_t)sock_pid);
	put64(b + 8, (uint64_t)(uintptr_t)nonce);
	memcpy(b + 16, nonce, 16);
	put64(b + 32, fork_token);
	uint8_t r[4096];
	ssize_t n = roundtrip(MSG_HELLO, b, sizeof b, r, sizeof r);
	if (n < 12) return -1;
	int32_t status = (int32_t)get32(r);
	uint16_t rl = get16(r + 8);
	if ((size_t)10 + rl + 2 > (size_t)n || (size_t)n > sizeof r) { disconnect(EIO); return -1; }
	if (status < 0) {
		char msg[1100];
		snprintf(msg, sizeof msg, "the daemon refused this process: %.*s", (int)rl, (const char *)r + 10);
		warn_once(msg);
		disconnect(-status);
		return -1;
	}
	size_t off = 10 + rl;
	uint16_t count = get16(r + off);
	off += 2;
	ns_count = 0;
	for (uint16_t i = 0; i < count && ns_count < MAX_NS && off + 2 <= (size_t)n; i++) {
		uint16_t l = get16(r + off);
		if (off + 2 + l > (size_t)n) break;
		if (l < sizeof ns[0]) {
			memcpy(ns[ns_count], r + off + 2, l);
			ns[ns_count][l] = 0;
			ns_count++;
		}
		off += 2 + l;
	}
	broken = 0;
	attach_slot();
	return 0;
}

/* The connection for this process, made on first need. Lock held. */
static int ensure_connected(void)
{
	if (sock >= 0 && sock_pid == getpid()) return 0;
	if (sock >= 0) {
		/* A child made without our fork() (raw clone): it holds nothing of the parent's. */
		real_close(sock);
		sock = -1;
		drop_slot();
	}
	if (broken && broken != ENOENT) return -1;
	return connect_daemon(0);
}

/* ---- fd map and per-process holds ---- */

static struct held *find_held(uint32_t file)
{
	for (size_t i = 0; i < nheld; i++) if (helds[i].file == file) return &helds[i];
	return NULL;
}

static void map_fd(int fd, uint32_t file)
{
	struct held *h = find_held(file);
	if (!h) {
		if (nheld == capheld) {
			size_t cap = capheld ? 2 * capheld : 16;
			struct held *n = realloc(helds, cap * sizeof *n);
			if (!n) return;
			helds = n; capheld = cap;
		}
		h = &helds[nheld++];
		h->file = file;
		h->fds = 0;
	}
	h->fds++;
	__atomic_store_n(&fdmap[fd], (int32_t)file, __ATOMIC_RELEASE);
}

/* One fd of this process on `file` went away; the last one lets go in the daemon. Lock held. */
static void release_file(uint32_t file)
{
	struct held *h = find_held(file);
	if (!h || --h->fds > 0) return;
	*h = helds[--nheld];
	uint8_t b[4];
	put32(b, file);
	if (sock >= 0 && sock_pid == getpid()) call(MSG_CLOSE, b, sizeof b);
}

/* fd no longer refers to its file. Lock held. */
static void unmap_fd(int fd)
{
	uint32_t file = served(fd);
	if (!file) return;
	__atomic_store_n(&fdmap[fd], 0, __ATOMIC_RELEASE);
	release_file(file);
}

/* ---- paths ---- */

/* Lexically normalise `in` (absolute) into `out`: collapse //, ., .. */
static int normalise(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	const char *p = in;
	while (*p) {
		while (*p == '/') p++;
		if (!*p) break;
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == 1 && p[0] == '.') {
		} else if (l == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/') o--;
			if (o > 0) o--;
		} else {
			if (o + 1 + l + 1 > cap) return -1;
			out[o++] = '/';
			memcpy(out + o, p, l);
			o += l;
		}
		p += l;
	}
	if (o == 0) out[o++] = '/';
	out[o] = 0;
	return 0;
}

/* The absolute, normalised form of (dirfd, path); -1 if it cannot be known. */
static int absolute(int dirfd, const char *path, char *out, size_t cap)
{
	char tmp[PATH_MAX * 2];
	if (!path) return -1;
	if (path[0] == '/') {
		if (strlen(path) >= sizeof tmp) return -1;
		strcpy(tmp, path);
	} else {
		char base[PATH_MAX];
		if (dirfd == AT_FDCWD) {
			if (!getcwd(base, sizeof base)) return -1;
		} else {
			char link[64];
			snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
			ssize_t n = readlink(link, base, sizeof base - 1);
			if (n < 0) return -1;
			base[n] = 0;
		}
		if (snprintf(tmp, sizeof tmp, "%s/%s", base, path) >= (int)sizeof tmp) return -1;
	}
	return normalise(tmp, out, cap);
}

static int in_namespace(const char *p)
{
	for (int i = 0; i < ns_count; i++) {
		size_t l = strlen(ns[i]);
		if (l && ns[i][l - 1] == '/') {
			if (strncmp(p, ns[i], l) == 0 && p[l]) return 1;
		} else if (strcmp(p, ns[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

/* Open (dirfd, path) if it is served: returns the fd or -1/errno with *handled
 * set; leaves *handled 0 for a path the real system should open. */
static int served_open(int dirfd, const char *path, int flags, int *handled)
{
	char abs[PATH_MAX];
	*handled = 0;
	if (!path || !getenv("IOMMU_SIM_SOCKET")) return -1;
	/* Cheap filter: an absolute path that never says "dev" cannot name /dev/... */
	if (path[0] == '/' && strstr(path, "dev") == NULL) return -1;
	if (absolute(dirfd, path, abs, sizeof abs) < 0 || strncmp(abs, "/dev/", 5) != 0) return -1;
	pthread_mutex_lock(&lock);
	if (ensure_connected() < 0) {
		/* Without a daemon, the model's nodes are missing (or the refusal's errno). */
		int e = broken ? broken : EIO;
		pthread_mutex_unlock(&lock);
		if (e == ENOENT) return -1; /* no $IOMMU_SIM_SOCKET: not ours */
		*handled = 1;
		errno = e;
		return -1;
	}
	if (!in_namespace(abs)) { pthread_mutex_unlock(&lock); return -1; }
	*handled = 1;
	size_t l = strlen(abs);
	uint8_t b[8 + PATH_MAX];
	put32(b, (uint32_t)flags);
	put32(b + 4, 0);
	memcpy(b + 8, abs, l);
	int64_t file = call(MSG_OPEN, b, 8 + l);
	if (file < 0) {
		pthread_mutex_unlock(&lock);
		errno = (int)-file;
		return -1;
	}
	/* The counter holds the file id: the daemon finds which file an fd number
	 * names (an fd passed inside an ioctl struct) in /proc/<pid>/fdinfo. */
	int fd = eventfd((unsigned int)file, (flags & O_CLOEXEC) ? EFD_CLOEXEC : 0);
	if (fd < 0 || fd >= MAX_FD) {
		int e = fd < 0 ? errno : EMFILE;
		if (fd >= 0) real_close(fd);
		uint8_t c[4];
		put32(c, (uint32_t)file);
		call(MSG_CLOSE, c, sizeof c);
		pthread_mutex_unlock(&lock);
		errno = e;
		return -1;
	}
	map_fd(fd, (uint32_t)file);
	pthread_mutex_unlock(&lock);
	return fd;
}

/* ---- intercepted calls ---- */

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	resolve_all();
	int handled;
	int fd = served_open(dirfd, path, flags, &handled);
	if (handled) return fd;
	if (dirfd == AT_FDCWD) return real_open(path, flags, mode);
	return real_openat(dirfd, path, flags, mode);
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap; va_start(ap, flags); mode_t m = mode_arg(flags, ap); va_end(ap);
	return do_openat(AT_FDCWD, path, flags, m);
}
int open64(const char *path, int flags, ...)
{
	va_list ap; va_start(ap, flags); mode_t m = mode_arg(flags, ap); va_end(ap);
	return do_openat(AT_FDCWD, path, flags | O_LARGEFILE, m);
}
int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap; va_start(ap, flags); mode_t m = mode_arg(flags, ap); va_end(ap);
	return do_openat(dirfd, path, flags, m);
}
int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap; va_start(ap, flags); mode_t m = mode_arg(flags, ap); va_end(ap);
	return do_openat(dirfd, path, flags | O_LARGEFILE, m);
}
int __open_2(const char *path, int flags) { return do_openat(AT_FDCWD, path, flags, 0); }
int __open64_2(const char *path, int flags) { return do_openat(AT_FDCWD, path, flags | O_LARGEFILE, 0); }
int __openat_2(int dirfd, const char *path, int flags) { return do_openat(dirfd, path, flags, 0); }
int __openat64_2(int dirfd, const char *path, int flags) { return do_openat(dirfd, path, flags | O_LARGEFILE, 0); }

int close(int fd)
{
	resolve_all();
	/* Programs that close every fd (a daemon's close loop) must not cut us
	 * off from the daemon: the connection's fd stays, as if closed. */
	if (fd >= 0 && fd == sock && sock_pid == getpid()) return 0;
	if (!served(fd)) return real_close(fd);
	pthread_mutex_lock(&lock);
	int r = real_close(fd);
	unmap_fd(fd);
	pthread_mutex_unlock(&lock);
	return r;
}

/* After a successful dup of a fd on `file` (0 = not served) onto `newfd`:
 * newfd now refers to `file`, and the file newfd referred to before (closed
 * by the kernel) loses an fd. Map first, so that dup2 onto an fd of the
 * same file never drops the file's last hold. Lock held. */
static void dup_done(uint32_t file, int newfd)
{
	uint32_t was = served(newfd);
	if (file && newfd < MAX_FD) map_fd(newfd, file);
	else if (was) __atomic_store_n(&fdmap[newfd], 0, __ATOMIC_RELEASE);
	if (was) release_file(was);
}

int dup(int fd)
{
	resolve_all();
	if (!served(fd)) return real_dup(fd);
	pthread_mutex_lock(&lock);
	int r = real_dup(fd);
	if (r >= 0) dup_done(served(fd), r);
	pthread_mutex_unlock(&lock);
	return r;
}

int dup2(int oldfd, int newfd)
{
	resolve_all();
	if (!served(oldfd) && !served(newfd)) return real_dup2(oldfd, newfd);
	pthread_mutex_lock(&lock);
	int r = real_dup2(oldfd, newfd);
	if (r >= 0 && oldfd != newfd) dup_done(served(oldfd), r);
	pthread_mutex_unlock(&lock);
	return r;
}

int dup3(int oldfd, int newfd, int flags)
{
	resolve_all();
	if (!served(oldfd) && !served(newfd)) return real_dup3(oldfd, newfd, flags);
	pthread_mutex_lock(&lock);
	int r = real_dup3(oldfd, newfd, flags);
	if (r >= 0) dup_done(served(oldfd), r);
	pthread_mutex_unlock(&lock);
	return r;
}

static int do_fcntl(int fd, int cmd, void *arg)
{
	resolve_all();
	if (!served(fd) || (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)) return real_fcntl(fd, cmd, arg);
	pthread_mutex_lock(&lock);
	int r = real_fcntl(fd, cmd, arg);
	if (r >= 0) dup_done(served(fd), r);
	pthread_mutex_unlock(&lock);
	return r;
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap; va_start(ap, cmd); void *arg = va_arg(ap, void *); va_end(ap);
	return do_fcntl(fd, cmd, arg);
}
int fcntl64(int fd, int cmd, ...)
{
	va_list ap; va_start(ap, cmd); void *arg = va_arg(ap, void *); va_end(ap);
	return do_fcntl(fd, cmd, arg);
}

/* An IOCTL round trip. The reply may carry fds to install after the i64
 * result (protocol.md, "Installed fds"): files the ioctl created, such as a
 * fault queue's fd, at the fd numbers the daemon wrote into the ioctl's
 * struct. Each becomes a placeholder eventfd (O_CLOEXEC, as the kernel's
 * get_unused_fd_flags(O_CLOEXEC)) mapped to its daemon file. Lock held. */
static int64_t ioctl_call(const uint8_t *body, size_t len)
{
	uint8_t r[8 + 4 + 8 * 16];
	if (sock < 0) return -(broken ? broken : EIO);
	ssize_t n = roundtrip(MSG_IOCTL, body, len, r, sizeof r);
	if (n < 8) return -EIO;
	if (n > (ssize_t)sizeof r) n = sizeof r;
	if (n >= 12) {
		uint32_t count = get32(r + 8);
		for (uint32_t i = 0; i < count && 12 + 8 * (size_t)(i + 1) <= (size_t)n; i++) {
			int fd = (int32_t)get32(r + 12 + 8 * i);
			uint32_t file = get32(r + 16 + 8 * i);
			int e = eventfd(file, EFD_CLOEXEC);
			if (e >= 0 && e != fd && fd >= 0) {
				real_dup3(e, fd, O_CLOEXEC);
				real_close(e);
			}
			if (fd >= 0 && fd < MAX_FD) map_fd(fd, file);
		}
	}
	return (int64_t)get64(r);
}

/* The main thread's stack, [main_stack_lo, main_stack_hi) (glibc's
 * pthread_getattr_np, read once at load: it may allocate, so never later,
 * when an ioctl could come from a signal handler). */
static uintptr_t main_stack_lo, main_stack_hi;

__attribute__((constructor)) static void find_main_stack(void)
{
	pthread_attr_t a;
	void *addr;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &a) != 0) return;
	if (pthread_attr_getstack(&a, &addr, &size) == 0) {
		main_stack_lo = (uintptr_t)addr;
		main_stack_hi = (uintptr_t)addr + size;
	}
	pthread_attr_destroy(&a);
}

/* Whether [va, va+len) lies on the main thread's stack between this frame
 * and the stack's top while we run on that stack: memory that is mapped
 * and readable (the stack VMA reaches from below the stack pointer to its
 * top), so a plain copy cannot fault. ioctl structs usually live there,
 * and this saves the process_vm_readv system call (about 1 µs). On a
 * thread's, a coroutine's or a signal's alternate stack, sp is outside
 * the range and the answer is no. */
static int on_main_stack(uintptr_t va, size_t len)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	return sp >= main_stack_lo && sp < main_stack_hi && va >= sp && va + len <= main_stack_hi && va + len > va;
}

/* Copy up to `cap` bytes of our own memory at `va` into `out`, never past
 * the end of va's page (a page the kernel's copy_from_user of the struct
 * would not touch is not touched: no fault-in, no userfaultfd wait), with
 * process_vm_readv — EFAULT instead of SIGSEGV for the bad pointers
 * selftests pass — or with a plain copy where on_main_stack() says it is
 * safe. The daemon serves the ioctl's reads of that range from these
 * bytes instead of /proc/<pid>/mem. Returns the bytes copied. */
static size_t prefetch(uintptr_t va, uint8_t *out, size_t cap)
{
	if (va < 4096) return 0;
	size_t in_page = 4096 - (va & 4095);
	size_t len = in_page < cap ? in_page : cap;
	if (on_main_stack(va, len)) {
		memcpy(out, (const void *)va, len);
		return len;
	}
	struct iovec local = { out, len };
	struct iovec remote = { (void *)va, local.iov_len };
	ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	return n < 0 ? 0 : (size_t)n;
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap; va_start(ap, request); void *arg = va_arg(ap, void *); va_end(ap);
	resolve_all();
	uint32_t file = served(fd);
	if (!file) return real_ioctl(fd, request, arg);
	uint8_t b[16 + PREFETCH];
	put32(b, file);
	put32(b + 4, (uint32_t)request); /* the kernel's cmd is an unsigned int */
	put64(b + 8, (uint64_t)(uintptr_t)arg);
	size_t n = 16 + prefetch((uintptr_t)arg, b + 16, PREFETCH);
	pthread_mutex_lock(&lock);
	int64_t r = ensure_connected() < 0 ? -EIO : ioctl_call(b, n);
	pthread_mutex_unlock(&lock);
	if (r < 0) { errno = (int)-r; return -1; }
	return (int)r;
}

static ssize_t rw(uint16_t type, uint32_t file, const void *buf, size_t count)
{
	uint8_t b[24];
	put32(b, file);
	put32(b + 4, 0);
	put64(b + 8, (uint64_t)(uintptr_t)buf);
	put64(b + 16, (uint64_t)count);
	pthread_mutex_lock(&lock);
	int64_t r = ensure_connected() < 0 ? -EIO : call(type, b, sizeof b);
	pthread_mutex_unlock(&lock);
	if (r < 0) { errno = (int)-r; return -1; }
	return (ssize_t)r;
}

ssize_t read(int fd, void *buf, size_t count)
{
	resolve_all();
	uint32_t file = served(fd);
	return file ? rw(MSG_READ, file, buf, count) : real_read(fd, buf, count);
}
ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
	(void)buflen;
	return read(fd, buf, count);
}
ssize_t write(int fd, const void *buf, size_t count)
{
	resolve_all();
	uint32_t file = served(fd);
	return file ? rw(MSG_WRITE, file, buf, count) : real_write(fd, buf, count);
}

/* Readiness of served entries from the daemon; 1 if any is ready. */
static int poll_served(struct pollfd *fds, nfds_t n)
{
	int ready = 0;
	pthread_mutex_lock(&lock);
	int ok = ensure_connected() == 0;
	for (nfds_t i = 0; i < n; i++) {
		uint32_t file = served(fds[i].fd);
		if (!file) continue;
		uint8_t b[8];
		put32(b, file);
		put16(b + 4, (uint16_t)fds[i].events);
		put16(b + 6, 0);
		int64_t r = ok ? call(MSG_POLL, b, sizeof b) : -EIO;
		fds[i].revents = r < 0 ? POLLERR : (short)r;
		if (fds[i].revents) ready = 1;
	}
	pthread_mutex_unlock(&lock);
	return ready;
}

/* poll over served and real fds: served readiness comes from the daemon, real
 * fds from the kernel, polled in slices of at most 10 ms until either is ready. */
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	resolve_all();
	nfds_t any = 0;
	for (nfds_t i = 0; i < n; i++) if (served(fds[i].fd)) any++;
	if (!any) return real_poll(fds, n, timeout);
	struct pollfd *real = calloc(n, sizeof *real);
	if (!real) { errno = ENOMEM; return -1; }
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int sready = poll_served(fds, n);
		for (nfds_t i = 0; i < n; i++) {
			real[i] = fds[i];
			if (served(fds[i].fd)) real[i].fd = -1; /* ignored by the kernel */
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		int slice = sready ? 0 : timeout < 0 ? 10 : (timeout - spent < 10 ? (int)(timeout - spent) : 10);
		if (slice < 0) slice = 0;
		int r = real_poll(real, n, slice);
		if (r < 0) { int e = errno; free(real); errno = e; return -1; }
		int count = 0;
		for (nfds_t i = 0; i < n; i++) {
			if (!served(fds[i].fd)) fds[i].revents = real[i].revents;
			if (fds[i].revents) count++;
		}
		if (count || (timeout >= 0 && spent >= timeout)) { free(real); return count; }
	}
}
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	(void)fdslen;
	return poll(fds, n, timeout);
}

/* Memory the program unmaps (or replaces with MAP_FIXED) is reported, once
 * the kernel has done it, while the process holds served files: the
 * daemon's mirror of it for DMA must forget those pages, as Linux's pinned
 * pages stop being the process's (protocol.md, MUNMAP). */
static void report_unmap(void *addr, size_t len)
{
	if (!nheld) return;
	pthread_mutex_lock(&lock);
	if (sock >= 0 && sock_pid == getpid()) {
		uint8_t b[16];
		put64(b, (uint64_t)(uintptr_t)addr);
		put64(b + 8, (uint64_t)len);
		call(MSG_MUNMAP, b, sizeof b);
	}
	pthread_mutex_unlock(&lock);
}

int munmap(void *addr, size_t len)
{
	resolve_all();
	int r = real_munmap(addr, len);
	if (r == 0) report_unmap(addr, len);
	return r;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	resolve_all();
	void *r = real_mmap(addr, len, prot, flags, fd, off);
	if (r != MAP_FAILED && (flags & MAP_FIXED)) report_unmap(r, len);
	return r;
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) __attribute__((alias("mmap")));

/* fork: the daemon holds this process's files under a token before the fork;
 * the child connects and claims them, so no close in the parent can release a
 * file the child still has. */
pid_t fork(void)
{
	resolve_all();
	pthread_mutex_lock(&lock);
	int64_t token = 0;
	if (nheld && sock >= 0 && sock_pid == getpid()) token = call(MSG_FORK, NULL, 0);
	pid_t pid = real_fork();
	if (pid == 0) {
		/* The lock's owner is the parent's thread id: start a fresh, held lock. */
		pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
		lock = fresh;
		pthread_mutex_lock(&lock);
		if (sock >= 0) real_close(sock); /* the parent's connection */
		sock = -1;
		drop_slot(); /* the parent's slot: shared with it, never ours */
		next_tag = 1;
		if (token > 0 && connect_daemon((uint64_t)token) < 0) {
			warn_once("the forked child could not claim its served fds");
		}
	} else if (pid > 0 && token > 0) {
		/* Name the child, so the daemon can drop its files should it die before claiming them. */
		uint8_t b[16];
		put64(b, (uint64_t)token);
		put32(b + 8, (uint32_t)pid);
		put32(b + 12, 0);
		call(MSG_FORK_DONE, b, sizeof b);
	} else if (pid < 0 && token > 0) {
		int e = errno;
		uint8_t b[8];
		put64(b, (uint64_t)token);
		call(MSG_FORK_CANCEL, b, sizeof b);
		errno = e;
	}
	pthread_mutex_unlock(&lock);
	return pid;
}
