// The port table, decoded into per-port fields for a data path stage.
// Included inside a module after regmap.svh, with NUM_PORTS and an input
// `port_cfg` (entry p's register r at bits (p * PORT_ENTRY_REGS + r) * 32
// +: 32) in scope. Each stage reads the fields it needs; synthesis drops
// the rest.

    // ---- Port table fields, per port -----------------------------------
    // Each stage reads the fields it needs; the rest are left to
    // synthesis to drop.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0] cfg_kind     [NUM_PORTS];
    logic [15:0] cfg_tx_rings [NUM_PORTS];
    logic [15:0] cfg_rx_rings [NUM_PORTS];
    logic [15:0] cfg_tx_slots [NUM_PORTS];
    logic [15:0] cfg_rx_slots [NUM_PORTS];
    logic [31:0] cfg_buf_size [NUM_PORTS];
    logic [31:0] cfg_peer     [NUM_PORTS];
    logic [31:0] cfg_ring_addr [NUM_PORTS];  // BAR2 offset of TX ring 0
    logic [63:0] cfg_pool     [NUM_PORTS];
    logic [63:0] cfg_status   [NUM_PORTS];
    logic [31:0] cfg_num_bufs [NUM_PORTS];
    logic [63:0] cfg_rx_ring  [NUM_PORTS];
    logic [31:0] cfg_tx_host  [NUM_PORTS];  // host TX ring 0 - status blocks, 0: none
    logic [NUM_PORTS*PORT_ENTRY_REGS*32-1:0] cfg_unused;
    assign cfg_unused = port_cfg;
    /* verilator lint_on UNUSEDSIGNAL */
    // Field `offset` (a PORT_* byte offset) of entry p, a constant slice.
    `define DP_FIELD(p, offset) port_cfg[((p) * PORT_ENTRY_REGS + (offset) / 4) * 32 +: 32]
    `define DP_HALF(p, offset, hi) port_cfg[((p) * PORT_ENTRY_REGS + (offset) / 4) * 32 + (hi) * 16 +: 16]
    for (genvar p = 0; p < NUM_PORTS; p++) begin : g_cfg
        assign cfg_kind[p]      = `DP_FIELD(p, PORT_KIND);
        assign cfg_tx_rings[p]  = `DP_HALF(p, PORT_RINGS, 0);
        assign cfg_rx_rings[p]  = `DP_HALF(p, PORT_RINGS, 1);
        assign cfg_tx_slots[p]  = `DP_HALF(p, PORT_SLOTS, 0);
        assign cfg_rx_slots[p]  = `DP_HALF(p, PORT_SLOTS, 1);
        assign cfg_buf_size[p]  = `DP_FIELD(p, PORT_BUF_SIZE);
        assign cfg_peer[p]      = `DP_FIELD(p, PORT_PIPE_PEER);
        assign cfg_ring_addr[p] = `DP_FIELD(p, PORT_RING_ADDR_LO);
        assign cfg_pool[p]      = {`DP_FIELD(p, PORT_POOL_ADDR_HI),
                                   `DP_FIELD(p, PORT_POOL_ADDR_LO)};
        assign cfg_status[p]    = {`DP_FIELD(p, PORT_STATUS_ADDR_HI),
                                   `DP_FIELD(p, PORT_STATUS_ADDR_LO)};
        assign cfg_num_bufs[p]  = `DP_FIELD(p, PORT_NUM_BUFS);
        assign cfg_rx_ring[p]   = {`DP_FIELD(p, PORT_RX_RING_ADDR_HI),
                                   `DP_FIELD(p, PORT_RX_RING_ADDR_LO)};
        assign cfg_tx_host[p]   = `DP_FIELD(p, PORT_TX_HOST_RING_OFF);
    end
    `undef DP_FIELD
    `undef DP_HALF

