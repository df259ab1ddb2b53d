/*
 * errors SWITCH: every error case of the interface that needs no NIC, with
 * the errno netmap gives and its copy-back rules. SWITCH is a VALE switch
 * name unique to this run (e.g. vale123).
 */
#include "nmtest.h"

static int ctrl(int fd, struct nmreq_header *h)
{
	errno = 0;
	return ioctl(fd, NIOCCTRL, h) < 0 ? errno : 0;
}

#define EXPECT(expr, want, what)                                                      \
	do {                                                                          \
		int got_ = (expr);                                                    \
		if (got_ != (want)) {                                                 \
			fprintf(stderr, "FAIL %s:%d: %s: got %d (%s), want %d (%s)\n", \
				__FILE__, __LINE__, what, got_, strerror(got_), (want),     \
				strerror(want));                                            \
			exit(1);                                                      \
		}                                                                     \
		printf("ok %s\n", what);                                              \
	} while (0)

int main(int argc, char **argv)
{
	CHECK(argc == 2, "usage: errors SWITCH");
	char a[64], b[64];
	snprintf(a, sizeof(a), "%s:a", argv[1]);
	snprintf(b, sizeof(b), "%s:b", argv[1]);
	struct nmreq_header h;
	struct nmreq_register reg;
	int fd = open("/dev/netmap", O_RDWR);
	CHECK(fd >= 0, "open /dev/netmap");

	/* Header checks. */
	memset(&reg, 0, sizeof(reg));
	header_init(&h, NETMAP_REQ_REGISTER, a, &reg);
	h.nr_version = 13;
	EXPECT(ctrl(fd, &h), EINVAL, "version 13");
	CHECK(h.nr_version == 13 && h.nr_reqtype == NETMAP_REQ_REGISTER, "header copied back");
	h.nr_version = 16;
	EXPECT(ctrl(fd, &h), EINVAL, "version 16");
	header_init(&h, 99, a, &reg);
	EXPECT(ctrl(fd, &h), EINVAL, "unknown request type");
	header_init(&h, 0, a, &reg);
	EXPECT(ctrl(fd, &h), EINVAL, "request type 0");
	header_init(&h, NETMAP_REQ_REGISTER, a, &reg);
	h.nr_reserved = 1;
	EXPECT(ctrl(fd, &h), EINVAL, "nr_reserved set");
	header_init(&h, NETMAP_REQ_REGISTER, a, NULL);
	EXPECT(ctrl(fd, &h), EINVAL, "missing body");
	header_init(&h, NETMAP_REQ_VALE_DELIF, "x", &reg);
	EXPECT(ctrl(fd, &h), EINVAL, "body on a request without one");
	header_init(&h, NETMAP_REQ_REGISTER, a, (void *)8);
	EXPECT(ctrl(fd, &h), EFAULT, "body at a bad address");
	errno = 0;
	EXPECT(ioctl(fd, NIOCCTRL, (void *)8) < 0 ? errno : 0, EFAULT, "header at a bad address");

	/* Unbound descriptor. */
	EXPECT(ioctl(fd, NIOCTXSYNC, NULL) < 0 ? errno : 0, ENXIO, "TXSYNC unbound");
	EXPECT(ioctl(fd, NIOCRXSYNC, NULL) < 0 ? errno : 0, ENXIO, "RXSYNC unbound");
	errno = 0;
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT(m == MAP_FAILED ? errno : 0, EINVAL, "mmap unbound");
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	CHECK(poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLERR), "poll unbound is POLLERR");
	printf("ok poll unbound\n");

	/* Names and modes. */
	memset(&reg, 0, sizeof(reg));
	header_init(&h, NETMAP_REQ_REGISTER, "", &reg);
	EXPECT(ctrl(fd, &h), ENXIO, "empty name");
	header_init(&h, NETMAP_REQ_REGISTER, "nosuchnic0", &reg);
	EXPECT(ctrl(fd, &h), ENXIO, "missing NIC");
	header_init(&h, NETMAP_REQ_REGISTER, "vale0:a-b", &reg);
	EXPECT(ctrl(fd, &h), EINVAL, "bad VALE name");
	header_init(&h, NETMAP_REQ_REGISTER, a, &reg);
	reg.nr_mode = NR_REG_SW;
	EXPECT(ctrl(fd, &h), EINVAL, "host rings on VALE");
	reg.nr_mode = NR_REG_NIC_SW;
	EXPECT(ctrl(fd, &h), EINVAL, "NIC_SW on VALE");
	reg.nr_mode = NR_REG_PIPE_MASTER;
	EXPECT(ctrl(fd, &h), EINVAL, "PIPE_MASTER in NIOCCTRL");
	reg.nr_mode = 42;
	EXPECT(ctrl(fd, &h), EINVAL, "unknown mode");
	reg.nr_mode = NR_REG_ONE_NIC;
	reg.nr_ringid = 5;
	EXPECT(ctrl(fd, &h), EINVAL, "ONE_NIC ring 5 of 1");
	reg.nr_mode = NR_REG_ALL_NIC;
	reg.nr_ringid = 0;
	reg.nr_mem_id = 77;
	EXPECT(ctrl(fd, &h), EINVAL, "unknown nr_mem_id");
	reg.nr_mem_id = 0;

	/* Options. */
	struct nmreq_option opt;
	memset(&opt, 0, sizeof(opt));
	opt.nro_reqtype = 0;
	h.nr_options = (uintptr_t)&opt;
	EXPECT(ctrl(fd, &h), EINVAL, "option type 0");
	opt.nro_reqtype = 42;
	opt.nro_status = 0;
	EXPECT(ctrl(fd, &h), EOPNOTSUPP, "unknown option");
	EXPECT((int)opt.nro_status, EOPNOTSUPP, "unknown option status");
	struct nmreq_option opt2 = opt;
	opt.nro_reqtype = NETMAP_REQ_OPT_OFFSETS;
	opt2.nro_reqtype = NETMAP_REQ_OPT_OFFSETS;
	opt.nro_next = (uintptr_t)&opt2;
	opt2.nro_next = 0;
	EXPECT(ctrl(fd, &h), EINVAL, "option given twice");
	EXPECT((int)opt.nro_status, EINVAL, "first duplicate status");
	EXPECT((int)opt2.nro_status, EINVAL, "second duplicate status");
	opt.nro_reqtype = 42;
	opt.nro_next = (uintptr_t)&opt;
	EXPECT(ctrl(fd, &h), EMSGSIZE, "self-linked unknown option");
	opt.nro_reqtype = NETMAP_REQ_OPT_CSB;
	opt.nro_next = 0;
	EXPECT(ctrl(fd, &h), EINVAL, "OPT_CSB without NR_EXCLUSIVE");
	h.nr_options = 0;

	/* A good registration, then busy. */
	memset(&reg, 0, sizeof(reg));
	reg.nr_mode = NR_REG_ALL_NIC;
	reg.nr_flags = 0x1000 | NR_ACCEPT_VNET_HDR; /* unknown bits are ignored */
	header_init(&h, NETMAP_REQ_REGISTER, a, &reg);
	EXPECT(ctrl(fd, &h), 0, "register");
	CHECK(reg.nr_tx_rings == 1 && reg.nr_rx_rings == 1 && reg.nr_tx_slots == 1024 &&
		      reg.nr_rx_slots == 1024,
	      "default geometry: %u/%u rings %u/%u slots", reg.nr_tx_rings, reg.nr_rx_rings,
	      reg.nr_tx_slots, reg.nr_rx_slots);
	CHECK(reg.nr_host_tx_rings == 0 && reg.nr_host_rx_rings == 0, "no host rings");
	CHECK(reg.nr_mode == NR_REG_ALL_NIC && reg.nr_flags == (0x1000 | NR_ACCEPT_VNET_HDR),
	      "mode and flags unchanged");
	CHECK(reg.nr_mem_id >= 1 && reg.nr_memsize > reg.nr_offset, "memory answers");
	EXPECT(ctrl(fd, &h), EBUSY, "second register on one descriptor");
	int fd2 = open("/dev/netmap", O_RDWR);
	struct nmreq_register reg2;
	memset(&reg2, 0, sizeof(reg2));
	reg2.nr_mode = NR_REG_ALL_NIC;
	reg2.nr_flags = NR_EXCLUSIVE;
	header_init(&h, NETMAP_REQ_REGISTER, a, &reg2);
	EXPECT(ctrl(fd2, &h), EBUSY, "exclusive on a bound port");
	errno = 0;
	m = mmap(NULL, reg.nr_memsize + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT(m == MAP_FAILED ? errno : 0, EINVAL, "mmap beyond nr_memsize");
	m = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED, "mmap");
	struct netmap_if *nifp = NETMAP_IF(m, reg.nr_offset);
	CHECK(strcmp(nifp->ni_name, a) == 0, "ni_name %s", nifp->ni_name);
	CHECK(nifp->ni_version == NETMAP_API && nifp->ni_tx_rings == 1 && nifp->ni_rx_rings == 1,
	      "netmap_if header");
	struct netmap_ring *txr = NETMAP_TXRING(nifp, 0), *rxr = NETMAP_RXRING(nifp, 0);
	CHECK(txr->num_slots == 1024 && txr->tail == 1023 && txr->dir == 0, "tx ring");
	CHECK(rxr->num_slots == 1024 && rxr->tail == 0 && rxr->dir == 1, "rx ring");
	CHECK(txr->slot[0].buf_idx >= 2, "buffer 0 and 1 are reserved");

	/* A bad head is repaired by the sync, which still succeeds. */
	txr->head = 5000;
	EXPECT(ioctl(fd, NIOCTXSYNC, NULL) < 0 ? errno : 0, 0, "TXSYNC with a bad head");

	/* PORT_INFO_GET and PORT_HDR_GET. */
	uint8_t info[32];
	memset(info, 0, sizeof(info));
	header_init(&h, NETMAP_REQ_PORT_INFO_GET, a, info);
	EXPECT(ctrl(fd2, &h), 0, "PORT_INFO_GET of a bound port");
	uint64_t memsize;
	uint32_t slots;
	memcpy(&memsize, info, 8);
	memcpy(&slots, info + 8, 4);
	CHECK(memsize == reg.nr_memsize && slots == 1024, "port info %llu %u",
	      (unsigned long long)memsize, slots);
	header_init(&h, NETMAP_REQ_PORT_INFO_GET, b, info);
	EXPECT(ctrl(fd2, &h), 0, "PORT_INFO_GET of a new VALE port");
	uint8_t hdr[8];
	memset(hdr, 0xff, sizeof(hdr));
	header_init(&h, NETMAP_REQ_PORT_HDR_GET, a, hdr);
	EXPECT(ctrl(fd, &h), 0, "PORT_HDR_GET");
	CHECK(hdr[0] == 0 && hdr[1] == 0 && hdr[2] == 0 && hdr[3] == 0, "no vnet header");

	/* Sync loop and CSB are refused with netmap's errno. */
	uint8_t kloop[8] = {0};
	header_init(&h, NETMAP_REQ_SYNC_KLOOP_START, a, kloop);
	EXPECT(ctrl(fd, &h), EINVAL, "SYNC_KLOOP_START without CSB");
	header_init(&h, NETMAP_REQ_SYNC_KLOOP_STOP, a, NULL);
	EXPECT(ctrl(fd2, &h), ENXIO, "SYNC_KLOOP_STOP unbound");
	header_init(&h, NETMAP_REQ_CSB_ENABLE, a, NULL);
	EXPECT(ctrl(fd, &h), EINVAL, "CSB_ENABLE without OPT_CSB");

	/* Legacy API. */
	struct nmreq nmr;
	memset(&nmr, 0, sizeof(nmr));
	CHECK(strlen(b) < sizeof(nmr.nr_name), "legacy name too long");
	snprintf(nmr.nr_name, sizeof(nmr.nr_name), "%.15s", b);
	nmr.nr_version = 13;
	int fd3 = open("/dev/netmap", O_RDWR);
	errno = 0;
	EXPECT(ioctl(fd3, NIOCREGIF, &nmr) < 0 ? errno : 0, EINVAL, "legacy version 13");
	nmr.nr_version = 99; /* no upper bound in the legacy API */
	nmr.nr_flags = NR_REG_ALL_NIC;
	nmr.nr_ringid = NETMAP_NO_TX_POLL;
	EXPECT(ioctl(fd3, NIOCREGIF, &nmr) < 0 ? errno : 0, 0, "legacy register");
	CHECK(nmr.nr_flags == NR_REG_ALL_NIC && nmr.nr_ringid == NETMAP_NO_TX_POLL,
	      "legacy nr_flags/nr_ringid unchanged");
	CHECK(nmr.nr_tx_slots == 1024 && nmr.nr_rx_rings == 1 && nmr.nr_memsize > 0, "legacy geometry");
	memset(&nmr, 0, sizeof(nmr));
	snprintf(nmr.nr_name, sizeof(nmr.nr_name), "%.15s", a);
	nmr.nr_version = 14;
	EXPECT(ioctl(fd2, NIOCGINFO, &nmr) < 0 ? errno : 0, 0, "legacy NIOCGINFO");
	CHECK(nmr.nr_rx_slots == 1024, "legacy info");

	/* NR_REG_NULL: any name, the global allocator, geometry verbatim, no
	 * traffic. */
	uint64_t a_memsize = reg.nr_memsize;
	int fdn = open("/dev/netmap", O_RDWR);
	memset(&reg, 0, sizeof(reg));
	reg.nr_mode = NR_REG_NULL;
	reg.nr_mem_id = 77;
	header_init(&h, NETMAP_REQ_REGISTER, "whatever0", &reg);
	EXPECT(ctrl(fdn, &h), EINVAL, "NULL port in an unknown allocator");
	reg.nr_mem_id = 1;
	reg.nr_tx_rings = 2;
	reg.nr_rx_rings = 3;
	reg.nr_tx_slots = 64;
	reg.nr_rx_slots = 128;
	EXPECT(ctrl(fdn, &h), 0, "NULL port");
	CHECK(reg.nr_mem_id == 1 && reg.nr_tx_rings == 2 && reg.nr_rx_rings == 3 &&
		      reg.nr_tx_slots == 64 && reg.nr_rx_slots == 128,
	      "NULL geometry: mem %u rings %u/%u slots %u/%u", reg.nr_mem_id, reg.nr_tx_rings,
	      reg.nr_rx_rings, reg.nr_tx_slots, reg.nr_rx_slots);
	void *nm = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fdn, 0);
	CHECK(nm != MAP_FAILED, "mmap NULL port");
	struct netmap_if *nn = NETMAP_IF(nm, reg.nr_offset);
	CHECK(nn->ni_tx_rings == 2 && nn->ni_rx_rings == 3, "NULL netmap_if");
	struct netmap_ring *nt = NETMAP_TXRING(nn, 1), *nr = NETMAP_RXRING(nn, 2);
	CHECK(nt->num_slots == 64 && nt->tail == 63 && nr->num_slots == 128 && nr->dir == 1,
	      "NULL rings");
	nt->head = nt->cur = 10;
	EXPECT(ioctl(fdn, NIOCTXSYNC, NULL) < 0 ? errno : 0, 0, "NULL TXSYNC");
	CHECK(nt->tail == 9, "NULL txsync takes everything (tail %u)", nt->tail);
	EXPECT(ioctl(fdn, NIOCRXSYNC, NULL) < 0 ? errno : 0, 0, "NULL RXSYNC");
	CHECK(nr->cur == nr->tail, "nothing arrives on a NULL port");
	struct pollfd np = {.fd = fdn, .events = POLLIN};
	CHECK(poll(&np, 1, 50) == 0, "NULL port never readable");
	np.events = POLLOUT;
	CHECK(poll(&np, 1, 50) == 1 && (np.revents & POLLOUT), "NULL port writable");
	memset(info, 0, sizeof(info));
	info[24] = 1; /* nr_mem_id 1 */
	header_init(&h, NETMAP_REQ_PORT_INFO_GET, "", info);
	EXPECT(ctrl(fdn, &h), 0, "PORT_INFO_GET of allocator 1");
	memcpy(&memsize, info, 8);
	CHECK(memsize == reg.nr_memsize, "allocator 1 size %llu vs %llu",
	      (unsigned long long)memsize, (unsigned long long)reg.nr_memsize);
	munmap(nm, reg.nr_memsize);
	close(fdn);

	/* Closing a descriptor that was never bound, and everything else. */
	munmap(m, a_memsize);
	close(fd3);
	close(fd2);
	close(fd);
	/* The port is gone with its last descriptor: registering it again
	 * with NR_EXCLUSIVE works. */
	fd = open("/dev/netmap", O_RDWR | O_CLOEXEC);
	memset(&reg, 0, sizeof(reg));
	reg.nr_mode = NR_REG_ALL_NIC;
	reg.nr_flags = NR_EXCLUSIVE;
	header_init(&h, NETMAP_REQ_REGISTER, a, &reg);
	EXPECT(ctrl(fd, &h), 0, "exclusive register after the last close");
	CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC, "O_CLOEXEC kept");
	close(fd);
	printf("errors ok\n");
	return 0;
}
