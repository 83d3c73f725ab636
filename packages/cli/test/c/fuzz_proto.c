/*
 * Raw protocol traffic (packages/cli/docs/protocol.md) against the daemon
 * at $IOMMU_SIM_SOCKET, without the shim: a proper HELLO, then random
 * frames — every request type and unknown ones, bodies of random length
 * and content, random file ids, tokens and pointers. Every frame must get
 * a reply with its tag; a frame with an impossible length must end the
 * connection. Usage: fuzz_proto SEED COUNT.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include "check.h"

static uint64_t s;
static uint64_t rnd(void)
{
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

static int sock;
static uint8_t nonce[16];
static uint8_t scratch[4096];

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static int send_frame(uint16_t type, uint32_t tag, const uint8_t *body, uint32_t len)
{
	uint8_t f[12 + 8192];
	put32(f, 12 + len);
	memcpy(f + 4, &type, 2);
	memset(f + 6, 0, 2);
	put32(f + 8, tag);
	memcpy(f + 12, body, len);
	return send(sock, f, 12 + len, MSG_NOSIGNAL) == (ssize_t)(12 + len) ? 0 : -1;
}

/* Read one reply; returns its type, or -1 if the connection closed. */
static int recv_reply(uint32_t *tag)
{
	uint8_t h[12];
	size_t got = 0;
	while (got < 12) {
		ssize_t r = recv(sock, h + got, 12 - got, 0);
		if (r <= 0) return -1;
		got += r;
	}
	uint32_t len;
	memcpy(&len, h, 4);
	memcpy(tag, h + 8, 4);
	uint8_t body[8192];
	for (size_t b = 0; b < len - 12;) {
		ssize_t r = recv(sock, body + b, len - 12 - b, 0);
		if (r <= 0) return -1;
		b += r;
	}
	uint16_t type;
	memcpy(&type, h + 4, 2);
	return type;
}

int main(int argc, char **argv)
{
	s = argc > 1 ? strtoull(argv[1], NULL, 0) | 1 : 1;
	long count = argc > 2 ? atol(argv[2]) : 2000;
	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	strncpy(a.sun_path, getenv("IOMMU_SIM_SOCKET"), sizeof a.sun_path - 1);
	EXPECT_EQ(0, connect(sock, (struct sockaddr *)&a, sizeof a));
	for (int i = 0; i < 16; i++) nonce[i] = (uint8_t)rnd();
	uint8_t hello[40] = { 0 };
	put32(hello, 2); /* protocol version */
	put32(hello + 4, (uint32_t)getpid());
	put64(hello + 8, (uint64_t)(uintptr_t)nonce);
	memcpy(hello + 16, nonce, 16);
	uint32_t tag;
	EXPECT_EQ(0, send_frame(1, 77, hello, sizeof hello));
	EXPECT_EQ(0x8001, recv_reply(&tag));
	EXPECT_EQ(77, tag);
	if (failures) DONE();

	uint8_t body[256];
	for (long i = 0; i < count && !failures; i++) {
		uint16_t type = rnd() % 4 ? 1 + rnd() % 10 : (uint16_t)rnd();
		uint32_t len = rnd() % 64;
		for (uint32_t k = 0; k < sizeof body; k++) body[k] = (uint8_t)rnd();
		if (type == 2 && rnd() % 2) { /* OPEN of a served or unserved path */
			const char *p = rnd() % 2 ? "/dev/iommu" : "/dev/vfio/vfio";
			put32(body, 2);
			put32(body + 4, 0);
			len = 8 + strlen(p);
			memcpy(body + 8, p, strlen(p));
		} else if (type >= 3 && type <= 7) { /* small file ids; pointers into scratch or nowhere */
			put32(body, rnd() % 8);
			put64(body + 8, rnd() % 2 ? (uint64_t)(uintptr_t)scratch : rnd());
			len = rnd() % 2 ? 24 : len;
		}
		if (send_frame(type, (uint32_t)i, body, len) < 0) { printf("FAIL: send\n"); failures++; break; }
		int t = recv_reply(&tag);
		if (t != (type | 0x8000) || tag != (uint32_t)i) {
			printf("FAIL: frame %ld type %u: reply type %d tag %u\n", i, type, t, tag);
			failures++;
		}
	}
	/* An impossible frame length ends the connection. */
	uint8_t bad[12] = { 3, 0, 0, 0 };
	send(sock, bad, sizeof bad, MSG_NOSIGNAL);
	EXPECT_EQ(-1, recv_reply(&tag));
	DONE();
}
