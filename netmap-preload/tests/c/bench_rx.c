/*
 * bench_rx PORT COUNT: receives COUNT frames the way pkt-gen's receiver
 * does (poll POLLIN, take everything from cur to tail, head = cur), with
 * the clock running from the first packet to the last. Prints "ready",
 * then "Received N packets in T seconds."
 */
#include "nmtest.h"

int main(int argc, char **argv)
{
	CHECK(argc == 3, "usage: bench_rx PORT COUNT");
	uint64_t count = strtoull(argv[2], NULL, 0);
	struct port p;
	port_open(&p, argv[1]);
	struct netmap_ring *ring = NETMAP_RXRING(p.nifp, 0);
	printf("ready\n");
	fflush(stdout);
	uint64_t received = 0, bytes = 0;
	double first = 0, last = 0;
	while (received < count) {
		struct pollfd pfd = {.fd = p.fd, .events = POLLIN};
		int n = poll(&pfd, 1, 5000);
		CHECK(n > 0, "poll: no traffic for 5 s after %llu", (unsigned long long)received);
		uint32_t cur = ring->cur, tail = ring->tail;
		if (cur == tail)
			continue;
		if (received == 0)
			first = now_ms();
		while (cur != tail && received < count) {
			bytes += ring->slot[cur].len;
			received++;
			cur = nm_ring_next(ring, cur);
		}
		ring->head = ring->cur = cur;
		last = now_ms();
	}
	/* Give the last slots back (a pipe sender's tail waits for them). */
	CHECK(ioctl(p.fd, NIOCRXSYNC, NULL) == 0, "NIOCRXSYNC");
	printf("Received %llu packets %llu bytes in %.6f seconds.\n", (unsigned long long)received,
	       (unsigned long long)bytes, (last - first) / 1e3);
	port_close(&p, 1);
	return 0;
}
