/*
 * zc_bridge NAME COUNT: netmap's zero-copy bridge pattern over pipes of one
 * memory. A sender on NAME{1, a bridge between NAME}1 and NAME{2 that
 * swaps buffers from its RX slots into its TX slots (NS_BUF_CHANGED on
 * both) when its two ports share a mapping (one nr_mem_id), and copies
 * otherwise, exactly as netmap's bridge decides; a receiver on NAME}2.
 * Checks that every frame arrives in order and, in zero-copy mode, that
 * the receiver gets the very buffers the sender filled (no copy anywhere).
 * Prints "bridge ok N zerocopy" or "bridge ok N copy".
 */
#include "nmtest.h"

static void open_on(struct port *p, const char *fmt, const char *base, struct port *first)
{
	char name[64];
	snprintf(name, sizeof(name), fmt, base);
	memset(&p->reg, 0, sizeof(p->reg));
	p->reg.nr_mem_id = first ? first->reg.nr_mem_id : 0;
	errno = port_register(p, name, NR_REG_ALL_NIC, 0, 0);
	CHECK(errno == 0, "register %s", name);
	/* One mapping per allocator, as libnetmap. */
	int shared = first && p->reg.nr_mem_id == first->reg.nr_mem_id;
	port_map(p, shared ? first->mem : NULL);
}

int main(int argc, char **argv)
{
	CHECK(argc == 3, "usage: zc_bridge NAME COUNT");
	uint32_t count = (uint32_t)strtoul(argv[2], NULL, 0);
	struct port s, ba, bb, r;
	open_on(&s, "%s{1", argv[1], NULL);
	open_on(&ba, "%s}1", argv[1], &s);
	open_on(&bb, "%s{2", argv[1], &s);
	open_on(&r, "%s}2", argv[1], &bb);
	int zerocopy = ba.mem == bb.mem;
	struct netmap_ring *stx = NETMAP_TXRING(s.nifp, 0);
	struct netmap_ring *arx = NETMAP_RXRING(ba.nifp, 0);
	struct netmap_ring *btx = NETMAP_TXRING(bb.nifp, 0);
	struct netmap_ring *rrx = NETMAP_RXRING(r.nifp, 0);
	/* Which buffer carried which frame, as the sender filled it. */
	uint32_t *sent_buf = calloc(count, sizeof(uint32_t));
	CHECK(sent_buf, "calloc");
	uint32_t sent = 0, swapped = 0, received = 0;
	double deadline = now_ms() + 30000;
	while (received < count) {
		CHECK(now_ms() < deadline, "stuck: sent %u swapped %u received %u", sent, swapped,
		      received);
		struct pollfd pfd[4] = {
			{.fd = s.fd, .events = sent < count ? POLLOUT : 0},
			{.fd = ba.fd, .events = POLLIN},
			{.fd = bb.fd, .events = POLLOUT},
			{.fd = r.fd, .events = POLLIN},
		};
		CHECK(poll(pfd, 4, 2000) > 0, "poll timed out");
		/* sender */
		while (sent < count && nm_ring_space(stx) > 0) {
			struct netmap_slot *slot = &stx->slot[stx->cur];
			make_frame(NETMAP_BUF(stx, slot->buf_idx), sent, 1);
			slot->len = 60;
			sent_buf[sent++] = slot->buf_idx;
			stx->head = stx->cur = nm_ring_next(stx, stx->cur);
		}
		/* bridge: swap, as netmap's bridge does with a shared mapping */
		uint32_t n = nm_ring_space(arx);
		if (nm_ring_space(btx) < n)
			n = nm_ring_space(btx);
		for (; n > 0; n--) {
			struct netmap_slot *rs = &arx->slot[arx->cur];
			struct netmap_slot *ts = &btx->slot[btx->cur];
			if (zerocopy) {
				uint32_t tmp = ts->buf_idx;
				ts->buf_idx = rs->buf_idx;
				rs->buf_idx = tmp;
				ts->flags |= NS_BUF_CHANGED;
				rs->flags |= NS_BUF_CHANGED;
			} else {
				memcpy(NETMAP_BUF(btx, ts->buf_idx), NETMAP_BUF(arx, rs->buf_idx),
				       rs->len);
			}
			ts->len = rs->len;
			arx->head = arx->cur = nm_ring_next(arx, arx->cur);
			btx->head = btx->cur = nm_ring_next(btx, btx->cur);
			swapped++;
		}
		/* receiver */
		while (rrx->cur != rrx->tail) {
			struct netmap_slot *slot = &rrx->slot[rrx->cur];
			uint32_t seq = frame_seq(NETMAP_BUF(rrx, slot->buf_idx));
			CHECK(seq == received, "got %u expected %u", seq, received);
			CHECK(!zerocopy || slot->buf_idx == sent_buf[seq],
			      "frame %u copied: buffer %u, sent in %u", seq, slot->buf_idx, sent_buf[seq]);
			received++;
			rrx->head = rrx->cur = nm_ring_next(rrx, rrx->cur);
		}
	}
	printf("bridge ok %u %s\n", received, zerocopy ? "zerocopy" : "copy");
	close(s.fd);
	close(ba.fd);
	close(bb.fd);
	close(r.fd);
	munmap(s.mem, s.reg.nr_memsize);
	if (!zerocopy)
		munmap(bb.mem, bb.reg.nr_memsize);
	return 0;
}
