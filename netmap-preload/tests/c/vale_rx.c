/*
 * vale_rx PORT COUNT [SILENCE_MS [SLOTS]]: receives as a netmap receiver does
 * (poll POLLIN, consume from head to tail, head = cur = tail), checks the
 * sequence numbers of vale_tx, prints "ready" once registered and
 * "received N" when COUNT frames came or after SILENCE_MS without any.
 * The RX ring asks for SLOTS slots (nr_rx_slots; default: the port's
 * default), so that a burst of up to SLOTS - 1 frames fits even if this
 * process is slow to run (VALE drops what does not fit).
 */
#include "nmtest.h"

int main(int argc, char **argv)
{
	CHECK(argc >= 3, "usage: vale_rx PORT COUNT [SILENCE_MS [SLOTS]]");
	uint32_t count = (uint32_t)strtoul(argv[2], NULL, 0);
	int silence = argc > 3 ? atoi(argv[3]) : 3000;
	struct port p;
	memset(&p.reg, 0, sizeof(p.reg));
	p.reg.nr_rx_slots = argc > 4 ? (uint32_t)atoi(argv[4]) : 0;
	p.reg.nr_tx_slots = p.reg.nr_rx_slots;
	errno = port_register(&p, argv[1], NR_REG_ALL_NIC, 0, 0);
	CHECK(errno == 0, "register %s", argv[1]);
	port_map(&p, NULL);
	struct netmap_ring *ring = NETMAP_RXRING(p.nifp, 0);
	CHECK(ring->num_slots == p.reg.nr_rx_slots, "rx num_slots %u vs %u", ring->num_slots,
	      p.reg.nr_rx_slots);
	CHECK(argc < 5 || ring->num_slots == (uint32_t)atoi(argv[4]), "asked for %s slots, got %u",
	      argv[4], ring->num_slots);
	printf("ready\n");
	fflush(stdout);
	uint32_t received = 0, bad = 0;
	while (received < count) {
		struct pollfd pfd = {.fd = p.fd, .events = POLLIN};
		int n = poll(&pfd, 1, silence);
		CHECK(n >= 0, "poll");
		if (n == 0)
			break;
		CHECK(pfd.revents & POLLIN, "revents %#x", pfd.revents);
		uint32_t cur = ring->cur;
		while (cur != ring->tail) {
			struct netmap_slot *slot = &ring->slot[cur];
			const char *buf = NETMAP_BUF(ring, slot->buf_idx);
			if (slot->len != 60 || frame_seq(buf) != received)
				bad++;
			received++;
			cur = nm_ring_next(ring, cur);
		}
		ring->head = ring->cur = cur;
	}
	printf("received %u bad %u\n", received, bad);
	port_close(&p, 1);
	return received == count && bad == 0 ? 0 : 1;
}
