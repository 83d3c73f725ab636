/*
 * The shared slot (protocol.md "Shared slot") from a raw client, without
 * the shim: SHM_ATTACH's checks (EPROTO, EINVAL for a wrong size, a pipe, a
 * tmpfile, a memfd of another size or open read-only, EBADF, EBUSY; WAKE without a slot is
 * ENXIO), then rounds of random traffic through a slot: well-formed
 * requests of any type with random bodies (each must be answered, its tag
 * echoed, its sum right), and garbage — random lengths and sums, random
 * bytes over the whole slot, a truncated memfd — after which the daemon
 * must close the connection (or ignore the slot) and go on serving others.
 * Every other round's memfd is sealed against shrinking, so the daemon maps
 * it (its truncation must then fail with EPERM).
 * Usage: fuzz_slot SEED ROUNDS.
 */
#include "raw_client.h"
#include <poll.h>
#include <sys/mman.h>
#include <time.h>

#define SLOT_SIZE 20480
#define REQ 32
#define REP_SEQ (64 + 8192)
#define REP (76 + 8192)

static uint32_t sum(uint32_t seq, const uint8_t *p, size_t n)
{
	uint32_t h = 0x811c9dc5u ^ seq;
	for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x01000193u;
	return h;
}

/* The i64 of the next reply on the socket, or INT64_MIN if the connection closed. */
static int64_t socket_result(void)
{
	uint8_t r[20];
	for (size_t got = 0; got < sizeof r;) {
		ssize_t n = recv(sock, r + got, sizeof r - got, 0);
		if (n <= 0) return INT64_MIN;
		got += (size_t)n;
	}
	int64_t v;
	memcpy(&v, r + 12, 8);
	return v;
}

static int64_t call(uint16_t type, const uint8_t *body, uint32_t len)
{
	if (send_frame(type, 9, body, len) < 0) return INT64_MIN;
	return socket_result();
}

static int wake(void) { return send_frame(13, 0, NULL, 0); }

/* Whether the daemon closed the connection within `ms` (WAKE | REPLY frames are skipped). */
static int closed_within(int ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	for (;;) {
		errno = 0;
		if (poll(&p, 1, ms) <= 0) return 0;
		uint8_t junk[64];
		ssize_t n = recv(sock, junk, sizeof junk, MSG_DONTWAIT);
		if (n == 0) return 1;
		if (n < 0) return errno == ECONNRESET;
	}
}

static void hello(void)
{
	connect_and_hello(1);
	uint8_t r[4096];
	ssize_t n = recv(sock, r, sizeof r, 0);
	EXPECT_EQ(1, n >= 16 && get32(r + 12) == 0);
}

static int64_t attach(int fd, uint32_t size)
{
	uint8_t b[8];
	put32(b, (uint32_t)fd);
	put32(b + 4, size);
	return call(12, b, sizeof b);
}

/* A memfd of `size` bytes; `sealed`: it can no longer shrink (F_SEAL_SHRINK),
 * so the daemon maps it instead of using pread/pwrite (src/daemon/slot-map.ts). */
static int new_memfd(off_t size, int sealed)
{
	int m = memfd_create("fuzz-slot", MFD_CLOEXEC | (sealed ? MFD_ALLOW_SEALING : 0));
	if (m >= 0 && ftruncate(m, size) < 0) { close(m); return -1; }
	if (m >= 0 && sealed && fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK) < 0) { close(m); return -1; }
	return m;
}

/* SHM_ATTACH's answers (src/daemon/server.ts, shm.ts openSlot). */
static void attach_checks(void)
{
	hello();
	EXPECT_EQ(-6, call(13, NULL, 0)); /* WAKE without a slot: ENXIO */
	EXPECT_EQ(-71, call(12, (const uint8_t *)"abc", 3)); /* EPROTO */
	int m = new_memfd(SLOT_SIZE, 0);
	EXPECT_EQ(-22, attach(m, 4096)); /* EINVAL: not the slot's size */
	int p[2];
	EXPECT_EQ(0, pipe(p));
	EXPECT_EQ(-22, attach(p[0], SLOT_SIZE)); /* a pipe */
	int t = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	if (t >= 0) {
		EXPECT_EQ(0, ftruncate(t, SLOT_SIZE));
		EXPECT_EQ(-22, attach(t, SLOT_SIZE)); /* unlinked, but not a memfd */
	}
	int small = new_memfd(4096, 1); /* sealed, so it can only grow */
	EXPECT_EQ(-22, attach(small, SLOT_SIZE)); /* a memfd of another size */
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", m);
	int ro = open(self, O_RDONLY);
	EXPECT_EQ(-22, attach(ro, SLOT_SIZE)); /* the right memfd, but read-only here */
	close(ro);
	EXPECT_EQ(-9, attach(777, SLOT_SIZE)); /* EBADF */
	EXPECT_EQ(0, attach(m, SLOT_SIZE));
	EXPECT_EQ(-16, attach(m, SLOT_SIZE)); /* EBUSY: one slot per connection */
	close(sock);
	close(m);
	close(small);
	close(p[0]);
	close(p[1]);
	if (t >= 0) close(t);
}

