/*
 * monitor SWITCH COUNT: netmap's copy monitors through register flags.
 * Ports a and b of SWITCH; a monitor of b's RX (NR_MONITOR_RX), one of
 * a's TX (NR_MONITOR_TX) and one of a's both sides (both flags). a
 * sends COUNT frames to b; b receives them all; each monitor, woken by
 * poll, sees every frame once, in order, flagged NS_TXMON when it comes
 * from a TX ring. Then netmap's errors: NR_ZCOPY_MON without a direction
 * is EINVAL, a monitor of a port that does not exist is ENXIO.
 */
#include "nmtest.h"

/* Reads what a monitor holds; checks order and the NS_TXMON flag. */
static void drain_monitor(struct port *p, const char *what, uint32_t *seen, int txmon)
{
	struct netmap_ring *rx = NETMAP_RXRING(p->nifp, 0);
	uint32_t cur = rx->cur;
	while (cur != rx->tail) {
		struct netmap_slot *slot = &rx->slot[cur];
		CHECK(slot->len == 60, "%s: len %u", what, slot->len);
		CHECK(!!(slot->flags & NS_TXMON) == txmon, "%s: flags 0x%x", what, slot->flags);
		uint32_t seq = frame_seq(NETMAP_BUF(rx, slot->buf_idx));
		CHECK(seq == *seen, "%s: got %u expected %u", what, seq, *seen);
		(*seen)++;
		cur = nm_ring_next(rx, cur);
	}
	rx->head = rx->cur = cur;
}

int main(int argc, char **argv)
{
	CHECK(argc == 3, "usage: monitor SWITCH COUNT");
	uint32_t count = (uint32_t)strtoul(argv[2], NULL, 0);
	char aname[64], bname[64];
	snprintf(aname, sizeof(aname), "%s:a", argv[1]);
	snprintf(bname, sizeof(bname), "%s:b", argv[1]);
	struct port a, b, mon_rx, mon_tx, mon_rt;
	port_open(&a, aname);
	port_open(&b, bname);
	memset(&mon_rx.reg, 0, sizeof(mon_rx.reg));
	errno = port_register(&mon_rx, bname, NR_REG_ALL_NIC, 0, NR_MONITOR_RX);
	CHECK(errno == 0, "register %s with NR_MONITOR_RX", bname);
	port_map(&mon_rx, NULL);
	memset(&mon_tx.reg, 0, sizeof(mon_tx.reg));
	errno = port_register(&mon_tx, aname, NR_REG_ALL_NIC, 0, NR_MONITOR_TX);
	CHECK(errno == 0, "register %s with NR_MONITOR_TX", aname);
	port_map(&mon_tx, NULL);
	memset(&mon_rt.reg, 0, sizeof(mon_rt.reg));
	errno = port_register(&mon_rt, aname, NR_REG_ALL_NIC, 0, NR_MONITOR_TX | NR_MONITOR_RX);
	CHECK(errno == 0, "register %s with NR_MONITOR_TX | NR_MONITOR_RX", aname);
	port_map(&mon_rt, NULL);
	CHECK(mon_rx.reg.nr_rx_rings >= 1, "a monitor has rx rings");

	struct netmap_ring *tx = NETMAP_TXRING(a.nifp, 0);
	struct netmap_ring *brx = NETMAP_RXRING(b.nifp, 0);
	uint32_t sent = 0, got_b = 0, got_rx = 0, got_tx = 0, got_rt = 0;
	double deadline = now_ms() + 20000;
	while (got_b < count || got_rx < count || got_tx < count || got_rt < count) {
		CHECK(now_ms() < deadline, "stuck: sent %u b %u rx-mon %u tx-mon %u rt-mon %u",
		      sent, got_b, got_rx, got_tx, got_rt);
		/* A small batch at a time: the monitors' rings never overflow. */
		if (sent < count && sent - got_rx < 256 && sent - got_tx < 256 && sent - got_rt < 256) {
			uint32_t batch = 64;
			while (batch-- > 0 && sent < count && nm_ring_space(tx) > 0) {
				struct netmap_slot *slot = &tx->slot[tx->cur];
				make_frame(NETMAP_BUF(tx, slot->buf_idx), sent++, 1);
				slot->len = 60;
				tx->head = tx->cur = nm_ring_next(tx, tx->cur);
			}
			CHECK(ioctl(a.fd, NIOCTXSYNC, NULL) == 0, "txsync");
		}
		struct pollfd pfd[4] = {
			{.fd = b.fd, .events = POLLIN},
			{.fd = mon_rx.fd, .events = POLLIN},
			{.fd = mon_tx.fd, .events = POLLIN},
			{.fd = mon_rt.fd, .events = POLLIN},
		};
		int n = poll(pfd, 4, 2000);
		CHECK(n > 0, "poll returned %d", n);
		uint32_t cur = brx->cur;
		while (cur != brx->tail) {
			got_b++;
			cur = nm_ring_next(brx, cur);
		}
		brx->head = brx->cur = cur;
		drain_monitor(&mon_rx, "rx monitor of b", &got_rx, 0);
		drain_monitor(&mon_tx, "tx monitor of a", &got_tx, 1);
		/* a receives nothing (b sends nothing): a/rt sees a's TX only. */
		drain_monitor(&mon_rt, "rt monitor of a", &got_rt, 1);
	}
	CHECK(got_b == count, "b got %u of %u", got_b, count);

	struct port bad;
	memset(&bad.reg, 0, sizeof(bad.reg));
	int e = port_register(&bad, bname, NR_REG_ALL_NIC, 0, NR_ZCOPY_MON);
	CHECK(e == EINVAL, "NR_ZCOPY_MON alone: errno %d, expected EINVAL", e);
	char nobody[64];
	snprintf(nobody, sizeof(nobody), "%s:nobody", argv[1]);
	memset(&bad.reg, 0, sizeof(bad.reg));
	e = port_register(&bad, nobody, NR_REG_ALL_NIC, 0, NR_MONITOR_RX);
	CHECK(e == ENXIO, "monitor of a missing port: errno %d, expected ENXIO", e);

	port_close(&mon_rt, 1);
	port_close(&mon_tx, 1);
	port_close(&mon_rx, 1);
	port_close(&b, 1);
	port_close(&a, 1);
	printf("monitor ok %u\n", count);
	return 0;
}
