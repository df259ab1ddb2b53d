/*
 * poll_wake SWITCH: poll blocks until traffic and wakes on it.
 *  1. poll(POLLIN) on an idle port times out after its timeout, returning 0;
 *  2. a thread sends a frame after 300 ms: a poll(POLLIN, 5 s) on the
 *     receiving port blocks about that long and returns POLLIN;
 *  3. a netmap descriptor mixed with a pipe(2): the pipe's data wakes the
 *     poll, the netmap entry reports nothing;
 *  4. ppoll works the same way;
 *  5. a signal interrupts a poll with no timeout (EINTR);
 *  6. select and pselect: a netmap descriptor in the read set, woken by
 *     traffic; in the write set, ready at once; an idle one times out;
 *  7. epoll: an idle netmap descriptor times out, traffic wakes it with
 *     the application's data, a pipe in the same set is reported as
 *     itself, EEXIST/ENOENT as the kernel, DEL removes it.
 */
#include "nmtest.h"

#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>

static struct port tx, rx;
static int wake_pipe[2];

static void *send_later(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	struct netmap_ring *ring = NETMAP_TXRING(tx.nifp, 0);
	struct netmap_slot *slot = &ring->slot[ring->cur];
	make_frame(NETMAP_BUF(ring, slot->buf_idx), 42, 1);
	slot->len = 60;
	ring->head = ring->cur = nm_ring_next(ring, ring->cur);
	CHECK(ioctl(tx.fd, NIOCTXSYNC, NULL) == 0, "NIOCTXSYNC");
	return NULL;
}

static void *write_later(void *arg)
{
	(void)arg;
	usleep(200 * 1000);
	CHECK(write(wake_pipe[1], "x", 1) == 1, "write");
	return NULL;
}

