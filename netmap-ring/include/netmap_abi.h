/*
 * netmap_abi.h - the netmap API version 14 layout, as this project uses it.
 *
 * This is the project's own C description of the structures and constants
 * that netmap-ring (Rust, src/abi.rs) places in shared memory and passes to
 * ioctl. It targets x86-64 Linux and uses only standard C11 types, so a C
 * program can read memory produced by the Rust side and the test suite can
 * compare both descriptions (tests/abi_c.rs, tests/c/abi_layout.c).
 *
 * The structure and field names follow netmap so that code written for
 * netmap reads naturally; a program should include either this header or
 * netmap's own, not both.
 */
#ifndef NETMAP_RING_NETMAP_ABI_H
#define NETMAP_RING_NETMAP_ABI_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/time.h>

/* ---- versions and sizes ------------------------------------------------ */

#define NETMAP_API            14
#define NETMAP_MIN_API        14
#define NETMAP_MAX_API        15
#define NM_CACHE_ALIGN        128
#define NM_IFNAMSIZ           16   /* IFNAMSIZ in netmap; renamed to avoid net/if.h */
#define NETMAP_REQ_IFNAMSIZ   64
#define NETMAP_REQ_MAXSIZE    4096
#define NETMAP_MAX_FRAGS      64
#define NM_IFRDATA_LEN        256

/* ---- shared memory ----------------------------------------------------- */

/* A buffer descriptor. */
struct netmap_slot {
	uint32_t buf_idx;  /* buffer index in the pool */
	uint16_t len;      /* payload bytes */
	uint16_t flags;    /* NS_*; high byte: VALE port (tx) or fragments (rx) */
	uint64_t ptr;      /* indirect payload address, or offset with OPT_OFFSETS */
};

/* A ring: this header, then num_slots slots. */
struct netmap_ring {
	int64_t        buf_ofs;      /* buffer pool, relative to this ring */
	uint32_t       num_slots;
	uint32_t       nr_buf_size;
	uint16_t       ringid;
	uint16_t       dir;          /* 0 tx, 1 rx */
	uint32_t       head;         /* user: first slot it owns */
	uint32_t       cur;          /* user: wake-up point */
	uint32_t       tail;         /* kernel: first slot it owns */
	uint32_t       flags;        /* NR_TIMESTAMP, NR_FORWARD */
	struct timeval ts;           /* time of the last sync */
	uint64_t       offset_mask;  /* bits of slot.ptr holding an offset */
	uint64_t       buf_align;    /* alignment of packet starts */
	_Alignas(NM_CACHE_ALIGN) uint8_t sem[128];
	struct netmap_slot slot[];
};

/* One per bound descriptor: this header, then one ring offset per ring in
 * the order NIC tx, host tx, NIC rx, host rx (0: ring not bound). */
struct netmap_if {
	char     ni_name[NM_IFNAMSIZ];
	uint32_t ni_version;
	uint32_t ni_flags;          /* NI_PRIV_MEM */
	uint32_t ni_tx_rings;
	uint32_t ni_rx_rings;
	uint32_t ni_bufs_head;      /* extra buffers, linked by first uint32_t */
	uint32_t ni_host_tx_rings;
	uint32_t ni_host_rx_rings;
	uint32_t ni_spare1[3];
	int64_t  ring_ofs[];        /* relative to this structure */
};

/* Address of ring_ofs[i] as a ring, and of buffer i of a ring. */
#define NM_ABI_RING(nifp, i) \
	((struct netmap_ring *)(void *)((char *)(nifp) + (nifp)->ring_ofs[i]))
#define NM_ABI_BUF(ring, i) \
	((char *)(ring) + (ring)->buf_ofs + (int64_t)(i) * (ring)->nr_buf_size)

/* ---- requests (process memory) ---------------------------------------- */

