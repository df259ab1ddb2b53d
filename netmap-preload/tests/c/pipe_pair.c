/*
 * pipe_pair NAME COUNT: opens both ends of pipe NAME{1 / NAME}1 in this
 * process, as libnetmap would (one mapping for the shared nr_mem_id),
 * moves COUNT frames master -> slave with poll and checks the pipe is
 * lossless, in order and zero-copy (the slave receives the very buffers
 * the master sent); then a few frames slave -> master, and a dup'd
 * descriptor that outlives the original.
 */
#include "nmtest.h"

static void send_one(struct netmap_ring *tx, uint32_t seq, uint8_t src)
{
	uint32_t cur = tx->cur;
	struct netmap_slot *slot = &tx->slot[cur];
	make_frame(NETMAP_BUF(tx, slot->buf_idx), seq, src);
	slot->len = 60;
	tx->head = tx->cur = nm_ring_next(tx, cur);
}

int main(int argc, char **argv)
{
	CHECK(argc == 3, "usage: pipe_pair NAME COUNT");
	uint32_t count = (uint32_t)strtoul(argv[2], NULL, 0);
	char mname[64], sname[64];
	snprintf(mname, sizeof(mname), "%s{1", argv[1]);
	snprintf(sname, sizeof(sname), "%s}1", argv[1]);
	struct port m, s;
	port_open(&m, mname);
	memset(&s.reg, 0, sizeof(s.reg));
	s.reg.nr_mem_id = m.reg.nr_mem_id;
	errno = port_register(&s, sname, NR_REG_ALL_NIC, 0, 0);
	CHECK(errno == 0, "register %s", sname);
	CHECK(s.reg.nr_mem_id == m.reg.nr_mem_id, "pipe ends in different memories: %u %u",
	      m.reg.nr_mem_id, s.reg.nr_mem_id);
	CHECK(s.reg.nr_memsize == m.reg.nr_memsize, "memsize differs");
	CHECK(s.reg.nr_offset != m.reg.nr_offset, "both ends have one netmap_if");
	port_map(&s, m.mem); /* one mapping per allocator, as libnetmap */

	struct netmap_ring *tx = NETMAP_TXRING(m.nifp, 0);
	struct netmap_ring *rx = NETMAP_RXRING(s.nifp, 0);
	uint32_t first_buf = tx->slot[tx->cur].buf_idx;
	uint32_t sent = 0, received = 0;
	int checked_zero_copy = 0;
	double deadline = now_ms() + 20000;
	while (received < count) {
		CHECK(now_ms() < deadline, "stuck at sent %u received %u", sent, received);
		struct pollfd pfd[2] = {
			{.fd = m.fd, .events = sent < count ? POLLOUT : 0},
			{.fd = s.fd, .events = POLLIN},
		};
		int n = poll(pfd, 2, 2000);
		CHECK(n > 0, "poll returned %d", n);
		if (pfd[0].revents & POLLOUT) {
			uint32_t space = nm_ring_space(tx);
			while (space-- > 0 && sent < count)
				send_one(tx, sent++, 1);
		}
		if (pfd[1].revents & POLLIN) {
			uint32_t cur = rx->cur;
			while (cur != rx->tail) {
				struct netmap_slot *slot = &rx->slot[cur];
				if (!checked_zero_copy) {
					CHECK(slot->buf_idx == first_buf,
					      "not zero copy: sent buffer %u, received %u", first_buf,
					      slot->buf_idx);
					checked_zero_copy = 1;
				}
				CHECK(slot->len == 60, "len %u", slot->len);
				uint32_t seq = frame_seq(NETMAP_BUF(rx, slot->buf_idx));
				CHECK(seq == received, "got %u expected %u", seq, received);
				received++;
				cur = nm_ring_next(rx, cur);
			}
			rx->head = rx->cur = cur;
		}
	}
	CHECK(sent == count && received == count, "sent %u received %u", sent, received);

	/* The other way, with the ioctls instead of poll. */
	struct netmap_ring *stx = NETMAP_TXRING(s.nifp, 0);
	struct netmap_ring *mrx = NETMAP_RXRING(m.nifp, 0);
	for (uint32_t i = 0; i < 10; i++)
		send_one(stx, 1000 + i, 2);
	CHECK(ioctl(s.fd, NIOCTXSYNC, NULL) == 0, "NIOCTXSYNC");
	CHECK(ioctl(m.fd, NIOCRXSYNC, NULL) == 0, "NIOCRXSYNC");
	CHECK(nm_ring_space(mrx) == 10, "master received %u of 10", nm_ring_space(mrx));
	CHECK(frame_seq(NETMAP_BUF(mrx, mrx->slot[mrx->cur].buf_idx)) == 1000, "reverse payload");
	mrx->head = mrx->cur = mrx->tail;

	/* A dup'd descriptor keeps the binding after the original is closed. */
	int d = dup(m.fd);
	CHECK(d >= 0, "dup");
	close(m.fd);
	send_one(tx, 7, 1);
	CHECK(ioctl(d, NIOCTXSYNC, NULL) == 0, "NIOCTXSYNC on the dup");
	CHECK(ioctl(s.fd, NIOCRXSYNC, NULL) == 0, "NIOCRXSYNC");
	CHECK(nm_ring_space(rx) == 1, "frame through the dup'd descriptor");
	int d2 = fcntl(d, F_DUPFD_CLOEXEC, 100);
	CHECK(d2 >= 100, "F_DUPFD_CLOEXEC");
	close(d);
	CHECK(ioctl(d2, NIOCTXSYNC, NULL) == 0, "NIOCTXSYNC on the F_DUPFD copy");
	close(d2);
	CHECK(ioctl(d2, NIOCTXSYNC, NULL) < 0 && errno == EBADF, "closed descriptor is EBADF");
	munmap(m.mem, m.reg.nr_memsize);
	close(s.fd);
	printf("pipe ok %u\n", received);
	return 0;
}
