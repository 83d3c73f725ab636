/*
 * Raw protocol traffic (packages/cli/docs/protocol.md) against the daemon
 * at $IOMMU_SIM_SOCKET, without the shim: a proper HELLO, then random
 * frames — every request type and unknown ones, bodies of random length
 * and content, random file ids, tokens and pointers. Every frame must get
 * a reply with its tag; a frame with an impossible length must end the
 * connection. Usage: fuzz_proto SEED COUNT.
 */
#include "raw_client.h"

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
	connect_and_hello(77);
	uint32_t tag;
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
