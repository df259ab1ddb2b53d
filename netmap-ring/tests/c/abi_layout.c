/*
 * abi_layout.c - the C half of the two-language ABI check (tests/abi_c.rs).
 *
 *   abi_layout layout       print "name size align", "name.field offset" and
 *                           "const NAME value" lines from netmap_abi.h
 *   abi_layout dump FILE    read a netmap_if and its rings from FILE through
 *                           the header's structures, print "key value" lines
 *   abi_layout fill FILE    build a netmap_if and rings through the
 *                           structures, write them to FILE and print them as
 *                           dump would
 *
 * The dump never trusts the file: every offset is checked against its size.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmap_abi.h"

/* The facts the project relies on, checked by the C compiler too. */
_Static_assert(sizeof(struct netmap_slot) == 16, "netmap_slot size");
_Static_assert(sizeof(struct netmap_ring) == 256, "netmap_ring header size");
_Static_assert(_Alignof(struct netmap_ring) == 128, "netmap_ring alignment");
_Static_assert(offsetof(struct netmap_ring, head) == 20, "ring head");
_Static_assert(offsetof(struct netmap_ring, ts) == 40, "ring ts");
_Static_assert(offsetof(struct netmap_ring, offset_mask) == 56, "ring offset_mask");
_Static_assert(offsetof(struct netmap_ring, sem) == 128, "ring sem");
_Static_assert(offsetof(struct netmap_ring, slot) == 256, "ring slots");
_Static_assert(sizeof(struct netmap_if) == 56, "netmap_if header size");
_Static_assert(offsetof(struct netmap_if, ring_ofs) == 56, "netmap_if ring_ofs");
_Static_assert(sizeof(struct nmreq) == 60, "nmreq size");
_Static_assert(sizeof(struct nmreq_header) == 88, "nmreq_header size");
_Static_assert(sizeof(struct nmreq_register) == 56, "nmreq_register size");
_Static_assert(sizeof(struct nmreq_option) == 24, "nmreq_option size");
_Static_assert(sizeof(struct timeval) == 16, "timeval size");
_Static_assert(NIOCCTRL == 0xC0586997u, "NIOCCTRL");
_Static_assert(NIOCREGIF == 0xC03C6992u, "NIOCREGIF");

/* Region alignment: rings need NM_CACHE_ALIGN; a page is plenty. */
#define REGION_ALIGN 4096
/* Longest extra-buffer chain followed before calling the list corrupt. */
#define MAX_EXTRA_BUFS 4096

#define SIZE(T) printf("%s %zu %zu\n", #T, sizeof(struct T), _Alignof(struct T))
#define OFF(T, f) printf("%s.%s %zu\n", #T, #f, offsetof(struct T, f))
#define CONST(name) printf("const %s %llu\n", #name, (unsigned long long)(name))

