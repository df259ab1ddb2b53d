/*
 * bench_tx PORT COUNT [BATCH]: sends COUNT 60-byte frames as fast as the
 * ring allows, the way netmap's pkt-gen sender does: poll(POLLOUT), fill
 * up to BATCH free slots (each frame copied into its buffer), head = cur,
 * and let the next poll sync; at the end NIOCTXSYNC until the ring drains.
 * Prints "Sent N packets".
 */
#include "nmtest.h"

int main(int argc, char **argv)
{
	CHECK(argc >= 3, "usage: bench_tx PORT COUNT [BATCH]");
	uint64_t count = strtoull(argv[2], NULL, 0);
	uint32_t batch = argc > 3 ? (uint32_t)atoi(argv[3]) : 512;
	struct port p;
	port_open(&p, argv[1]);
	struct netmap_ring *ring = NETMAP_TXRING(p.nifp, 0);
	char frame[60];
	make_frame(frame, 0, 1);
	uint64_t sent = 0;
	while (sent < count) {
		struct pollfd pfd = {.fd = p.fd, .events = POLLOUT};
		CHECK(poll(&pfd, 1, 2000) == 1 && (pfd.revents & POLLOUT), "poll POLLOUT");
		uint32_t space = nm_ring_space(ring);
		if (space > batch)
			space = batch;
		if (space > count - sent)
			space = (uint32_t)(count - sent);
		uint32_t cur = ring->cur;
		for (uint32_t i = 0; i < space; i++) {
			struct netmap_slot *slot = &ring->slot[cur];
			memcpy(NETMAP_BUF(ring, slot->buf_idx), frame, 60);
			slot->len = 60;
			cur = nm_ring_next(ring, cur);
		}
		sent += space;
		ring->head = ring->cur = cur;
	}
	CHECK(ioctl(p.fd, NIOCTXSYNC, NULL) == 0, "NIOCTXSYNC");
	/* Wait (a while) for the ring to drain, as pkt-gen does. */
	double deadline = now_ms() + 2000;
	while (nm_ring_next(ring, ring->tail) != ring->head && now_ms() < deadline) {
		CHECK(ioctl(p.fd, NIOCTXSYNC, NULL) == 0, "NIOCTXSYNC");
		usleep(1);
	}
	printf("Sent %llu packets\n", (unsigned long long)sent);
	port_close(&p, 1);
	return 0;
}
