/*
 * Shared by the raw protocol clients (fuzz_proto.c, fuzz_slot.c), which
 * speak packages/cli/docs/protocol.md to the daemon at $IOMMU_SIM_SOCKET
 * without the shim: a seeded xorshift generator, little-endian field
 * writers, frame sending, and connecting with a proper HELLO.
 */
#ifndef RAW_CLIENT_H
#define RAW_CLIENT_H

#include "check.h" /* first: it defines _GNU_SOURCE */
#include <sys/socket.h>
#include <sys/un.h>

/* The protocol version the clients speak (src/daemon/protocol.ts PROTOCOL_VERSION). */
#define PROTO_VERSION 2

/* xorshift64 state; seed it (odd) before the first rnd(). */
static uint64_t s;
static uint64_t rnd(void)
{
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

static int sock;
/* The HELLO nonce, read back by the daemon through /proc/<pid>/mem. */
static uint8_t nonce[16];
/* Readable memory for random pointers to land in. */
static uint8_t scratch[4096] __attribute__((unused));

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
__attribute__((unused)) static uint32_t get32(const volatile uint8_t *p)
{
	uint32_t v;
	memcpy(&v, (const void *)p, 4);
	return v;
}

/* Send one frame (header + `len` ≤ 8192 − 12 body bytes). 0, or -1 if the send failed. */
static int send_frame(uint16_t type, uint32_t tag, const uint8_t *body, uint32_t len)
{
	uint8_t f[8192];
	if (len > sizeof f - 12) return -1;
	put32(f, 12 + len);
	put16(f + 4, type);
	put16(f + 6, 0);
	put32(f + 8, tag);
	if (len) memcpy(f + 12, body, len);
	return send(sock, f, 12 + len, MSG_NOSIGNAL) == (ssize_t)(12 + len) ? 0 : -1;
}

/* Connect `sock` to $IOMMU_SIM_SOCKET and send HELLO (tag `tag`) with a fresh nonce; the reply is the caller's to read. */
static void connect_and_hello(uint32_t tag)
{
	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	strncpy(a.sun_path, getenv("IOMMU_SIM_SOCKET"), sizeof a.sun_path - 1);
	EXPECT_EQ(0, connect(sock, (struct sockaddr *)&a, sizeof a));
	for (int i = 0; i < 16; i++) nonce[i] = (uint8_t)rnd();
	uint8_t h[40] = { 0 };
	put32(h, PROTO_VERSION);
	put32(h + 4, (uint32_t)getpid());
	put64(h + 8, (uint64_t)(uintptr_t)nonce);
	memcpy(h + 16, nonce, 16);
	EXPECT_EQ(0, send_frame(1, tag, h, sizeof h));
}

#endif