static void print_layout(void)
{
	SIZE(netmap_slot);
	OFF(netmap_slot, buf_idx); OFF(netmap_slot, len);
	OFF(netmap_slot, flags); OFF(netmap_slot, ptr);

	SIZE(timeval);
	OFF(timeval, tv_sec); OFF(timeval, tv_usec);

	SIZE(netmap_ring);
	OFF(netmap_ring, buf_ofs); OFF(netmap_ring, num_slots);
	OFF(netmap_ring, nr_buf_size); OFF(netmap_ring, ringid);
	OFF(netmap_ring, dir); OFF(netmap_ring, head); OFF(netmap_ring, cur);
	OFF(netmap_ring, tail); OFF(netmap_ring, flags); OFF(netmap_ring, ts);
	OFF(netmap_ring, offset_mask); OFF(netmap_ring, buf_align);
	OFF(netmap_ring, sem); OFF(netmap_ring, slot);

	SIZE(netmap_if);
	OFF(netmap_if, ni_name); OFF(netmap_if, ni_version);
	OFF(netmap_if, ni_flags); OFF(netmap_if, ni_tx_rings);
	OFF(netmap_if, ni_rx_rings); OFF(netmap_if, ni_bufs_head);
	OFF(netmap_if, ni_host_tx_rings); OFF(netmap_if, ni_host_rx_rings);
	OFF(netmap_if, ni_spare1); OFF(netmap_if, ring_ofs);

	SIZE(nmreq);
	OFF(nmreq, nr_name); OFF(nmreq, nr_version); OFF(nmreq, nr_offset);
	OFF(nmreq, nr_memsize); OFF(nmreq, nr_tx_slots); OFF(nmreq, nr_rx_slots);
	OFF(nmreq, nr_tx_rings); OFF(nmreq, nr_rx_rings); OFF(nmreq, nr_ringid);
	OFF(nmreq, nr_cmd); OFF(nmreq, nr_arg1); OFF(nmreq, nr_arg2);
	OFF(nmreq, nr_arg3); OFF(nmreq, nr_flags); OFF(nmreq, spare2);

	SIZE(nmreq_header);
	OFF(nmreq_header, nr_version); OFF(nmreq_header, nr_reqtype);
	OFF(nmreq_header, nr_reserved); OFF(nmreq_header, nr_name);
	OFF(nmreq_header, nr_options); OFF(nmreq_header, nr_body);

	SIZE(nmreq_register);
	OFF(nmreq_register, nr_offset); OFF(nmreq_register, nr_memsize);
	OFF(nmreq_register, nr_tx_slots); OFF(nmreq_register, nr_rx_slots);
	OFF(nmreq_register, nr_tx_rings); OFF(nmreq_register, nr_rx_rings);
	OFF(nmreq_register, nr_host_tx_rings);
	OFF(nmreq_register, nr_host_rx_rings);
	OFF(nmreq_register, nr_mem_id); OFF(nmreq_register, nr_ringid);
	OFF(nmreq_register, nr_mode); OFF(nmreq_register, nr_extra_bufs);
	OFF(nmreq_register, nr_flags);

	SIZE(nmreq_option);
	OFF(nmreq_option, nro_next); OFF(nmreq_option, nro_reqtype);
	OFF(nmreq_option, nro_status); OFF(nmreq_option, nro_size);

	SIZE(nmreq_pools_info);
	OFF(nmreq_pools_info, nr_memsize); OFF(nmreq_pools_info, nr_mem_id);
	OFF(nmreq_pools_info, pad1); OFF(nmreq_pools_info, nr_if_pool_offset);
	OFF(nmreq_pools_info, nr_if_pool_objtotal);
	OFF(nmreq_pools_info, nr_if_pool_objsize);
	OFF(nmreq_pools_info, nr_ring_pool_offset);
	OFF(nmreq_pools_info, nr_ring_pool_objtotal);
	OFF(nmreq_pools_info, nr_ring_pool_objsize);
	OFF(nmreq_pools_info, nr_buf_pool_offset);
	OFF(nmreq_pools_info, nr_buf_pool_objtotal);
	OFF(nmreq_pools_info, nr_buf_pool_objsize);

	SIZE(nmreq_opt_extmem);
	OFF(nmreq_opt_extmem, nro_opt); OFF(nmreq_opt_extmem, nro_usrptr);
	OFF(nmreq_opt_extmem, nro_info);

	SIZE(nmreq_opt_offsets);
	OFF(nmreq_opt_offsets, nro_opt); OFF(nmreq_opt_offsets, nro_max_offset);
	OFF(nmreq_opt_offsets, nro_initial_offset);
	OFF(nmreq_opt_offsets, nro_offset_bits);
	OFF(nmreq_opt_offsets, nro_tx_align); OFF(nmreq_opt_offsets, nro_min_gap);

	SIZE(nm_ifreq);
	OFF(nm_ifreq, nifr_name); OFF(nm_ifreq, data);

	CONST(NETMAP_API); CONST(NETMAP_MIN_API); CONST(NETMAP_MAX_API);
	CONST(NM_CACHE_ALIGN); CONST(NETMAP_REQ_IFNAMSIZ);
	CONST(NETMAP_REQ_MAXSIZE); CONST(NETMAP_MAX_FRAGS); CONST(NM_IFRDATA_LEN);
	printf("const IFNAMSIZ %d\n", NM_IFNAMSIZ);

	CONST(NS_BUF_CHANGED); CONST(NS_REPORT); CONST(NS_FORWARD);
	CONST(NS_NO_LEARN); CONST(NS_INDIRECT); CONST(NS_MOREFRAG);
	CONST(NS_TXMON); CONST(NS_PORT_SHIFT); CONST(NS_PORT_MASK);
	CONST(NR_TIMESTAMP); CONST(NR_FORWARD); CONST(NI_PRIV_MEM);

	CONST(NR_REG_DEFAULT); CONST(NR_REG_ALL_NIC); CONST(NR_REG_SW);
	CONST(NR_REG_NIC_SW); CONST(NR_REG_ONE_NIC); CONST(NR_REG_PIPE_MASTER);
	CONST(NR_REG_PIPE_SLAVE); CONST(NR_REG_NULL); CONST(NR_REG_ONE_SW);
	CONST(NR_REG_MASK);
	CONST(NR_MONITOR_TX); CONST(NR_MONITOR_RX); CONST(NR_ZCOPY_MON);
	CONST(NR_EXCLUSIVE); CONST(NR_RX_RINGS_ONLY); CONST(NR_TX_RINGS_ONLY);
	CONST(NR_ACCEPT_VNET_HDR); CONST(NR_DO_RX_POLL); CONST(NR_NO_TX_POLL);

	CONST(NETMAP_REQ_REGISTER); CONST(NETMAP_REQ_PORT_INFO_GET);
	CONST(NETMAP_REQ_VALE_ATTACH); CONST(NETMAP_REQ_VALE_DETACH);
	CONST(NETMAP_REQ_VALE_LIST); CONST(NETMAP_REQ_PORT_HDR_SET);
	CONST(NETMAP_REQ_PORT_HDR_GET); CONST(NETMAP_REQ_VALE_NEWIF);
	CONST(NETMAP_REQ_VALE_DELIF); CONST(NETMAP_REQ_VALE_POLLING_ENABLE);
	CONST(NETMAP_REQ_VALE_POLLING_DISABLE); CONST(NETMAP_REQ_POOLS_INFO_GET);
	CONST(NETMAP_REQ_SYNC_KLOOP_START); CONST(NETMAP_REQ_SYNC_KLOOP_STOP);
	CONST(NETMAP_REQ_CSB_ENABLE);
	CONST(NETMAP_REQ_OPT_EXTMEM); CONST(NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS);
	CONST(NETMAP_REQ_OPT_CSB); CONST(NETMAP_REQ_OPT_SYNC_KLOOP_MODE);
	CONST(NETMAP_REQ_OPT_OFFSETS); CONST(NETMAP_REQ_OPT_MAX);
	CONST(NM_OPT_SYNC_KLOOP_DIRECT_TX); CONST(NM_OPT_SYNC_KLOOP_DIRECT_RX);
	CONST(NETMAP_POLLING_MODE_SINGLE_CPU); CONST(NETMAP_POLLING_MODE_MULTI_CPU);

	CONST(NETMAP_HW_RING); CONST(NETMAP_SW_RING); CONST(NETMAP_RING_MASK);
	CONST(NETMAP_NO_TX_POLL); CONST(NETMAP_DO_RX_POLL);
	CONST(NETMAP_BDG_ATTACH); CONST(NETMAP_BDG_DETACH);
	CONST(NETMAP_BDG_REGOPS); CONST(NETMAP_BDG_LIST);
	CONST(NETMAP_BDG_VNET_HDR); CONST(NETMAP_BDG_NEWIF);
	CONST(NETMAP_BDG_DELIF); CONST(NETMAP_PT_HOST_CREATE);
	CONST(NETMAP_PT_HOST_DELETE); CONST(NETMAP_BDG_POLLING_ON);
	CONST(NETMAP_BDG_POLLING_OFF); CONST(NETMAP_VNET_HDR_GET);
	CONST(NETMAP_BDG_HOST);

	CONST(NIOCGINFO); CONST(NIOCREGIF); CONST(NIOCTXSYNC);
	CONST(NIOCRXSYNC); CONST(NIOCCONFIG); CONST(NIOCCTRL);
}