/* Legacy request of NIOCREGIF and NIOCGINFO. */
struct nmreq {
	char     nr_name[NM_IFNAMSIZ];
	uint32_t nr_version;
	uint32_t nr_offset;
	uint32_t nr_memsize;
	uint32_t nr_tx_slots;
	uint32_t nr_rx_slots;
	uint16_t nr_tx_rings;
	uint16_t nr_rx_rings;
	uint16_t nr_ringid;   /* ring number, NETMAP_HW_RING ... */
	uint16_t nr_cmd;      /* NETMAP_BDG_* */
	uint16_t nr_arg1;
	uint16_t nr_arg2;     /* memory allocator id */
	uint32_t nr_arg3;     /* extra buffers */
	uint32_t nr_flags;    /* NR_REG_* in NR_REG_MASK, plus NR_* */
	uint32_t spare2[1];
};

/* Argument of NIOCCTRL. */
struct nmreq_header {
	uint16_t nr_version;
	uint16_t nr_reqtype;   /* NETMAP_REQ_* */
	uint32_t nr_reserved;
	char     nr_name[NETMAP_REQ_IFNAMSIZ];
	uint64_t nr_options;   /* address of the first nmreq_option */
	uint64_t nr_body;      /* address of the body, e.g. nmreq_register */
};

struct nmreq_register {
	uint64_t nr_offset;
	uint64_t nr_memsize;
	uint32_t nr_tx_slots;
	uint32_t nr_rx_slots;
	uint16_t nr_tx_rings;
	uint16_t nr_rx_rings;
	uint16_t nr_host_tx_rings;
	uint16_t nr_host_rx_rings;
	uint16_t nr_mem_id;
	uint16_t nr_ringid;
	uint32_t nr_mode;       /* NR_REG_* */
	uint32_t nr_extra_bufs;
	uint64_t nr_flags;      /* NR_* register flags */
};

struct nmreq_option {
	uint64_t nro_next;
	uint32_t nro_reqtype;   /* NETMAP_REQ_OPT_* */
	uint32_t nro_status;
	uint64_t nro_size;
};

struct nmreq_pools_info {
	uint64_t nr_memsize;
	uint16_t nr_mem_id;
	uint16_t pad1[3];
	uint64_t nr_if_pool_offset;
	uint32_t nr_if_pool_objtotal;
	uint32_t nr_if_pool_objsize;
	uint64_t nr_ring_pool_offset;
	uint32_t nr_ring_pool_objtotal;
	uint32_t nr_ring_pool_objsize;
	uint64_t nr_buf_pool_offset;
	uint32_t nr_buf_pool_objtotal;
	uint32_t nr_buf_pool_objsize;
};

struct nmreq_opt_extmem {
	struct nmreq_option     nro_opt;
	uint64_t                nro_usrptr;
	struct nmreq_pools_info nro_info;
};

struct nmreq_opt_offsets {
	struct nmreq_option nro_opt;
	uint64_t nro_max_offset;
	uint64_t nro_initial_offset;
	uint32_t nro_offset_bits;
	uint32_t nro_tx_align;
	uint64_t nro_min_gap;
};

/* Argument of NIOCCONFIG. */
struct nm_ifreq {
	char nifr_name[NM_IFNAMSIZ];
	char data[NM_IFRDATA_LEN];
};

/* ---- slot flags -------------------------------------------------------- */

#define NS_BUF_CHANGED  0x0001
#define NS_REPORT       0x0002
#define NS_FORWARD      0x0004
#define NS_NO_LEARN     0x0008
#define NS_INDIRECT     0x0010
#define NS_MOREFRAG     0x0020
#define NS_TXMON        0x0040
#define NS_PORT_SHIFT   8
#define NS_PORT_MASK    (0xff << NS_PORT_SHIFT)
#define NS_RFRAGS(slot) (((slot)->flags >> 8) & 0xff)

/* ---- ring and interface flags ------------------------------------------ */

#define NR_TIMESTAMP    0x0002
#define NR_FORWARD      0x0004
#define NI_PRIV_MEM     0x1

/* ---- register modes and flags ------------------------------------------ */