static long answered, closes;

/* One connection with a slot and random traffic through it; `sealed`: the
 * daemon maps the slot, else it reads and writes it with pread/pwrite. */
static void round_(int sealed)
{
	hello();
	int m = new_memfd(SLOT_SIZE, sealed);
	volatile uint8_t *slot = mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	if (failures || slot == MAP_FAILED || attach(m, SLOT_SIZE) != 0) { failures++; return; }
	uint32_t seq = 0;
	for (int i = 0; i < 200 && !failures; i++) {
		unsigned what = (unsigned)(rnd() % 20);
		uint8_t f[12 + 64];
		uint16_t type = rnd() % 4 ? (uint16_t)(1 + rnd() % 13) : (uint16_t)rnd();
		uint32_t len = 12 + (uint32_t)(rnd() % 64);
		for (size_t k = 0; k < sizeof f; k++) f[k] = (uint8_t)rnd();
		put32(f, len);
		put16(f + 4, type);
		put32(f + 8, (uint32_t)i);
		if (type >= 3 && type <= 7 && len >= 28) { /* small file ids; pointers into scratch or nowhere */
			put32(f + 12, (uint32_t)(rnd() % 8));
			put64(f + 20, rnd() % 2 ? (uint64_t)(uintptr_t)scratch : rnd());
		}
		if (what < 15) { /* well formed: must be answered */
			memcpy((void *)(slot + REQ), f, len);
			seq++;
			put32((uint8_t *)(slot + 4), sum(seq, f, len));
			__atomic_store_n((uint32_t *)(void *)(slot + 0), seq, __ATOMIC_SEQ_CST);
			if (wake() < 0) { closes++; break; }
			struct timespec a, b;
			clock_gettime(CLOCK_MONOTONIC, &a);
			int ok = 0;
			for (;;) {
				if (__atomic_load_n((uint32_t *)(void *)(slot + REP_SEQ), __ATOMIC_ACQUIRE) == seq) {
					uint32_t rl = get32(slot + REP);
					if (rl >= 12 && rl <= 8192 && sum(seq, (const uint8_t *)(slot + REP), rl) == get32(slot + REP_SEQ + 4)) { ok = 1; break; }
				}
				clock_gettime(CLOCK_MONOTONIC, &b);
				if (b.tv_sec - a.tv_sec > 5) break;
				usleep(20);
			}
			if (!ok) { printf("FAIL: request %d (type %u) not answered\n", i, type); failures++; break; }
			uint16_t rt;
			memcpy(&rt, (const void *)(slot + REP + 4), 2);
			if (rt != (uint16_t)(type | 0x8000) || get32(slot + REP + 8) != (uint32_t)i) {
				printf("FAIL: request %d: reply type %u tag %u\n", i, rt, get32(slot + REP + 8));
				failures++;
			}
			answered++;
		} else if (what < 17) { /* a bad sum or an impossible length: the connection ends */
			put32(f, rnd() % 2 ? len : (uint32_t)rnd());
			memcpy((void *)(slot + REQ), f, sizeof f);
			put32((uint8_t *)(slot + 4), (uint32_t)rnd());
			__atomic_store_n((uint32_t *)(void *)(slot + 0), ++seq, __ATOMIC_SEQ_CST);
			wake();
			if (closed_within(2000)) { closes++; break; }
			/* the random sum matched by chance: it was a request after all */
		} else if (what < 19) { /* random bytes everywhere */
			for (size_t k = 0; k < 256; k++) slot[k] = (uint8_t)rnd();
			seq = get32(slot);
			wake();
			if (closed_within(50)) { closes++; break; }
		} else if (sealed) { /* the seal holds: the slot cannot shrink under the daemon's mapping */
			EXPECT_EQ(-1, ftruncate(m, 64));
			EXPECT_EQ(EPERM, errno);
		} else { /* the slot shrinks under the daemon: its reads come up short */
			munmap((void *)slot, SLOT_SIZE);
			slot = NULL;
			EXPECT_EQ(0, ftruncate(m, 64));
			uint32_t next = seq + 1;
			EXPECT_EQ(4, pwrite(m, &next, 4, 0));
			wake();
			EXPECT_EQ(1, closed_within(5000));
			closes++;
			break;
		}
	}
	if (slot) munmap((void *)slot, SLOT_SIZE);
	close(m);
	close(sock);
}

int main(int argc, char **argv)
{
	s = argc > 1 ? strtoull(argv[1], NULL, 0) | 1 : 1;
	long rounds = argc > 2 ? atol(argv[2]) : 20;
	attach_checks();
	for (long r = 0; r < rounds && !failures; r++) round_((int)(r % 2));
	fprintf(stderr, "fuzz_slot: %ld answered, %ld connections closed\n", answered, closes);
	DONE();
}
