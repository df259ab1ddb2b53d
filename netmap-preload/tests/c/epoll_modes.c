/*
 * epoll_modes SWITCH: the epoll uses of event-loop libraries.
 *  1. a descriptor added to the set before it is registered (libraries add
 *     first, then configure) is woken by traffic once registered;
 *  2. EPOLLET: a frame is reported once; left unread it is not reported
 *     again, a new frame is;
 *  3. EPOLLONESHOT: reported once, then silent until EPOLL_CTL_MOD re-arms
 *     it (and the unread frame is reported at once);
 *  4. epoll_pwait2 with a nanosecond timeout: times out, and is woken by
 *     traffic from another thread.
 */
#include "nmtest.h"

#include <pthread.h>
#include <sys/epoll.h>

static struct port tx, rx;
static uint32_t seq;

static void send_now(void)
{
	struct netmap_ring *ring = NETMAP_TXRING(tx.nifp, 0);
	struct netmap_slot *slot = &ring->slot[ring->cur];
	make_frame(NETMAP_BUF(ring, slot->buf_idx), ++seq, 1);
	slot->len = 60;
	ring->head = ring->cur = nm_ring_next(ring, ring->cur);
	CHECK(ioctl(tx.fd, NIOCTXSYNC, NULL) == 0, "NIOCTXSYNC");
}

static void *send_later(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	send_now();
	return NULL;
}

/* Consumes every received frame; returns how many. */
static unsigned drain(void)
{
	struct netmap_ring *ring = NETMAP_RXRING(rx.nifp, 0);
	CHECK(ioctl(rx.fd, NIOCRXSYNC, NULL) == 0, "NIOCRXSYNC");
	unsigned n = 0;
	while (ring->cur != ring->tail) {
		ring->cur = nm_ring_next(ring, ring->cur);
		n++;
	}
	ring->head = ring->cur;
	CHECK(ioctl(rx.fd, NIOCRXSYNC, NULL) == 0, "NIOCRXSYNC");
	return n;
}

static int wait_ms(int ep, struct epoll_event *got, int ms, double *took)
{
	double t0 = now_ms();
	int n = epoll_wait(ep, got, 4, ms);
	*took = now_ms() - t0;
	return n;
}

int main(int argc, char **argv)
{
	CHECK(argc == 2, "usage: epoll_modes SWITCH");
	char a[64], b[64];
	snprintf(a, sizeof(a), "%s:a", argv[1]);
	snprintf(b, sizeof(b), "%s:b", argv[1]);
	port_open(&tx, a);
	struct epoll_event got[4];
	double took;
	pthread_t th;

	/* 1. added before registration */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(ep >= 0, "epoll_create1");
	rx.fd = open("/dev/netmap", O_RDWR);
	CHECK(rx.fd >= 0, "open /dev/netmap");
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, rx.fd, &ev) == 0, "EPOLL_CTL_ADD before REGISTER");
	struct nmreq_header h;
	memset(&rx.reg, 0, sizeof(rx.reg));
	rx.reg.nr_mode = NR_REG_ALL_NIC;
	header_init(&h, NETMAP_REQ_REGISTER, b, &rx.reg);
	CHECK(ioctl(rx.fd, NIOCCTRL, &h) == 0, "register %s", b);
	port_map(&rx, NULL);
	pthread_create(&th, NULL, send_later, NULL);
	int n = wait_ms(ep, got, 5000, &took);
	CHECK(n == 1 && got[0].data.u64 == 1 && (got[0].events & EPOLLIN),
	      "late-registered descriptor: epoll_wait returned %d", n);
	CHECK(took >= 250 && took < 4000, "woke after %.0f ms", took);
	pthread_join(th, NULL);
	CHECK(drain() == 1, "one frame");
	printf("ok late registration after %.0f ms\n", took);

	/* 2. edge-triggered */
	ev.events = EPOLLIN | EPOLLET;
	ev.data.u64 = 2;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, rx.fd, &ev) == 0, "EPOLL_CTL_MOD EPOLLET");
	n = wait_ms(ep, got, 150, &took);
	CHECK(n == 0, "EPOLLET on an empty ring returned %d", n);
	send_now();
	n = wait_ms(ep, got, 2000, &took);
	CHECK(n == 1 && got[0].data.u64 == 2, "EPOLLET first edge: %d", n);
	n = wait_ms(ep, got, 200, &took);
	CHECK(n == 0 && took >= 180, "EPOLLET reported an old frame again (%d after %.0f ms)", n, took);
	send_now();
	n = wait_ms(ep, got, 2000, &took);
	CHECK(n == 1 && got[0].data.u64 == 2, "EPOLLET second edge: %d", n);
	CHECK(drain() == 2, "two frames");
	printf("ok edge-triggered\n");

	/* 3. one-shot */
	ev.events = EPOLLIN | EPOLLONESHOT;
	ev.data.u64 = 3;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, rx.fd, &ev) == 0, "EPOLL_CTL_MOD EPOLLONESHOT");
	send_now();
	n = wait_ms(ep, got, 2000, &took);
	CHECK(n == 1 && got[0].data.u64 == 3, "EPOLLONESHOT first report: %d", n);
	send_now();
	n = wait_ms(ep, got, 200, &took);
	CHECK(n == 0 && took >= 180, "EPOLLONESHOT reported twice (%d)", n);
	ev.events = EPOLLIN;
	ev.data.u64 = 4;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, rx.fd, &ev) == 0, "EPOLL_CTL_MOD re-arm");
	n = wait_ms(ep, got, 2000, &took);
	CHECK(n == 1 && got[0].data.u64 == 4 && took < 1000, "re-armed: %d after %.0f ms", n, took);
	CHECK(drain() == 2, "two frames");
	printf("ok one-shot\n");

	/* 4. epoll_pwait2 */
	struct timespec short_wait = {.tv_sec = 0, .tv_nsec = 150 * 1000 * 1000};
	double t0 = now_ms();
	n = epoll_pwait2(ep, got, 4, &short_wait, NULL);
	took = now_ms() - t0;
	CHECK(n == 0 && took >= 130 && took < 2000, "idle epoll_pwait2: %d after %.0f ms", n, took);
	struct timespec long_wait = {.tv_sec = 5, .tv_nsec = 0};
	pthread_create(&th, NULL, send_later, NULL);
	t0 = now_ms();
	n = epoll_pwait2(ep, got, 4, &long_wait, NULL);
	took = now_ms() - t0;
	CHECK(n == 1 && got[0].data.u64 == 4, "epoll_pwait2 woken: %d", n);
	CHECK(took >= 250 && took < 4000, "epoll_pwait2 woke after %.0f ms", took);
	pthread_join(th, NULL);
	CHECK(drain() == 1, "one frame");
	printf("ok epoll_pwait2 after %.0f ms\n", took);

	close(ep);
	port_close(&tx, 1);
	port_close(&rx, 1);
	printf("epoll ok\n");
	return 0;
}