enum {
	NR_REG_DEFAULT     = 0,
	NR_REG_ALL_NIC     = 1,
	NR_REG_SW          = 2,
	NR_REG_NIC_SW      = 3,
	NR_REG_ONE_NIC     = 4,
	NR_REG_PIPE_MASTER = 5,
	NR_REG_PIPE_SLAVE  = 6,
	NR_REG_NULL        = 7,
	NR_REG_ONE_SW      = 8,
};
#define NR_REG_MASK          0xf

#define NR_MONITOR_TX        0x100
#define NR_MONITOR_RX        0x200
#define NR_ZCOPY_MON         0x400
#define NR_EXCLUSIVE         0x800
#define NR_RX_RINGS_ONLY     0x2000
#define NR_TX_RINGS_ONLY     0x4000
#define NR_ACCEPT_VNET_HDR   0x8000
#define NR_DO_RX_POLL        0x10000
#define NR_NO_TX_POLL        0x20000

/* ---- request and option types ------------------------------------------ */

enum {
	NETMAP_REQ_REGISTER = 1,
	NETMAP_REQ_PORT_INFO_GET,
	NETMAP_REQ_VALE_ATTACH,
	NETMAP_REQ_VALE_DETACH,
	NETMAP_REQ_VALE_LIST,
	NETMAP_REQ_PORT_HDR_SET,
	NETMAP_REQ_PORT_HDR_GET,
	NETMAP_REQ_VALE_NEWIF,
	NETMAP_REQ_VALE_DELIF,
	NETMAP_REQ_VALE_POLLING_ENABLE,
	NETMAP_REQ_VALE_POLLING_DISABLE,
	NETMAP_REQ_POOLS_INFO_GET,
	NETMAP_REQ_SYNC_KLOOP_START,
	NETMAP_REQ_SYNC_KLOOP_STOP,
	NETMAP_REQ_CSB_ENABLE,
};

enum {
	NETMAP_REQ_OPT_EXTMEM = 1,
	NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS,
	NETMAP_REQ_OPT_CSB,
	NETMAP_REQ_OPT_SYNC_KLOOP_MODE,
	NETMAP_REQ_OPT_OFFSETS,
	NETMAP_REQ_OPT_MAX,
};

#define NM_OPT_SYNC_KLOOP_DIRECT_TX     (1 << 0)
#define NM_OPT_SYNC_KLOOP_DIRECT_RX     (1 << 1)
#define NETMAP_POLLING_MODE_SINGLE_CPU  1
#define NETMAP_POLLING_MODE_MULTI_CPU   2

/* ---- legacy ring bits and commands ------------------------------------- */

#define NETMAP_HW_RING          0x4000
#define NETMAP_SW_RING          0x2000
#define NETMAP_RING_MASK        0x0fff
#define NETMAP_NO_TX_POLL       0x1000
#define NETMAP_DO_RX_POLL       0x8000

#define NETMAP_BDG_ATTACH       1
#define NETMAP_BDG_DETACH       2
#define NETMAP_BDG_REGOPS       3
#define NETMAP_BDG_LIST         4
#define NETMAP_BDG_VNET_HDR     5
#define NETMAP_BDG_NEWIF        6
#define NETMAP_BDG_DELIF        7
#define NETMAP_PT_HOST_CREATE   8
#define NETMAP_PT_HOST_DELETE   9
#define NETMAP_BDG_POLLING_ON   10
#define NETMAP_BDG_POLLING_OFF  11
#define NETMAP_VNET_HDR_GET     12
#define NETMAP_BDG_HOST         1

/* ---- ioctl numbers (built with the system's _IO/_IOWR) ----------------- */

#define NIOCGINFO   _IOWR('i', 145, struct nmreq)
#define NIOCREGIF   _IOWR('i', 146, struct nmreq)
#define NIOCTXSYNC  _IO('i', 148)
#define NIOCRXSYNC  _IO('i', 149)
#define NIOCCONFIG  _IOWR('i', 150, struct nm_ifreq)
#define NIOCCTRL    _IOWR('i', 151, struct nmreq_header)

#endif /* NETMAP_RING_NETMAP_ABI_H */
