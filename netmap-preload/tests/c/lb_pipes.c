/*
 * lb_pipes SWITCH BASE COUNT: netmap's lb pattern. An input port
 * SWITCH:in registered with extra buffers (claimed from ni_bufs_head), two
 * output pipes BASE{0 and BASE{1 registered with the input's nr_mem_id
 * (NR_EXCLUSIVE | NR_TX_RINGS_ONLY) and required to share its memory, as
 * lb requires for zero-copy; consumers on BASE}0 and BASE}1 that know
 * nothing of the input (no nr_mem_id) in a forked child. A sender on
 * SWITCH:src sends COUNT frames (fewer than the input ring holds); the
 * balancer swaps each input buffer into the TX slot of output seq % 2.
 * The consumers check they got every frame of their half, in order, and
 * the extra buffers go back to ni_bufs_head at the end.
 */
#include "nmtest.h"

#include <sys/wait.h>

static void reg(struct port *p, const char *name, uint64_t flags, uint16_t mem_id, uint32_t extra)
{
	memset(&p->reg, 0, sizeof(p->reg));
	p->reg.nr_mem_id = mem_id;
	p->reg.nr_extra_bufs = extra;
	errno = port_register(p, name, NR_REG_ALL_NIC, 0, flags);
	CHECK(errno == 0, "register %s", name);
}

/* Consumer of BASE}k: counts frames of parity k until it has `want`. */
static int consume(const char *base, int k, uint32_t want)
{
	char name[64];
	snprintf(name, sizeof(name), "%s}%d", base, k);
	struct port c;
	reg(&c, name, 0, 0, 0);
	port_map(&c, NULL);
	printf("consumer %d ready\n", k);
	fflush(stdout);
	struct netmap_ring *rx = NETMAP_RXRING(c.nifp, 0);
	uint32_t got = 0, expect = (uint32_t)k;
	while (got < want) {
		struct pollfd pfd = {.fd = c.fd, .events = POLLIN};
		CHECK(poll(&pfd, 1, 5000) == 1, "consumer %d: %u of %u", k, got, want);
		while (rx->cur != rx->tail) {
			uint32_t seq = frame_seq(NETMAP_BUF(rx, rx->slot[rx->cur].buf_idx));
			CHECK(seq == expect, "consumer %d: got %u expected %u", k, seq, expect);
			expect += 2;
			got++;
			rx->head = rx->cur = nm_ring_next(rx, rx->cur);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	CHECK(argc == 4, "usage: lb_pipes SWITCH BASE COUNT");
	const char *sw = argv[1], *base = argv[2];
	uint32_t count = (uint32_t)strtoul(argv[3], NULL, 0);
	char name[64];

	struct port in, src, out[2];
	snprintf(name, sizeof(name), "%s:in", sw);
	reg(&in, name, 0, 0, 64);
	port_map(&in, NULL);
	CHECK(in.reg.nr_extra_bufs == 64, "extra buffers granted: %u", in.reg.nr_extra_bufs);
	/* Claim the extra buffers, as lb does. */
	uint32_t nextra = 0, head = in.nifp->ni_bufs_head;
	struct netmap_ring *inrx = NETMAP_RXRING(in.nifp, 0);
	for (uint32_t b = head; b != 0; b = *(uint32_t *)(void *)NETMAP_BUF(inrx, b))
		nextra++;
	CHECK(nextra == 64, "ni_bufs_head lists %u buffers", nextra);
	in.nifp->ni_bufs_head = 0;

	for (int k = 0; k < 2; k++) {
		snprintf(name, sizeof(name), "%s{%d", base, k);
		reg(&out[k], name, NR_EXCLUSIVE | NR_TX_RINGS_ONLY, in.reg.nr_mem_id, 0);
		CHECK(out[k].reg.nr_mem_id == in.reg.nr_mem_id,
		      "failed to open pipe %s in zero-copy mode (mem_id %u, input %u)", name,
		      out[k].reg.nr_mem_id, in.reg.nr_mem_id);
		port_map(&out[k], in.mem);
	}

	fflush(stdout);
	pid_t child[2];
	for (int k = 0; k < 2; k++) {
		child[k] = fork();
		CHECK(child[k] >= 0, "fork");
		if (child[k] == 0)
			_exit(consume(base, k, count / 2 + (k == 0 ? count % 2 : 0)));
	}
	usleep(300 * 1000); /* the consumers register */

	snprintf(name, sizeof(name), "%s:src", sw);
	port_open(&src, name);
	struct netmap_ring *stx = NETMAP_TXRING(src.nifp, 0);
	CHECK(count < inrx->num_slots && count < stx->num_slots, "count must fit the rings");
	for (uint32_t i = 0; i < count; i++) {
		struct netmap_slot *slot = &stx->slot[stx->cur];
		make_frame(NETMAP_BUF(stx, slot->buf_idx), i, 1);
		slot->len = 60;
		stx->head = stx->cur = nm_ring_next(stx, stx->cur);
	}
	CHECK(ioctl(src.fd, NIOCTXSYNC, NULL) == 0, "NIOCTXSYNC");

	uint32_t moved = 0;
	double deadline = now_ms() + 20000;
	while (moved < count) {
		CHECK(now_ms() < deadline, "balancer moved %u of %u", moved, count);
		struct pollfd pfd[3] = {
			{.fd = in.fd, .events = POLLIN},
			{.fd = out[0].fd, .events = POLLOUT},
			{.fd = out[1].fd, .events = POLLOUT},
		};
		CHECK(poll(pfd, 3, 2000) > 0, "poll");
		while (inrx->cur != inrx->tail) {
			struct netmap_slot *rs = &inrx->slot[inrx->cur];
			uint32_t seq = frame_seq(NETMAP_BUF(inrx, rs->buf_idx));
			struct netmap_ring *tx = NETMAP_TXRING(out[seq % 2].nifp, 0);
			if (nm_ring_space(tx) == 0)
				break;
			struct netmap_slot *ts = &tx->slot[tx->cur];
			uint32_t tmp = ts->buf_idx;
			ts->buf_idx = rs->buf_idx;
			ts->len = rs->len;
			ts->flags |= NS_BUF_CHANGED;
			rs->buf_idx = tmp;
			rs->flags |= NS_BUF_CHANGED;
			tx->head = tx->cur = nm_ring_next(tx, tx->cur);
			inrx->head = inrx->cur = nm_ring_next(inrx, inrx->cur);
			moved++;
		}
		CHECK(ioctl(in.fd, NIOCRXSYNC, NULL) == 0, "NIOCRXSYNC");
		for (int k = 0; k < 2; k++)
			CHECK(ioctl(out[k].fd, NIOCTXSYNC, NULL) == 0, "NIOCTXSYNC out %d", k);
	}
	for (int k = 0; k < 2; k++) {
		int status;
		CHECK(waitpid(child[k], &status, 0) == child[k], "waitpid");
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "consumer %d failed", k);
	}
	in.nifp->ni_bufs_head = head; /* give the extra buffers back */
	printf("lb ok %u\n", moved);
	return 0;
}
