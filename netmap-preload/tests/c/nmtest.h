/*
 * nmtest.h - helpers shared by the C test programs of netmap-preload.
 *
 * The programs talk to /dev/netmap the way netmap applications do (open,
 * ioctl NIOCCTRL, mmap, poll, NIOCTXSYNC/NIOCRXSYNC), declaring the ABI
 * with the project's own header. The ring macros below have netmap's names
 * and meaning so that the programs read like netmap applications.
 */
#ifndef NMTEST_H
#define NMTEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "netmap_abi.h"

#define NETMAP_IF(base, ofs) ((struct netmap_if *)(void *)((char *)(base) + (ofs)))
#define NETMAP_TXRING(nifp, i) NM_ABI_RING(nifp, i)
#define NETMAP_RXRING(nifp, i) \
	NM_ABI_RING(nifp, (i) + (nifp)->ni_tx_rings + (nifp)->ni_host_tx_rings)
#define NETMAP_BUF(ring, i) NM_ABI_BUF(ring, i)

static inline uint32_t nm_ring_next(const struct netmap_ring *r, uint32_t i)
{
	return i + 1 == r->num_slots ? 0 : i + 1;
}

static inline uint32_t nm_ring_space(const struct netmap_ring *r)
{
	int ret = (int)r->tail - (int)r->cur;
	if (ret < 0)
		ret += (int)r->num_slots;
	return (uint32_t)ret;
}

/* Fails the program with a message, the line and errno. */
#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			int e_ = errno;                                    \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                      \
			fprintf(stderr, " (errno %d: %s)\n", e_, strerror(e_)); \
			exit(1);                                           \
		}                                                          \
	} while (0)

static inline double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A registered port: descriptor, register body, mapping, netmap_if. */
struct port {
	int fd;
	struct nmreq_register reg;
	void *mem;
	struct netmap_if *nifp;
};

static inline void header_init(struct nmreq_header *h, uint16_t type, const char *name, void *body)
{
	memset(h, 0, sizeof(*h));
	h->nr_version = NETMAP_API;
	h->nr_reqtype = type;
	if (name)
		snprintf(h->nr_name, sizeof(h->nr_name), "%s", name);
	h->nr_body = (uintptr_t)body;
}

/* Registers `name` on a fresh descriptor; returns 0 or the errno. The body
 * in p->reg may be preset by the caller (geometry hints, nr_mem_id). */
static inline int port_register(struct port *p, const char *name, uint32_t mode, uint16_t ringid,
				uint64_t flags)
{
	struct nmreq_header h;
	p->fd = open("/dev/netmap", O_RDWR);
	if (p->fd < 0)
		return errno;
	p->reg.nr_mode = mode;
	p->reg.nr_ringid = ringid;
	p->reg.nr_flags = flags;
	header_init(&h, NETMAP_REQ_REGISTER, name, &p->reg);
	if (ioctl(p->fd, NIOCCTRL, &h) < 0) {
		int e = errno;
		close(p->fd);
		p->fd = -1;
		return e;
	}
	p->mem = NULL;
	p->nifp = NULL;
	return 0;
}

/* Maps the port's memory (or reuses `shared`, as libnetmap does for a port
 * of an already mapped nr_mem_id). */
static inline void port_map(struct port *p, void *shared)
{
	if (shared) {
		p->mem = shared;
	} else {
		p->mem = mmap(NULL, p->reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
		CHECK(p->mem != MAP_FAILED, "mmap of %llu bytes", (unsigned long long)p->reg.nr_memsize);
	}
	p->nifp = NETMAP_IF(p->mem, p->reg.nr_offset);
}

static inline void port_open(struct port *p, const char *name)
{
	memset(&p->reg, 0, sizeof(p->reg));
	int e = port_register(p, name, NR_REG_ALL_NIC, 0, 0);
	errno = e;
	CHECK(e == 0, "register %s", name);
	port_map(p, NULL);
}

static inline void port_close(struct port *p, int unmap)
{
	if (unmap && p->mem)
		munmap(p->mem, p->reg.nr_memsize);
	close(p->fd);
}

/* A 60-byte broadcast frame carrying `seq`. */
static inline void make_frame(char *buf, uint32_t seq, uint8_t src)
{
	memset(buf, 0, 60);
	memset(buf, 0xff, 6);
	buf[6] = 0x02;
	buf[11] = (char)src;
	buf[12] = (char)0x88;
	buf[13] = (char)0xb5;
	memcpy(buf + 14, &seq, 4);
}

static inline uint32_t frame_seq(const char *buf)
{
	uint32_t seq;
	memcpy(&seq, buf + 14, 4);
	return seq;
}

#endif