static void die(const char *what)
{
	printf("error %s\n", what);
	exit(1);
}

/* [ofs, ofs + len) lies inside a region of `size` bytes. */
static int inside(int64_t ofs, uint64_t len, size_t size)
{
	return ofs >= 0 && (uint64_t)ofs <= size && len <= size - (uint64_t)ofs;
}

/* Print everything reachable from the netmap_if at the start of `base`. */
static void dump_region(const char *base, size_t size)
{
	const struct netmap_if *nifp = (const struct netmap_if *)(const void *)base;
	uint32_t total, i, j;
	char name[NM_IFNAMSIZ + 1];
	const struct netmap_ring *any_ring = NULL;

	if (size < sizeof(*nifp))
		die("region smaller than a netmap_if");
	memcpy(name, nifp->ni_name, NM_IFNAMSIZ);
	name[NM_IFNAMSIZ] = '\0';
	printf("if.ni_name %s\n", name);
	printf("if.ni_version %" PRIu32 "\n", nifp->ni_version);
	printf("if.ni_flags %" PRIu32 "\n", nifp->ni_flags);
	printf("if.ni_tx_rings %" PRIu32 "\n", nifp->ni_tx_rings);
	printf("if.ni_rx_rings %" PRIu32 "\n", nifp->ni_rx_rings);
	printf("if.ni_bufs_head %" PRIu32 "\n", nifp->ni_bufs_head);
	printf("if.ni_host_tx_rings %" PRIu32 "\n", nifp->ni_host_tx_rings);
	printf("if.ni_host_rx_rings %" PRIu32 "\n", nifp->ni_host_rx_rings);

	total = nifp->ni_tx_rings + nifp->ni_host_tx_rings +
		nifp->ni_rx_rings + nifp->ni_host_rx_rings;
	if (!inside(0, sizeof(*nifp) + (uint64_t)total * sizeof(int64_t), size))
		die("ring_ofs[] runs past the region");

	for (i = 0; i < total; i++) {
		const struct netmap_ring *ring;
		int64_t ofs = nifp->ring_ofs[i];

		printf("if.ring_ofs.%" PRIu32 " %" PRId64 "\n", i, ofs);
		if (ofs == 0)
			continue;
		if (ofs % NM_CACHE_ALIGN != 0 || !inside(ofs, sizeof(*ring), size))
			die("ring offset misaligned or outside the region");
		ring = NM_ABI_RING(nifp, i);
		if (!inside(ofs, sizeof(*ring) + (uint64_t)ring->num_slots * sizeof(struct netmap_slot), size))
			die("slots run past the region");
		any_ring = ring;

		printf("ring.%" PRIu32 ".buf_ofs %" PRId64 "\n", i, ring->buf_ofs);
		printf("ring.%" PRIu32 ".num_slots %" PRIu32 "\n", i, ring->num_slots);
		printf("ring.%" PRIu32 ".nr_buf_size %" PRIu32 "\n", i, ring->nr_buf_size);
		printf("ring.%" PRIu32 ".ringid %" PRIu16 "\n", i, ring->ringid);
		printf("ring.%" PRIu32 ".dir %" PRIu16 "\n", i, ring->dir);
		printf("ring.%" PRIu32 ".head %" PRIu32 "\n", i, ring->head);
		printf("ring.%" PRIu32 ".cur %" PRIu32 "\n", i, ring->cur);
		printf("ring.%" PRIu32 ".tail %" PRIu32 "\n", i, ring->tail);
		printf("ring.%" PRIu32 ".flags %" PRIu32 "\n", i, ring->flags);
		printf("ring.%" PRIu32 ".ts.tv_sec %lld\n", i, (long long)ring->ts.tv_sec);
		printf("ring.%" PRIu32 ".ts.tv_usec %lld\n", i, (long long)ring->ts.tv_usec);
		printf("ring.%" PRIu32 ".offset_mask %" PRIu64 "\n", i, ring->offset_mask);
		printf("ring.%" PRIu32 ".buf_align %" PRIu64 "\n", i, ring->buf_align);

		for (j = 0; j < ring->num_slots; j++) {
			const struct netmap_slot *slot = &ring->slot[j];
			int64_t buf = ofs + ring->buf_ofs +
				(int64_t)slot->buf_idx * ring->nr_buf_size;
			const unsigned char *payload;
			uint16_t k;

			printf("ring.%" PRIu32 ".slot.%" PRIu32 ".buf_idx %" PRIu32 "\n", i, j, slot->buf_idx);
			printf("ring.%" PRIu32 ".slot.%" PRIu32 ".len %" PRIu16 "\n", i, j, slot->len);
			printf("ring.%" PRIu32 ".slot.%" PRIu32 ".flags %" PRIu16 "\n", i, j, slot->flags);
			printf("ring.%" PRIu32 ".slot.%" PRIu32 ".ptr %" PRIu64 "\n", i, j, slot->ptr);
			if (slot->len > ring->nr_buf_size || !inside(buf, slot->len, size))
				die("slot payload outside the region");
			payload = (const unsigned char *)NM_ABI_BUF(ring, slot->buf_idx);
			printf("ring.%" PRIu32 ".slot.%" PRIu32 ".payload ", i, j);
			for (k = 0; k < slot->len; k++)
				printf("%02x", payload[k]);
			printf("\n");
		}
	}

	/* The extra buffers, linked through the first uint32_t of each. */
	printf("if.extra_bufs");
	if (nifp->ni_bufs_head != 0) {
		uint32_t idx = nifp->ni_bufs_head, n = 0;

		if (any_ring == NULL)
			die("extra buffers but no ring to address them");
		while (idx != 0) {
			int64_t buf = ((const char *)any_ring - base) + any_ring->buf_ofs +
				(int64_t)idx * any_ring->nr_buf_size;
			uint32_t link;

			if (++n > MAX_EXTRA_BUFS || !inside(buf, sizeof(link), size))
				die("extra-buffer list corrupt");
			printf(" %" PRIu32, idx);
			memcpy(&link, NM_ABI_BUF(any_ring, idx), sizeof(link));
			idx = link;
		}
	}
	printf("\n");
}

