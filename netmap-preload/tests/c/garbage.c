/*
 * garbage SWITCH NAME: an application that corrupts everything it may
 * write must get errors or reset rings, never crash itself or the engine.
 * Random head/cur/tail values, slots with random buffer indexes, lengths
 * and flags (NS_INDIRECT with wild pointers, NS_MOREFRAG chains without
 * end), syncs and polls after each, on a VALE port and a pipe end; then a
 * clean frame still goes through both.
 */
#include "nmtest.h"

static uint64_t rng = 88172645463325252ULL;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* What the program scribbled over and restores once it behaves. */
static uint32_t saved[2][4096];

static void scribble(struct port *p)
{
	struct netmap_ring *tx = NETMAP_TXRING(p->nifp, 0);
	struct netmap_ring *rx = NETMAP_RXRING(p->nifp, 0);
	for (uint32_t i = 0; i < tx->num_slots; i++)
		saved[0][i] = tx->slot[i].buf_idx;
	for (uint32_t i = 0; i < rx->num_slots; i++)
		saved[1][i] = rx->slot[i].buf_idx;
	for (int round = 0; round < 2000; round++) {
		struct netmap_ring *r = round & 1 ? rx : tx;
		uint32_t n = r->num_slots;
		uint32_t i = rnd() % n;
		switch (rnd() % 6) {
		case 0:
			r->head = rnd() % (2 * n);
			break;
		case 1:
			r->cur = rnd() % (2 * n);
			break;
		case 2:
			r->slot[i].buf_idx = rnd();
			break;
		case 3:
			r->slot[i].len = (uint16_t)rnd();
			break;
		case 4:
			r->slot[i].flags = (uint16_t)rnd();
			r->slot[i].ptr = ((uint64_t)rnd() << 32) | rnd();
			break;
		default:
			r->head = r->cur = (r->tail + n - 1 - rnd() % 4) % n;
			break;
		}
		ioctl(p->fd, round & 1 ? NIOCRXSYNC : NIOCTXSYNC, NULL);
		if (round % 64 == 0) {
			struct pollfd pfd = {.fd = p->fd, .events = POLLIN | POLLOUT};
			poll(&pfd, 1, 0);
		}
	}
	/* Behave again: the buffers it owned back in their slots. */
	for (uint32_t i = 0; i < tx->num_slots; i++) {
		tx->slot[i].buf_idx = saved[0][i];
		tx->slot[i].flags = NS_BUF_CHANGED;
		tx->slot[i].len = 0;
	}
	for (uint32_t i = 0; i < rx->num_slots; i++) {
		rx->slot[i].buf_idx = saved[1][i];
		rx->slot[i].flags = NS_BUF_CHANGED;
	}
}

static uint32_t send_clean(struct port *tx_port, struct port *rx_port, uint32_t seq)
{
	struct netmap_ring *tx = NETMAP_TXRING(tx_port->nifp, 0);
	struct netmap_ring *rx = NETMAP_RXRING(rx_port->nifp, 0);
	/* Resynchronise with the kernel side first, as after any reset. */
	CHECK(ioctl(tx_port->fd, NIOCTXSYNC, NULL) == 0, "TXSYNC");
	CHECK(ioctl(rx_port->fd, NIOCRXSYNC, NULL) == 0, "RXSYNC");
	rx->head = rx->cur = rx->tail;
	CHECK(ioctl(rx_port->fd, NIOCRXSYNC, NULL) == 0, "RXSYNC");
	CHECK(nm_ring_space(tx) > 0, "tx ring has room after the reset");
	struct netmap_slot *slot = &tx->slot[tx->cur];
	slot->flags = 0;
	make_frame(NETMAP_BUF(tx, slot->buf_idx), seq, 1);
	slot->len = 60;
	tx->head = tx->cur = nm_ring_next(tx, tx->cur);
	CHECK(ioctl(tx_port->fd, NIOCTXSYNC, NULL) == 0, "TXSYNC");
	struct pollfd pfd = {.fd = rx_port->fd, .events = POLLIN};
	CHECK(poll(&pfd, 1, 2000) == 1, "the clean frame did not arrive");
	uint32_t got = 0;
	while (rx->cur != rx->tail) {
		if (frame_seq(NETMAP_BUF(rx, rx->slot[rx->cur].buf_idx)) == seq)
			got = 1;
		rx->head = rx->cur = nm_ring_next(rx, rx->cur);
	}
	return got;
}

int main(int argc, char **argv)
{
	CHECK(argc == 3, "usage: garbage SWITCH NAME");
	char a[64], b[64], m[64], s[64];
	snprintf(a, sizeof(a), "%s:a", argv[1]);
	snprintf(b, sizeof(b), "%s:b", argv[1]);
	snprintf(m, sizeof(m), "%s{1", argv[2]);
	snprintf(s, sizeof(s), "%s}1", argv[2]);
	struct port pa, pb, pm, ps;
	port_open(&pa, a);
	port_open(&pb, b);
	port_open(&pm, m);
	port_open(&ps, s);
	scribble(&pa);
	scribble(&pm);
	printf("scribbled\n");
	/* The ports still work once the application behaves. */
	uint32_t ok = 0;
	for (uint32_t k = 0; k < 8 && !ok; k++)
		ok = send_clean(&pa, &pb, 0x5eed0000 + k);
	CHECK(ok, "VALE port unusable after the garbage");
	ok = 0;
	for (uint32_t k = 0; k < 8 && !ok; k++)
		ok = send_clean(&pm, &ps, 0x5eed1000 + k);
	CHECK(ok, "pipe unusable after the garbage");
	printf("garbage ok\n");
	return 0;
}
