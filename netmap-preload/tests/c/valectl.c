/*
 * valectl SWITCH IFNAME: vale-ctl's persistent-port lifecycle and the other
 * control requests, raw, as vale-ctl issues them: NEWIF, ATTACH, LIST
 * (by name and the walk with an empty name), registering the attached
 * port, DELIF while attached (EBUSY), DETACH, DELIF; PORT_HDR_SET/GET,
 * POOLS_INFO_GET, the legacy BDG_LIST. Each step with netmap's errno.
 */
#include "nmtest.h"

static int fd;

static int ctrl(uint16_t type, const char *name, void *body, struct nmreq_header *h)
{
	header_init(h, type, name, body);
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

struct newif {
	uint32_t tx_slots, rx_slots;
	uint16_t tx_rings, rx_rings, mem_id, pad;
};

struct list {
	uint16_t bridge, pad;
	uint32_t port;
};

int main(int argc, char **argv)
{
	CHECK(argc == 3, "usage: valectl SWITCH IFNAME");
	const char *sw = argv[1], *ifn = argv[2];
	char at[64], other[64];
	snprintf(at, sizeof(at), "%s:%s", sw, ifn);
	snprintf(other, sizeof(other), "%s:zz", sw);
	struct nmreq_header h;
	fd = open("/dev/netmap", O_RDWR);
	CHECK(fd >= 0, "open");

	/* NEWIF */
	struct newif n = {.tx_slots = 256, .rx_slots = 256};
	EXPECT(ctrl(NETMAP_REQ_VALE_NEWIF, ifn, &n, &h), 0, "NEWIF");
	CHECK(n.tx_slots == 256 && n.tx_rings == 1 && n.rx_rings == 1, "NEWIF geometry");
	struct newif again = {0};
	EXPECT(ctrl(NETMAP_REQ_VALE_NEWIF, ifn, &again, &h), EEXIST, "NEWIF twice");
	CHECK(again.tx_slots == 256, "EEXIST still fills the body (%u)", again.tx_slots);
	EXPECT(ctrl(NETMAP_REQ_VALE_NEWIF, "vale1x", &again, &h), EINVAL, "NEWIF of a vale name");
	EXPECT(ctrl(NETMAP_REQ_VALE_NEWIF, "abcdefghijklmnop", &again, &h), EINVAL,
	       "NEWIF of a 16-character name");

	/* ATTACH */
	uint8_t att[64];
	memset(att, 0, sizeof(att));
	EXPECT(ctrl(NETMAP_REQ_VALE_ATTACH, at, att, &h), 0, "ATTACH");
	uint32_t port_index;
	memcpy(&port_index, att + 56, 4);
	EXPECT(ctrl(NETMAP_REQ_VALE_ATTACH, at, att, &h), EBUSY, "ATTACH twice");
	char nosuch[64];
	snprintf(nosuch, sizeof(nosuch), "%s:nosuchif", sw);
	EXPECT(ctrl(NETMAP_REQ_VALE_ATTACH, nosuch, att, &h), EINVAL, "ATTACH of an unknown IF");

	/* LIST */
	struct list l = {0};
	EXPECT(ctrl(NETMAP_REQ_VALE_LIST, at, &l, &h), 0, "LIST by name");
	CHECK(l.port == port_index, "LIST port %u, ATTACH said %u", l.port, port_index);
	uint16_t bridge = l.bridge;
	EXPECT(ctrl(NETMAP_REQ_VALE_LIST, other, &l, &h), 0, "LIST of a port not on the switch");
	CHECK(l.port == 255, "NM_BDG_NOPORT, got %u", l.port);
	EXPECT(ctrl(NETMAP_REQ_VALE_LIST, "valenosuchsw:x", &l, &h), ENOENT, "LIST of no switch");
	EXPECT(ctrl(NETMAP_REQ_VALE_LIST, "eth0", &l, &h), EINVAL, "LIST of a non-VALE name");
	int found = 0;
	memset(&l, 0, sizeof(l));
	for (int i = 0; i < 1000; i++) {
		int e = ctrl(NETMAP_REQ_VALE_LIST, "", &l, &h);
		if (e == ENOENT)
			break;
		EXPECT(e, 0, "LIST walk");
		if (strcmp(h.nr_name, at) == 0 && l.bridge == bridge && l.port == port_index)
			found = 1;
		l.port++;
	}
	CHECK(found, "the walk lists %s", at);

	/* The attached port is a port of the switch, with the NEWIF geometry. */
	struct port p;
	memset(&p.reg, 0, sizeof(p.reg));
	errno = port_register(&p, at, NR_REG_ALL_NIC, 0, 0);
	CHECK(errno == 0, "register %s", at);
	CHECK(p.reg.nr_tx_slots == 256 && p.reg.nr_rx_slots == 256, "geometry %u/%u",
	      p.reg.nr_tx_slots, p.reg.nr_rx_slots);

	/* PORT_HDR, POOLS_INFO */
	uint32_t hdr[2] = {0, 0};
	EXPECT(ctrl(NETMAP_REQ_PORT_HDR_SET, at, hdr, &h), 0, "PORT_HDR_SET 0");
	hdr[0] = 10;
	EXPECT(ctrl(NETMAP_REQ_PORT_HDR_SET, at, hdr, &h), EOPNOTSUPP, "PORT_HDR_SET 10");
	hdr[0] = 7;
	EXPECT(ctrl(NETMAP_REQ_PORT_HDR_SET, at, hdr, &h), EINVAL, "PORT_HDR_SET 7");
	hdr[0] = 0;
	EXPECT(ctrl(NETMAP_REQ_PORT_HDR_SET, "x{1", hdr, &h), ENXIO, "PORT_HDR_SET on a pipe");
	hdr[0] = 99;
	EXPECT(ctrl(NETMAP_REQ_PORT_HDR_GET, at, hdr, &h), 0, "PORT_HDR_GET");
	CHECK(hdr[0] == 0, "header length %u", hdr[0]);
	struct nmreq_pools_info pi;
	memset(&pi, 0, sizeof(pi));
	EXPECT(ctrl(NETMAP_REQ_POOLS_INFO_GET, at, &pi, &h), 0, "POOLS_INFO_GET");
	CHECK(pi.nr_memsize == p.reg.nr_memsize && pi.nr_mem_id == p.reg.nr_mem_id,
	      "pools memsize %llu id %u", (unsigned long long)pi.nr_memsize, pi.nr_mem_id);
	CHECK(pi.nr_buf_pool_objsize > 0 && pi.nr_buf_pool_objtotal > 2 &&
		      pi.nr_buf_pool_offset + (uint64_t)pi.nr_buf_pool_objtotal * pi.nr_buf_pool_objsize <=
			      pi.nr_memsize,
	      "buffer pool inside the memory");
	CHECK(pi.nr_if_pool_offset <= p.reg.nr_offset &&
		      p.reg.nr_offset < pi.nr_if_pool_offset +
						(uint64_t)pi.nr_if_pool_objtotal * pi.nr_if_pool_objsize,
	      "the netmap_if is in the if pool");
	EXPECT(ctrl(NETMAP_REQ_POOLS_INFO_GET, "", &pi, &h), ENXIO, "POOLS_INFO_GET of no name");

	/* Legacy BDG_LIST */
	struct nmreq nmr;
	memset(&nmr, 0, sizeof(nmr));
	nmr.nr_version = 14;
	nmr.nr_cmd = NETMAP_BDG_LIST;
	errno = 0;
	EXPECT(ioctl(fd, NIOCGINFO, &nmr) < 0 ? errno : 0, 0, "legacy BDG_LIST walk");
	CHECK(strncmp(nmr.nr_name, "vale", 4) == 0, "legacy list names %s", nmr.nr_name);

	/* DELIF while attached, DETACH, DELIF */
	EXPECT(ctrl(NETMAP_REQ_VALE_DELIF, ifn, NULL, &h), EBUSY, "DELIF while attached");
	close(p.fd);
	uint32_t det[2] = {0, 0};
	EXPECT(ctrl(NETMAP_REQ_VALE_DETACH, at, det, &h), 0, "DETACH");
	CHECK(det[0] == port_index, "DETACH port %u, ATTACH said %u", det[0], port_index);
	EXPECT(ctrl(NETMAP_REQ_VALE_DETACH, at, det, &h), ENXIO, "DETACH twice");
	EXPECT(ctrl(NETMAP_REQ_VALE_DELIF, ifn, NULL, &h), 0, "DELIF");
	EXPECT(ctrl(NETMAP_REQ_VALE_DELIF, ifn, NULL, &h), ENXIO, "DELIF twice");
	uint8_t poll_body[16] = {0};
	EXPECT(ctrl(NETMAP_REQ_VALE_POLLING_ENABLE, at, poll_body, &h), EOPNOTSUPP,
	       "POLLING_ENABLE");
	close(fd);
	printf("valectl ok\n");
	return 0;
}
