/*
 * threads SWITCH COUNT: pkt-gen -p 2. The first descriptor registers ring 0
 * of SWITCH:a (NR_REG_ONE_NIC, two rings asked for) and maps it; the
 * second registers ring 1 with the first's nr_mem_id and, as libnetmap,
 * reuses the mapping. Two threads send COUNT frames each, concurrently,
 * each on its own ring and descriptor with poll; the main thread receives
 * on SWITCH:b and checks every frame of each thread arrived in order.
 */
#include "nmtest.h"

#include <pthread.h>

static struct port tx[2];
static uint32_t count;

static void *sender(void *arg)
{
	int t = (int)(intptr_t)arg;
	struct netmap_ring *ring = NETMAP_TXRING(tx[t].nifp, t);
	CHECK(ring->ringid == t, "thread %d got ring %u", t, ring->ringid);
	for (uint32_t sent = 0; sent < count;) {
		struct pollfd pfd = {.fd = tx[t].fd, .events = POLLOUT};
		CHECK(poll(&pfd, 1, 2000) == 1, "thread %d poll", t);
		while (sent < count && nm_ring_space(ring) > 0) {
			struct netmap_slot *slot = &ring->slot[ring->cur];
			make_frame(NETMAP_BUF(ring, slot->buf_idx), sent++, (uint8_t)(t + 1));
			slot->len = 60;
			ring->head = ring->cur = nm_ring_next(ring, ring->cur);
		}
	}
	CHECK(ioctl(tx[t].fd, NIOCTXSYNC, NULL) == 0, "thread %d TXSYNC", t);
	return NULL;
}

int main(int argc, char **argv)
{
	CHECK(argc == 3, "usage: threads SWITCH COUNT");
	count = (uint32_t)strtoul(argv[2], NULL, 0);
	char a[64], b[64];
	snprintf(a, sizeof(a), "%s:a", argv[1]);
	snprintf(b, sizeof(b), "%s:b", argv[1]);
	struct port rx;
	port_open(&rx, b);
	CHECK(2 * count < NETMAP_RXRING(rx.nifp, 0)->num_slots, "counts must fit the rx ring");
	for (int t = 0; t < 2; t++) {
		memset(&tx[t].reg, 0, sizeof(tx[t].reg));
		tx[t].reg.nr_tx_rings = 2;
		tx[t].reg.nr_rx_rings = 2;
		tx[t].reg.nr_mem_id = t ? tx[0].reg.nr_mem_id : 0;
		errno = port_register(&tx[t], a, NR_REG_ONE_NIC, (uint16_t)t, NR_ACCEPT_VNET_HDR);
		CHECK(errno == 0, "register %s ring %d", a, t);
		CHECK(tx[t].reg.nr_tx_rings == 2, "two rings: %u", tx[t].reg.nr_tx_rings);
		port_map(&tx[t], t ? tx[0].mem : NULL);
		/* Only the bound ring has an offset in this netmap_if. */
		CHECK(tx[t].nifp->ring_ofs[t] != 0 && tx[t].nifp->ring_ofs[1 - t] == 0,
		      "ring_ofs of descriptor %d", t);
	}
	CHECK(tx[1].reg.nr_mem_id == tx[0].reg.nr_mem_id, "one memory for both");
	pthread_t th[2];
	for (int t = 0; t < 2; t++)
		pthread_create(&th[t], NULL, sender, (void *)(intptr_t)t);
	uint32_t next[2] = {0, 0}, total = 0;
	struct netmap_ring *ring = NETMAP_RXRING(rx.nifp, 0);
	while (total < 2 * count) {
		struct pollfd pfd = {.fd = rx.fd, .events = POLLIN};
		CHECK(poll(&pfd, 1, 5000) == 1, "received %u of %u", total, 2 * count);
		while (ring->cur != ring->tail) {
			const char *buf = NETMAP_BUF(ring, ring->slot[ring->cur].buf_idx);
			int t = buf[11] - 1;
			CHECK(t == 0 || t == 1, "frame from thread %d", t);
			CHECK(frame_seq(buf) == next[t], "thread %d: got %u expected %u", t,
			      frame_seq(buf), next[t]);
			next[t]++;
			total++;
			ring->head = ring->cur = nm_ring_next(ring, ring->cur);
		}
	}
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	printf("threads ok %u %u\n", next[0], next[1]);
	return 0;
}