static char *alloc_region(size_t size)
{
	size_t rounded = (size + REGION_ALIGN - 1) / REGION_ALIGN * REGION_ALIGN;
	char *mem = aligned_alloc(REGION_ALIGN, rounded ? rounded : REGION_ALIGN);

	if (mem == NULL)
		die("out of memory");
	memset(mem, 0, rounded ? rounded : REGION_ALIGN);
	return mem;
}

static int dump_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	long size;
	char *mem;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		die("cannot open or size the input file");
	mem = alloc_region((size_t)size);
	if (fread(mem, 1, (size_t)size, f) != (size_t)size)
		die("short read");
	fclose(f);
	dump_region(mem, (size_t)size);
	free(mem);
	return 0;
}

/*
 * The C-built region: "c-side", 2 NIC tx rings (the second not bound),
 * 1 host tx ring, 1 NIC rx ring, no host rx ring; 4 slots per ring;
 * buffers of 2112 bytes (not a power of two) after the rings; an
 * extra-buffer list 20 -> 22 -> 21.
 */
#define FILL_SLOTS      4
#define FILL_BUF_SIZE   2112
#define FILL_RING_SPAN  512     /* 256 header + 4 * 16 slots, rounded up */
#define FILL_BUFS_AT    4096
#define FILL_NBUFS      24
#define FILL_SIZE       (FILL_BUFS_AT + FILL_NBUFS * FILL_BUF_SIZE)

