/*
 * vale_tx PORT COUNT: sends COUNT numbered 60-byte broadcast frames on
 * PORT as a netmap sender does (poll POLLOUT, fill from head, head = cur,
 * then NIOCTXSYNC until the ring drains), prints "sent N".
 */
#include "nmtest.h"

int main(int argc, char **argv)
{
	CHECK(argc == 3, "usage: vale_tx PORT COUNT");
	uint32_t count = (uint32_t)strtoul(argv[2], NULL, 0);
	struct port p;
	port_open(&p, argv[1]);
	CHECK(p.reg.nr_tx_rings >= 1, "no tx ring");
	struct netmap_ring *ring = NETMAP_TXRING(p.nifp, 0);
	CHECK(ring->num_slots == p.reg.nr_tx_slots, "num_slots %u vs nr_tx_slots %u",
	      ring->num_slots, p.reg.nr_tx_slots);
	CHECK(ring->tail == ring->num_slots - 1 && ring->head == 0, "fresh tx ring");
	uint32_t sent = 0;
	while (sent < count) {
		struct pollfd pfd = {.fd = p.fd, .events = POLLOUT};
		int n = poll(&pfd, 1, 2000);
		CHECK(n == 1 && (pfd.revents & POLLOUT), "poll POLLOUT returned %d revents %#x", n,
		      pfd.revents);
		uint32_t cur = ring->cur;
		uint32_t space = nm_ring_space(ring);
		while (space-- > 0 && sent < count) {
			struct netmap_slot *slot = &ring->slot[cur];
			make_frame(NETMAP_BUF(ring, slot->buf_idx), sent, 1);
			slot->len = 60;
			slot->flags = 0;
			sent++;
			cur = nm_ring_next(ring, cur);
		}
		ring->head = ring->cur = cur;
	}
	/* Drain: wait until the kernel side took every slot. */
	double deadline = now_ms() + 5000;
	for (;;) {
		CHECK(ioctl(p.fd, NIOCTXSYNC, NULL) == 0, "NIOCTXSYNC");
		if (nm_ring_next(ring, ring->tail) == ring->head)
			break;
		CHECK(now_ms() < deadline, "tx ring never drained");
		usleep(100);
	}
	printf("sent %u\n", sent);
	port_close(&p, 1);
	return 0;
}
