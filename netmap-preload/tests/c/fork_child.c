/*
 * fork_child NAME COUNT: descriptors and mappings survive fork, as with
 * netmap's kernel module. The parent binds both ends of pipe NAME{1 /
 * NAME}1 and maps their memory once; a forked child sends COUNT frames
 * (COUNT < the ring size: the pipe is lossless and nobody reads yet)
 * through the inherited descriptor and mapping, closes a dup of it, and
 * exits; the parent then receives them all, and still sends on the same
 * descriptor (the child's close and exit did not end the binding).
 */
#include "nmtest.h"

#include <sys/wait.h>

static void send_frames(struct port *p, uint32_t first, uint32_t count)
{
	struct netmap_ring *tx = NETMAP_TXRING(p->nifp, 0);
	for (uint32_t i = 0; i < count; i++) {
		struct pollfd pfd = {.fd = p->fd, .events = POLLOUT};
		CHECK(poll(&pfd, 1, 2000) == 1, "poll POLLOUT");
		struct netmap_slot *slot = &tx->slot[tx->cur];
		make_frame(NETMAP_BUF(tx, slot->buf_idx), first + i, 1);
		slot->len = 60;
		tx->head = tx->cur = nm_ring_next(tx, tx->cur);
	}
	CHECK(ioctl(p->fd, NIOCTXSYNC, NULL) == 0, "NIOCTXSYNC");
}

static uint32_t receive(struct port *p, uint32_t first)
{
	struct netmap_ring *rx = NETMAP_RXRING(p->nifp, 0);
	CHECK(ioctl(p->fd, NIOCRXSYNC, NULL) == 0, "NIOCRXSYNC");
	uint32_t n = 0;
	while (rx->cur != rx->tail) {
		uint32_t seq = frame_seq(NETMAP_BUF(rx, rx->slot[rx->cur].buf_idx));
		CHECK(seq == first + n, "got %u expected %u", seq, first + n);
		n++;
		rx->head = rx->cur = nm_ring_next(rx, rx->cur);
	}
	return n;
}

int main(int argc, char **argv)
{
	CHECK(argc == 3, "usage: fork_child NAME COUNT");
	uint32_t count = (uint32_t)strtoul(argv[2], NULL, 0);
	char mname[64], sname[64];
	snprintf(mname, sizeof(mname), "%s{1", argv[1]);
	snprintf(sname, sizeof(sname), "%s}1", argv[1]);
	struct port m, s;
	port_open(&m, mname);
	memset(&s.reg, 0, sizeof(s.reg));
	errno = port_register(&s, sname, NR_REG_ALL_NIC, 0, 0);
	CHECK(errno == 0, "register %s", sname);
	port_map(&s, s.reg.nr_mem_id == m.reg.nr_mem_id ? m.mem : NULL);
	CHECK(count < m.reg.nr_tx_slots, "count must fit the ring");

	fflush(stdout);
	pid_t child = fork();
	CHECK(child >= 0, "fork");
	if (child == 0) {
		send_frames(&m, 0, count);
		int d = dup(m.fd);
		CHECK(d >= 0, "dup in the child");
		close(d);
		_exit(0);
	}
	int status;
	CHECK(waitpid(child, &status, 0) == child, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	uint32_t got = receive(&s, 0);
	CHECK(got == count, "received %u of the child's %u", got, count);
	send_frames(&m, count, 5);
	got = receive(&s, count);
	CHECK(got == 5, "received %u of the parent's 5 after the child exited", got);
	printf("fork ok %u\n", count);
	return 0;
}