static void on_alarm(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	CHECK(argc == 2, "usage: poll_wake SWITCH");
	char a[64], b[64];
	snprintf(a, sizeof(a), "%s:a", argv[1]);
	snprintf(b, sizeof(b), "%s:b", argv[1]);
	port_open(&tx, a);
	port_open(&rx, b);
	struct netmap_ring *ring = NETMAP_RXRING(rx.nifp, 0);

	/* 1. timeout */
	struct pollfd pfd = {.fd = rx.fd, .events = POLLIN};
	double t0 = now_ms();
	int n = poll(&pfd, 1, 200);
	double took = now_ms() - t0;
	CHECK(n == 0 && pfd.revents == 0, "idle poll returned %d revents %#x", n, pfd.revents);
	CHECK(took >= 180 && took < 2000, "idle poll took %.0f ms", took);
	printf("ok timeout %.0f ms\n", took);

	/* 2. woken by traffic from another thread */
	pthread_t th;
	pthread_create(&th, NULL, send_later, NULL);
	t0 = now_ms();
	n = poll(&pfd, 1, 5000);
	took = now_ms() - t0;
	CHECK(n == 1 && (pfd.revents & POLLIN), "poll returned %d revents %#x", n, pfd.revents);
	CHECK(took >= 250 && took < 4000, "woke after %.0f ms", took);
	CHECK(ring->cur != ring->tail, "rx ring has the frame");
	CHECK(frame_seq(NETMAP_BUF(ring, ring->slot[ring->cur].buf_idx)) == 42, "payload");
	ring->head = ring->cur = ring->tail;
	pthread_join(th, NULL);
	printf("ok woken after %.0f ms\n", took);

	/* 3. mixed with a pipe */
	CHECK(pipe(wake_pipe) == 0, "pipe");
	pthread_create(&th, NULL, write_later, NULL);
	struct pollfd two[2] = {{.fd = rx.fd, .events = POLLIN}, {.fd = wake_pipe[0], .events = POLLIN}};
	t0 = now_ms();
	n = poll(two, 2, 5000);
	took = now_ms() - t0;
	CHECK(n == 1 && two[0].revents == 0 && (two[1].revents & POLLIN),
	      "mixed poll returned %d revents %#x %#x", n, two[0].revents, two[1].revents);
	CHECK(took >= 150 && took < 4000, "mixed poll woke after %.0f ms", took);
	pthread_join(th, NULL);
	printf("ok mixed after %.0f ms\n", took);

	/* 4. ppoll, and POLLOUT is ready at once on an empty tx ring */
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
	struct pollfd out = {.fd = tx.fd, .events = POLLOUT};
	n = ppoll(&out, 1, &ts, NULL);
	CHECK(n == 1 && (out.revents & POLLOUT), "ppoll POLLOUT returned %d revents %#x", n,
	      out.revents);
	pthread_create(&th, NULL, send_later, NULL);
	ts.tv_sec = 5;
	t0 = now_ms();
	n = ppoll(&pfd, 1, &ts, NULL);
	took = now_ms() - t0;
	CHECK(n == 1 && (pfd.revents & POLLIN), "ppoll returned %d", n);
	pthread_join(th, NULL);
	printf("ok ppoll after %.0f ms\n", took);

	/* 5. a signal interrupts an infinite poll */
	ring->head = ring->cur = ring->tail;
	CHECK(ioctl(rx.fd, NIOCRXSYNC, NULL) == 0, "NIOCRXSYNC");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	pfd.revents = 0;
	t0 = now_ms();
	n = poll(&pfd, 1, -1);
	took = now_ms() - t0;
	CHECK(n == -1 && errno == EINTR, "poll returned %d after a signal", n);
	printf("ok EINTR after %.0f ms\n", took);

	/* 6. select */
	fd_set rd, wr;
	FD_ZERO(&rd);
	FD_SET(rx.fd, &rd);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200 * 1000};
	t0 = now_ms();
	n = select(rx.fd + 1, &rd, NULL, NULL, &tv);
	took = now_ms() - t0;
	CHECK(n == 0 && !FD_ISSET(rx.fd, &rd), "idle select returned %d", n);
	CHECK(took >= 180, "idle select took %.0f ms", took);
	pthread_create(&th, NULL, send_later, NULL);
	FD_ZERO(&rd);
	FD_SET(rx.fd, &rd);
	FD_SET(wake_pipe[0], &rd); /* drained above: not readable */
	char sink;
	CHECK(read(wake_pipe[0], &sink, 1) == 1, "drain the pipe");
	tv.tv_sec = 5;
	tv.tv_usec = 0;
	int maxfd = rx.fd > wake_pipe[0] ? rx.fd : wake_pipe[0];
	t0 = now_ms();
	n = select(maxfd + 1, &rd, NULL, NULL, &tv);
	took = now_ms() - t0;
	CHECK(n == 1 && FD_ISSET(rx.fd, &rd) && !FD_ISSET(wake_pipe[0], &rd),
	      "select returned %d", n);
	CHECK(took >= 250 && took < 4000, "select woke after %.0f ms", took);
	pthread_join(th, NULL);
	ring->head = ring->cur = ring->tail;
	FD_ZERO(&wr);
	FD_SET(tx.fd, &wr);
	struct timespec pts = {.tv_sec = 1, .tv_nsec = 0};
	n = pselect(tx.fd + 1, NULL, &wr, NULL, &pts, NULL);
	CHECK(n == 1 && FD_ISSET(tx.fd, &wr), "pselect POLLOUT returned %d", n);
	printf("ok select after %.0f ms\n", took);

	/* 7. epoll */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(ep >= 0, "epoll_create1");
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, rx.fd, &ev) == 0, "EPOLL_CTL_ADD netmap");
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, rx.fd, &ev) < 0 && errno == EEXIST, "EEXIST");
	ev.data.u64 = 7;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, wake_pipe[0], &ev) == 0, "EPOLL_CTL_ADD pipe");
	struct epoll_event got[4];
	t0 = now_ms();
	n = epoll_wait(ep, got, 4, 200);
	took = now_ms() - t0;
	CHECK(n == 0 && took >= 180, "idle epoll_wait returned %d after %.0f ms", n, took);
	pthread_create(&th, NULL, send_later, NULL);
	t0 = now_ms();
	n = epoll_wait(ep, got, 4, 5000);
	took = now_ms() - t0;
	CHECK(n == 1 && got[0].data.u64 == 42 && (got[0].events & EPOLLIN),
	      "epoll_wait returned %d (data %llu)", n, (unsigned long long)got[0].data.u64);
	CHECK(took >= 250 && took < 4000, "epoll woke after %.0f ms", took);
	pthread_join(th, NULL);
	ring->head = ring->cur = ring->tail;
	CHECK(ioctl(rx.fd, NIOCRXSYNC, NULL) == 0, "NIOCRXSYNC");
	pthread_create(&th, NULL, write_later, NULL);
	n = epoll_wait(ep, got, 4, 5000);
	CHECK(n == 1 && got[0].data.u64 == 7, "pipe through epoll: %d", n);
	pthread_join(th, NULL);
	CHECK(read(wake_pipe[0], &sink, 1) == 1, "drain");
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, rx.fd, NULL) == 0, "EPOLL_CTL_DEL");
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, rx.fd, NULL) < 0 && errno == ENOENT, "ENOENT");
	pthread_create(&th, NULL, send_later, NULL);
	n = epoll_wait(ep, got, 4, 600);
	CHECK(n == 0, "a deleted netmap descriptor still reported (%d)", n);
	pthread_join(th, NULL);
	close(ep);
	printf("ok epoll after %.0f ms\n", took);
	port_close(&tx, 1);
	port_close(&rx, 1);
	printf("poll ok\n");
	return 0;
}