static int fill_file(const char *path)
{
	char *mem = alloc_region(FILL_SIZE);
	struct netmap_if *nifp = (struct netmap_if *)(void *)mem;
	/* ring_ofs entries: tx0, tx1 (unbound), host tx0, rx0 */
	const int64_t ring_at[4] = { 256, 0, 256 + FILL_RING_SPAN, 256 + 2 * FILL_RING_SPAN };
	FILE *f;
	int i;
	uint32_t j, link;

	memcpy(nifp->ni_name, "c-side", 7);
	nifp->ni_version = NETMAP_API;
	nifp->ni_flags = NI_PRIV_MEM;
	nifp->ni_tx_rings = 2;
	nifp->ni_rx_rings = 1;
	nifp->ni_host_tx_rings = 1;
	nifp->ni_host_rx_rings = 0;
	nifp->ni_bufs_head = 20;
	for (i = 0; i < 4; i++)
		nifp->ring_ofs[i] = ring_at[i];

	for (i = 0; i < 4; i++) {
		struct netmap_ring *ring;

		if (ring_at[i] == 0)
			continue;
		ring = (struct netmap_ring *)(void *)(mem + ring_at[i]);
		ring->buf_ofs = FILL_BUFS_AT - ring_at[i];
		ring->num_slots = FILL_SLOTS;
		ring->nr_buf_size = FILL_BUF_SIZE;
		ring->ringid = (uint16_t)(i == 3 ? 0 : i);
		ring->dir = (uint16_t)(i == 3);
		ring->head = (uint32_t)i % FILL_SLOTS;
		ring->cur = ((uint32_t)i + 1) % FILL_SLOTS;
		ring->tail = ((uint32_t)i + 3) % FILL_SLOTS;
		ring->flags = NR_TIMESTAMP | (i == 3 ? NR_FORWARD : 0);
		ring->ts.tv_sec = 1700000000 + i;
		ring->ts.tv_usec = 999999 - i;
		ring->offset_mask = i == 2 ? 0xfff : 0;
		ring->buf_align = i == 2 ? 64 : 0;
		for (j = 0; j < FILL_SLOTS; j++) {
			struct netmap_slot *slot = &ring->slot[j];
			unsigned char *payload;
			uint16_t k;

			slot->buf_idx = 2 + (uint32_t)i * FILL_SLOTS + j;
			slot->len = (uint16_t)(14 + 3 * j);
			slot->flags = (uint16_t)((j % 2 ? NS_MOREFRAG : 0) | (j << NS_PORT_SHIFT));
			slot->ptr = 0x0123456789abcdefull ^ ((uint64_t)i << 56) ^ j;
			payload = (unsigned char *)NM_ABI_BUF(ring, slot->buf_idx);
			for (k = 0; k < slot->len; k++)
				payload[k] = (unsigned char)(i * 64 + j * 16 + k);
		}
	}
	/* Extra buffers 20 -> 22 -> 21 -> end, addressed through ring 0. */
	link = 22;
	memcpy(NM_ABI_BUF(NM_ABI_RING(nifp, 0), 20), &link, sizeof(link));
	link = 21;
	memcpy(NM_ABI_BUF(NM_ABI_RING(nifp, 0), 22), &link, sizeof(link));
	link = 0;
	memcpy(NM_ABI_BUF(NM_ABI_RING(nifp, 0), 21), &link, sizeof(link));

	f = fopen(path, "wb");
	if (f == NULL || fwrite(mem, 1, FILL_SIZE, f) != FILL_SIZE || fclose(f) != 0)
		die("cannot write the output file");
	dump_region(mem, FILL_SIZE);
	free(mem);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "layout") == 0) {
		print_layout();
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "dump") == 0)
		return dump_file(argv[2]);
	if (argc == 3 && strcmp(argv[1], "fill") == 0)
		return fill_file(argv[2]);
	fprintf(stderr, "usage: %s layout | dump FILE | fill FILE\n", argv[0]);
	return 2;
}
