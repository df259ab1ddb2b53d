/*
 * fd_pass NAME COUNT: a registered netmap descriptor passed to another
 * process over a UNIX socket (SCM_RIGHTS), as netmap's fd_server does. The
 * parent registers pipe end NAME{1 and sends the descriptor, with its
 * nr_memsize and nr_offset, to a child that has never opened /dev/netmap;
 * the child polls it at once (before any other call), maps it and sends
 * COUNT frames through it with poll(POLLOUT); the parent receives them on
 * NAME}1 with poll(POLLIN).
 */
#include "nmtest.h"

#include <sys/socket.h>
#include <sys/wait.h>

struct info {
	uint64_t memsize, offset;
};

static int child_main(int sock, uint32_t count)
{
	struct info info;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &info, .iov_len = sizeof(info)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	CHECK(recvmsg(sock, &msg, 0) == sizeof(info), "recvmsg");
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	CHECK(c && c->cmsg_type == SCM_RIGHTS, "no descriptor received");
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	/* Known from the start: poll works before any other call. */
	struct pollfd first = {.fd = fd, .events = POLLOUT};
	CHECK(poll(&first, 1, 1000) == 1 && (first.revents & POLLOUT),
	      "first poll of the received descriptor: revents %#x", first.revents);
	void *mem = mmap(NULL, info.memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(mem != MAP_FAILED, "mmap of the received descriptor");
	struct netmap_if *nifp = NETMAP_IF(mem, info.offset);
	struct netmap_ring *tx = NETMAP_TXRING(nifp, 0);
	for (uint32_t sent = 0; sent < count;) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		CHECK(poll(&pfd, 1, 2000) == 1 && (pfd.revents & POLLOUT), "poll POLLOUT");
		while (sent < count && nm_ring_space(tx) > 0) {
			struct netmap_slot *slot = &tx->slot[tx->cur];
			make_frame(NETMAP_BUF(tx, slot->buf_idx), sent++, 1);
			slot->len = 60;
			tx->head = tx->cur = nm_ring_next(tx, tx->cur);
		}
	}
	CHECK(ioctl(fd, NIOCTXSYNC, NULL) == 0, "NIOCTXSYNC on the received descriptor");
	printf("child sent %u\n", count);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	CHECK(argc == 3, "usage: fd_pass NAME COUNT");
	uint32_t count = (uint32_t)strtoul(argv[2], NULL, 0);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	fflush(stdout);
	pid_t child = fork(); /* before any netmap call: the child knows nothing */
	CHECK(child >= 0, "fork");
	if (child == 0) {
		close(sv[0]);
		fflush(stdout);
		_exit(child_main(sv[1], count));
	}
	close(sv[1]);
	char mname[64], sname[64];
	snprintf(mname, sizeof(mname), "%s{1", argv[1]);
	snprintf(sname, sizeof(sname), "%s}1", argv[1]);
	struct port m, s;
	memset(&m.reg, 0, sizeof(m.reg));
	errno = port_register(&m, mname, NR_REG_ALL_NIC, 0, 0);
	CHECK(errno == 0, "register %s", mname);
	port_open(&s, sname);

	struct info info = {.memsize = m.reg.nr_memsize, .offset = m.reg.nr_offset};
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = {.iov_base = &info, .iov_len = sizeof(info)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &m.fd, sizeof(int));
	CHECK(sendmsg(sv[0], &msg, 0) == sizeof(info), "sendmsg");

	struct netmap_ring *rx = NETMAP_RXRING(s.nifp, 0);
	uint32_t received = 0;
	while (received < count) {
		struct pollfd pfd = {.fd = s.fd, .events = POLLIN};
		CHECK(poll(&pfd, 1, 5000) == 1, "poll POLLIN: %u of %u", received, count);
		while (rx->cur != rx->tail) {
			uint32_t seq = frame_seq(NETMAP_BUF(rx, rx->slot[rx->cur].buf_idx));
			CHECK(seq == received, "got %u expected %u", seq, received);
			received++;
			rx->head = rx->cur = nm_ring_next(rx, rx->cur);
		}
	}
	int status;
	CHECK(waitpid(child, &status, 0) == child, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (%#x)", status);
	printf("fd_pass ok %u\n", received);
	return 0;
}
