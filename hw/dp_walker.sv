// The data path: on a doorbell, walks a TX ring in BAR2 and either
// forwards its frames through the VALE switch (copying payloads by DMA
// into the destinations' RX buffers in host memory) or moves its slot
// descriptors to the peer's RX ring (pipe crossover). Publishes progress
// in the status blocks (host memory) and raises a port's notification
// line when the host asked for one. docs/datapath.md describes the model;
// every rule here is the software engine's (vale-offload forward.rs and
// pipe.rs), which the differential test holds it to.
//
// One sequential state machine with one DMA read in flight: correct first.
// docs/datapath.md says which states bound the throughput and how
// pipelining them lifts it.
`include "nm_defines.svh"

module dp_walker #(
    // Port table entries.
    parameter int NUM_PORTS = 8,
    // Rings per direction per port served (at most 16).
    parameter int RINGS     = 4,
    // BAR2 size in bytes.
    parameter int BAR2_BYTES = 262144
) (
    input  logic        clk,
    input  logic        rst,

    // Port table (bar0_regs): enables and every entry's registers
    // (PORT_ENTRY_REGS = 16 per entry).
    input  logic [NUM_PORTS-1:0]       port_enable,
    input  logic [NUM_PORTS*`NM_PORT_ENTRY_REGS*32-1:0] port_cfg,

    // Doorbells from bar0_regs.
    input  logic        db_valid,
    input  logic        db_rx,
    input  logic [7:0]  db_port,
    input  logic [3:0]  db_ring,
    input  logic [15:0] db_head,

    // BAR2 descriptor memory, device port (64-bit words, read latency 1).
    output logic                               desc_rd_en,
    output logic [$clog2(BAR2_BYTES / 8)-1:0]  desc_rd_word,
    input  logic [63:0]                        desc_rd_data,
    output logic                               desc_wr_en,
    output logic [$clog2(BAR2_BYTES / 8)-1:0]  desc_wr_word,
    output logic [63:0]                        desc_wr_data,

    // Switch core: lookup requests (accepted when issued) and results.
    output logic        lk_valid,
    output logic [47:0] lk_src_mac,
    output logic [47:0] lk_dst_mac,
    output logic [7:0]  lk_src_port,
    output logic        lk_learn,
    input  logic        lk_res_valid,
    input  logic [7:0]  lk_res_port,

    // DMA read channel: requests, and response beats in order.
    output logic         dma_rd_req_valid,
    input  logic         dma_rd_req_ready,
    output logic [63:0]  dma_rd_req_addr,
    output logic [12:0]  dma_rd_req_len,
    output logic [7:0]   dma_rd_req_tag,
    input  logic         dma_rd_rsp_valid,
    output logic         dma_rd_rsp_ready,
    input  logic [511:0] dma_rd_rsp_data,
    input  logic [7:0]   dma_rd_rsp_tag,
    input  logic         dma_rd_rsp_last,

    // DMA write channel: one beat (up to 64 bytes) per request, in order.
    output logic         dma_wr_req_valid,
    input  logic         dma_wr_req_ready,
    output logic [63:0]  dma_wr_req_addr,
    output logic [6:0]   dma_wr_req_len,
    output logic [511:0] dma_wr_req_data,

    // Per-port counter increments (port_counters). Port A only counts
    // events: its amount is the constant 1, so every counter's adder is an
    // incrementer plus port B's amount (a registered amount that Yosys
    // cannot prove constant costs a 32-bit adder input per counter).
    output logic        ca_valid,
    output logic [7:0]  ca_port,
    output logic [3:0]  ca_counter,
    output logic [31:0] ca_amount,
    output logic        cb_valid,
    output logic [7:0]  cb_port,
    output logic [3:0]  cb_counter,
    output logic [31:0] cb_amount,
    output logic        ev_forwarded,

    // Notification lines (one-cycle pulses) and activity.
    output logic [NUM_PORTS-1:0] notify,
    output logic        busy
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    /* verilator lint_on UNUSEDPARAM */

    localparam int NQ     = NUM_PORTS * RINGS;
    localparam int QW     = (NQ > 1) ? $clog2(NQ) : 1;
    localparam int PW     = (NUM_PORTS > 1) ? $clog2(NUM_PORTS) : 1;
    localparam int WORD_W = $clog2(BAR2_BYTES / 8);
    localparam int REGS   = PORT_ENTRY_REGS;
    // ---- Port table fields, per port -----------------------------------
    logic [31:0] cfg_kind [NUM_PORTS];
    logic [15:0] cfg_tx_rings [NUM_PORTS];
    logic [15:0] cfg_rx_rings [NUM_PORTS];
    logic [15:0] cfg_tx_slots [NUM_PORTS];
    logic [15:0] cfg_rx_slots [NUM_PORTS];
    logic [31:0] cfg_buf_size [NUM_PORTS];
    logic [31:0] cfg_peer [NUM_PORTS];
    logic [31:0] cfg_ring_addr [NUM_PORTS];
    logic [63:0] cfg_pool [NUM_PORTS];
    logic [63:0] cfg_status [NUM_PORTS];
    logic [31:0] cfg_num_bufs [NUM_PORTS];
    logic [63:0] cfg_rx_ring [NUM_PORTS];
    logic [31:0] cfg_tx_host [NUM_PORTS];  // host TX ring 0 - status blocks, 0: none
    // Only some fields of the entries are used here.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [NUM_PORTS*REGS*32-1:0] cfg_unused;
    assign cfg_unused = port_cfg;
    /* verilator lint_on UNUSEDSIGNAL */
    // Field `offset` (a PORT_* byte offset) of entry p, a constant slice.
    `define PORT_FIELD(p, offset) port_cfg[((p) * REGS + (offset) / 4) * 32 +: 32]
    `define PORT_HALF(p, offset, hi) port_cfg[((p) * REGS + (offset) / 4) * 32 + (hi) * 16 +: 16]
    for (genvar p = 0; p < NUM_PORTS; p++) begin : g_cfg
        assign cfg_kind[p]      = `PORT_FIELD(p, PORT_KIND);
        assign cfg_tx_rings[p]  = `PORT_HALF(p, PORT_RINGS, 0);
        assign cfg_rx_rings[p]  = `PORT_HALF(p, PORT_RINGS, 1);
        assign cfg_tx_slots[p]  = `PORT_HALF(p, PORT_SLOTS, 0);
        assign cfg_rx_slots[p]  = `PORT_HALF(p, PORT_SLOTS, 1);
        assign cfg_buf_size[p]  = `PORT_FIELD(p, PORT_BUF_SIZE);
        assign cfg_peer[p]      = `PORT_FIELD(p, PORT_PIPE_PEER);
        assign cfg_ring_addr[p] = `PORT_FIELD(p, PORT_RING_ADDR_LO);
        assign cfg_pool[p]      = {`PORT_FIELD(p, PORT_POOL_ADDR_HI),
                                   `PORT_FIELD(p, PORT_POOL_ADDR_LO)};
        assign cfg_status[p]    = {`PORT_FIELD(p, PORT_STATUS_ADDR_HI),
                                   `PORT_FIELD(p, PORT_STATUS_ADDR_LO)};
        assign cfg_num_bufs[p]  = `PORT_FIELD(p, PORT_NUM_BUFS);
        assign cfg_rx_ring[p]   = {`PORT_FIELD(p, PORT_RX_RING_ADDR_HI),
                                   `PORT_FIELD(p, PORT_RX_RING_ADDR_LO)};
        assign cfg_tx_host[p]   = `PORT_FIELD(p, PORT_TX_HOST_RING_OFF);
    end
    `undef PORT_FIELD
    `undef PORT_HALF

    function automatic logic is_vale(input logic [31:0] kind);
        is_vale = kind == PORT_KIND_VALE;
    endfunction
    function automatic logic is_pipe(input logic [31:0] kind);
        is_pipe = kind == PORT_KIND_PIPE_MASTER || kind == PORT_KIND_PIPE_SLAVE;
    endfunction
    // Next slot index in a ring of n slots.
    function automatic logic [15:0] nxt(input logic [15:0] i, input logic [15:0] n);
        nxt = (i + 16'd1 == n) ? 16'd0 : i + 16'd1;
    endfunction
    // (a - b) mod n for a, b < n.
    function automatic logic [15:0] ring_dist(input logic [15:0] a, input logic [15:0] b,
                                        input logic [15:0] n);
        ring_dist = (a >= b) ? a - b : a + n - b;
    endfunction

    // Entry index of (port, ring), and back.
    function automatic logic [QW-1:0] entry_of(input int p, input int r);
        entry_of = QW'(p * RINGS + r);
    endfunction
    function automatic logic [PW-1:0] port_of(input logic [QW-1:0] q);
        port_of = PW'(32'(q) / RINGS);
    endfunction
    function automatic logic [3:0] ring_of(input logic [QW-1:0] q);
        ring_of = 4'(32'(q) % RINGS);
    endfunction

    // Byte offset of a ring's status entry (plus field) in a port's blocks.
    function automatic logic [63:0] st_off(input logic [3:0] ring, input logic rx,
                                         input logic [31:0] field);
        logic [31:0] index;
        index = {28'd0, ring} + (rx ? ST_RX_FIRST : 32'd0);
        st_off = {32'd0, index * ST_SIZE + field};
    endfunction

    // ---- Ring state ------------------------------------------------------
    // TX ring (port p, ring r) is entry p * RINGS + r.
    logic [15:0] tx_hwcur  [NQ];
    logic [15:0] tx_span   [NQ];   // pipes: hwtail - hwcur (mod n)
    logic        tx_fresh  [NQ];   // no service yet: span is n - 1
    logic [15:0] tx_head   [NQ];   // last doorbell value
    logic [NQ-1:0] tx_pend;
    logic [15:0] rx_hwtail [NQ];   // device-owned
    logic [15:0] rx_hwcur  [NQ];   // cached host head (released slots)
    logic [NQ-1:0] rx_dirty;       // published hwtail is stale
    logic [NQ-1:0] rxdb_pend;
    // Prefetched buffer indexes of RX slots hwtail .. hwtail + pf_cnt - 1
    // (released slots, read four per beat): the host may not change a
    // released slot, so the copy stays good until the device fills it.
    // Kept as a ring of four per RX ring: entry t (slot hwtail + t) is in
    // bank (pf_head + t) mod 4, so consuming moves a pointer, not data,
    // and a fill writes each bank at most once.
    localparam int PF = 4;
    logic [2:0]    pf_cnt [NQ];
    logic [1:0]    pf_head [NQ];
    logic [15:0] rxdb_head [NQ];

    // ---- Current job -----------------------------------------------------
    typedef enum logic [5:0] {
        S_IDLE, S_RXDB, S_START, S_SCAN_REQ, S_SCAN, S_DECIDE, S_HDR,
        S_LK_WAIT, S_FLOOD_NEXT, S_DLV_FREE, S_DLV_REFRESH, S_DLV_SLOTRD,
        S_DLV_SLOTWAIT, S_DLV_FILLWAIT, S_DLV_CHECK, S_CP_SLOT, S_CP_ISSUE, S_CP_STREAM,
        S_CP_SLOTWR, S_CP_BEAT, S_P_REFRESH, S_P_DECIDE, S_P_SLOT, S_P_RXRD,
        S_P_RXWAIT, S_P_FILLWAIT, S_P_USE, S_P_WR, S_P_WR2, S_P_COUNT, S_WB_FLUSH, S_FIN,
        S_PUB_NEXT, S_PUB_WR,
        S_PUB_RD, S_PUB_WAIT, S_TXPUB_WR, S_TXPUB_RD, S_TXPUB_WAIT
    } state_t;
    state_t st;

    logic [QW-1:0] pick, rxpick;
    logic          pick_found, rxpick_found;
    logic [QW-1:0] rr_ptr;

    logic [PW-1:0] cp;        // source port
    logic [3:0]    cr;        // ring
    logic [QW-1:0] cq;        // TX entry
    logic [15:0]   chead, cn, ci;
    logic          cpipe;
    logic [15:0]   fstart, fslots;
    logic [31:0]   fbytes;
    logic          fvalid;
    logic [31:0]   first_buf;
    logic [15:0]   first_len, first_flags;
    logic [PW-1:0] dq;        // destination port
    logic [3:0]    drr;       // destination ring
    logic [QW-1:0] dqe;       // destination RX entry
    logic [15:0]   dhw, dhc;  // destination hwtail, cached hwcur
    logic          drefreshed, dflood, flood_any, rxvalid, moved;
    logic [8:0]    fq;        // next flood candidate
    logic [15:0]   k, sidx, jidx;
    logic [31:0]   rx_buf [MAX_FRAGS];
    logic [63:0]   slot_q;    // TX slot being copied or moved
    logic [511:0]  first_beat; // first 64 bytes of the frame's first buffer
    logic [15:0]   copy_left;
    logic [63:0]   copy_dst;
    logic [15:0]   pub_tail;  // TX hwtail to publish
    logic [PW-1:0] pub_port;
    logic [3:0]    pub_ring;
    logic [QW-1:0] pub_entry;
    logic [7:0]    tag_ctr;
    logic [15:0]   pipe_free;
    logic [2:0]    fill_n;     // slots asked for by the prefetch read in flight
    logic [31:0]   rbuf;       // pipe: the receiver's buffer for this slot
    logic [15:0]   pipe_avail;  // sender's room: receiver's free, at most n - 1
    // Pipe write-back: swapped TX slots (16 bytes each) gathered into one
    // DMA write of up to a 64-byte line of the host TX ring, written out
    // before the TX status, so the host never reads BAR2.
    // Only the buffer index differs between the gathered slots: keep it
    // per lane and build the line (a variable part-select of the 512-bit
    // line would make Yosys build two 512-bit barrel shifters).
    logic [31:0]   wb_buf [4];  // receiver's buffer of gathered slot l
    logic [511:0]  wb_data;
    logic [63:0]   wb_addr;   // host address of the first gathered slot
    logic [2:0]    wb_cnt;    // slots gathered
    logic          wb_due;    // the run is complete: write it in the next state
    state_t        wb_ret;    // where S_WB_FLUSH goes on
    assign pipe_avail = (pipe_free < cn - 16'd1) ? pipe_free : cn - 16'd1;
    assign ca_amount = 32'd1;
    // The swapped TX slot, as the engine leaves it: the receiver's buffer,
    // len 0, NS_BUF_CHANGED, ptr 0. Bytes past the run's length are not
    // written.
    always_comb begin
        for (int l = 0; l < 4; l++) begin
            wb_data[128 * l +: 128] = {64'd0, NS_BUF_CHANGED, 16'd0, wb_buf[l]};
        end
    end

    // ---- Derived values of the current job ------------------------------
    logic [15:0] rn, dfree;
    logic [63:0] dring_base, dstatus_entry, slot_addr_rx, slot_addr_txh;
    logic [31:0] tx_ring_base;
    logic        wb_on, wb_joins, wb_last;
    always_comb begin
        rn            = cfg_rx_slots[dq];
        dfree         = ring_dist(dhc + rn - 16'd1 >= rn ? dhc - 16'd1 : dhc + rn - 16'd1, dhw, rn);
        dring_base    = cfg_rx_ring[dq] + 64'(drr) * (64'(RING_HEADER_BYTES) + 64'(rn) * 64'(SLOT_BYTES));
        dstatus_entry = cfg_status[dq] + st_off(drr, 1'b1, 32'd0);
        slot_addr_rx  = dring_base + 64'(RING_HEADER_BYTES) + 64'(jidx) * 64'(SLOT_BYTES);
        tx_ring_base  = cfg_ring_addr[cp] + 32'(cr) * (RING_HEADER_BYTES + 32'(cn) * SLOT_BYTES);
        // Slot sidx of the host's copy of the TX ring.
        slot_addr_txh = cfg_status[cp] + 64'(cfg_tx_host[cp])
                      + 64'(cr) * (64'(RING_HEADER_BYTES) + 64'(cn) * 64'(SLOT_BYTES)) + 64'(RING_HEADER_BYTES) + 64'(sidx) * 64'(SLOT_BYTES);
        wb_on         = cfg_tx_host[cp] != 32'd0;
        // Slot sidx extends the gathered run (a skipped packet breaks it).
        wb_joins      = wb_cnt == 3'd0 || slot_addr_txh == wb_addr + 64'(wb_cnt) * 64'(SLOT_BYTES);
        // With slot sidx the run ends: four slots, a line's end, the ring's end.
        wb_last       = wb_cnt == 3'd3 || slot_addr_txh[5:4] == 2'd3 || nxt(sidx, cn) == 16'd0;
    end
    /* verilator lint_off UNUSEDSIGNAL */
    function automatic logic [WORD_W-1:0] tx_slot_word(input logic [31:0] base,
                                                      input logic [15:0] slot);
        logic [31:0] byte_addr;
        byte_addr = base + RING_HEADER_BYTES + 32'(slot) * SLOT_BYTES;
        tx_slot_word = byte_addr[WORD_W+2:3];
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */

    // Picks: first pending entry at or after the round-robin pointer.
    always_comb begin
        pick_found = 1'b0;
        pick = '0;
        rxpick_found = 1'b0;
        rxpick = '0;
        for (int n = 0; n < NQ; n++) begin
            int j;
            j = 32'(rr_ptr) + n;
            if (j >= NQ) j = j - NQ;
            if (!pick_found && tx_pend[j]) begin
                pick_found = 1'b1;
                pick = QW'(j);
            end
        end
        for (int n = 0; n < NQ; n++) begin
            if (!rxpick_found && rxdb_pend[n]) begin
                rxpick_found = 1'b1;
                rxpick = QW'(n);
            end
        end
    end

    // Unicast destination ring: source ring mod the destination's RX rings.
    logic [3:0] uni_ring;
    logic [15:0] uni_rings;
    always_comb begin
        uni_rings = cfg_rx_rings[PW'(lk_res_port)];
        if (uni_rings == 16'd0) uni_rings = 16'd1;
        uni_ring = 4'(16'(cr) % uni_rings);
    end

    // Next dirty RX ring to publish.
    logic          dirty_found;
    logic [QW-1:0] dirty_pick;
    always_comb begin
        dirty_found = 1'b0;
        dirty_pick  = '0;
        for (int n = 0; n < NQ; n++) begin
            if (!dirty_found && rx_dirty[n]) begin
                dirty_found = 1'b1;
                dirty_pick  = QW'(n);
            end
        end
    end

    // Next flood destination at or after fq: enabled VALE port, not cp.
    logic          flood_found;
    logic [PW-1:0] flood_pick;
    always_comb begin
        flood_found = 1'b0;
        flood_pick  = '0;
        for (int p = 0; p < NUM_PORTS; p++) begin
            if (!flood_found && 9'(p) >= fq && PW'(p) != cp && port_enable[p]
                    && is_vale(cfg_kind[p])) begin
                flood_found = 1'b1;
                flood_pick  = PW'(p);
            end
        end
    end

    // Prefetch of destination slots at jidx = hwtail + k: up to four, not
    // past the ring's end, only released ones (free counts from hwtail).
    logic [15:0] fill_room, fill_free, fill_want;
    logic [2:0]  fill_now;
    always_comb begin
        fill_room = rn - jidx;
        fill_free = (cpipe ? pipe_free : dfree) - k;
        fill_want = 16'(PF) - k;
        if (fill_room < fill_want) fill_want = fill_room;
        if (fill_free < fill_want) fill_want = fill_free;
        fill_now = 3'(fill_want);
    end
    logic        pf_hit;
    logic [31:0] pf_value;
    logic [31:0] pf_rd [PF];
    logic [PF-1:0] pf_we;
    logic [31:0] pf_wd [PF];
    logic        pf_filling;
    assign pf_filling = rsp && (st == S_DLV_FILLWAIT || st == S_P_FILLWAIT);
    logic [1:0]  pf_lane [PF];  // which lane of the beat bank b takes
    always_comb begin
        for (int b = 0; b < PF; b++) begin
            pf_lane[b] = 2'(b) - pf_head[dqe] - k[1:0];
            pf_we[b] = pf_filling && 3'(pf_lane[b]) < fill_n;
            pf_wd[b] = dma_rd_rsp_data[128 * pf_lane[b] +: 32];
        end
    end
    for (genvar b = 0; b < PF; b++) begin : g_pf
        logic [31:0] bank [NQ];
        always_ff @(posedge clk) begin
            if (pf_we[b]) bank[dqe] <= pf_wd[b];
        end
        assign pf_rd[b] = bank[dqe];
    end
    assign pf_hit   = k < 16'(pf_cnt[dqe]);
    assign pf_value = pf_rd[pf_head[dqe] + k[1:0]];

    // BAR2 reads: issued combinationally, the slot arrives next cycle.
    always_comb begin
        desc_rd_en   = 1'b0;
        desc_rd_word = tx_slot_word(tx_ring_base, ci);
        case (st)
            S_SCAN_REQ: desc_rd_en = ci != chead;
            S_SCAN: begin
                desc_rd_en   = (desc_rd_data[8*SLOT_FLAGS +: 16] & NS_MOREFRAG) != 16'd0
                            && nxt(ci, cn) != chead;
                desc_rd_word = tx_slot_word(tx_ring_base, nxt(ci, cn));
            end
            S_CP_SLOT, S_P_SLOT: begin
                desc_rd_en   = 1'b1;
                desc_rd_word = tx_slot_word(tx_ring_base, sidx);
            end
            default: ;
        endcase
    end

    // DMA write holding register: free when empty or leaving this cycle.
    logic wr_free;
    assign wr_free = !dma_wr_req_valid || dma_wr_req_ready;
    // A read waits for earlier writes to leave (reads must not pass them).
    logic rd_can;
    assign rd_can = !dma_wr_req_valid && (!dma_rd_req_valid || dma_rd_req_ready);
    logic rsp;
    assign rsp = dma_rd_rsp_valid && dma_rd_rsp_ready;
    // Only one read is in flight, so the tag is informational.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [7:0] rsp_tag_unused;
    assign rsp_tag_unused = dma_rd_rsp_tag;
    /* verilator lint_on UNUSEDSIGNAL */

    always_comb begin
        dma_rd_rsp_ready = 1'b0;
        case (st)
            S_HDR, S_DLV_REFRESH, S_DLV_SLOTWAIT, S_DLV_FILLWAIT, S_P_REFRESH, S_P_RXWAIT,
            S_P_FILLWAIT,
            S_PUB_WAIT, S_TXPUB_WAIT: dma_rd_rsp_ready = 1'b1;
            S_CP_STREAM: dma_rd_rsp_ready = wr_free;
            default: ;
        endcase
    end

    // Head validation: head in [hwcur, hwcur + span] (mod n), head < n.
    logic [15:0] span_now;
    logic        head_ok;
    always_comb begin
        span_now = tx_fresh[pick] ? cfg_tx_slots[port_of(pick)] - 16'd1 : tx_span[pick];
        head_ok  = tx_head[pick] < cfg_tx_slots[port_of(pick)]
                && ring_dist(tx_head[pick], tx_hwcur[pick], cfg_tx_slots[port_of(pick)]) <= span_now;
    end

    // RX doorbell validation: head in [cached hwcur, hwtail].
    logic        rxdb_ok;
    logic [15:0] rxdb_n;
    always_comb begin
        rxdb_n  = cfg_rx_slots[port_of(rxpick)];
        rxdb_ok = rxdb_head[rxpick] < rxdb_n
               && ring_dist(rxdb_head[rxpick], rx_hwcur[rxpick], rxdb_n)
                  <= ring_dist(rx_hwtail[rxpick], rx_hwcur[rxpick], rxdb_n);
    end

    logic [15:0] beat_head;
    logic [31:0] beat_kick;
    assign beat_head = dma_rd_rsp_data[15:0];
    assign beat_kick = dma_rd_rsp_data[63:32];
    logic        beat_head_ok;
    logic [15:0] hc_now, hw_now, n_now;
    always_comb begin
        hc_now = rx_hwcur[pub_entry];
        hw_now = rx_hwtail[pub_entry];
        n_now  = cfg_rx_slots[pub_port];
        if (st == S_DLV_REFRESH || st == S_P_REFRESH) begin
            hc_now = dhc;
            hw_now = dhw;
            n_now  = rn;
        end
        beat_head_ok = dma_rd_rsp_data[31:16] == 16'd0 && beat_head < n_now
                    && ring_dist(beat_head, hc_now, n_now) <= ring_dist(hw_now, hc_now, n_now);
    end

    // Busy until the last counter increment and notification are out.
    assign busy = st != S_IDLE || |tx_pend || |rxdb_pend || dma_wr_req_valid
               || dma_rd_req_valid || ca_valid || cb_valid || ev_forwarded || |notify;

    // Slots hwtail .. hwtail + n - 1 were filled: drop their prefetched
    // indexes and move the rest down.
    task automatic pf_consume(input logic [QW-1:0] q, input logic [15:0] n);
        pf_head[q] <= pf_head[q] + n[1:0];
        pf_cnt[q]  <= (n >= 16'(pf_cnt[q])) ? 3'd0 : pf_cnt[q] - 3'(n);
    endtask

    // The gathered TX slots into the host's TX ring: one posted write,
    // ahead of the TX status it must not trail.
    task automatic wb_write();
        dma_wr_req_valid <= 1'b1;
        dma_wr_req_addr  <= wb_addr;
        dma_wr_req_len   <= 7'(wb_cnt) * 7'd16;
        dma_wr_req_data  <= wb_data;
        wb_cnt <= '0;
        wb_due <= 1'b0;
    endtask

    always_ff @(posedge clk) begin
        if (rst) begin
            st <= S_IDLE;
            tx_pend <= '0;
            rxdb_pend <= '0;
            rx_dirty <= '0;
            rr_ptr <= '0;
            tag_ctr <= '0;
            dma_rd_req_valid <= 1'b0;
            dma_wr_req_valid <= 1'b0;
            lk_valid <= 1'b0;
            ca_valid <= 1'b0;
            cb_valid <= 1'b0;
            ev_forwarded <= 1'b0;
            notify <= '0;
            desc_wr_en <= 1'b0;
            wb_cnt <= '0;
            wb_due <= 1'b0;
            wb_ret <= S_IDLE;
            for (int q = 0; q < NQ; q++) begin
                tx_hwcur[q] <= '0; tx_span[q] <= '0; tx_fresh[q] <= 1'b1;
                tx_head[q] <= '0; rx_hwtail[q] <= '0; rx_hwcur[q] <= '0;
                rxdb_head[q] <= '0; pf_cnt[q] <= '0; pf_head[q] <= '0;
            end
        end else begin
            ca_valid <= 1'b0;
            cb_valid <= 1'b0;
            ev_forwarded <= 1'b0;
            notify <= '0;
            lk_valid <= 1'b0;
            desc_wr_en <= 1'b0;
            if (dma_rd_req_valid && dma_rd_req_ready) dma_rd_req_valid <= 1'b0;
            if (dma_wr_req_valid && dma_wr_req_ready) dma_wr_req_valid <= 1'b0;

            case (st)
            S_IDLE: begin
                if (rxpick_found) begin
                    st <= S_RXDB;
                end else if (pick_found) begin
                    cq    <= pick;
                    cp    <= PW'(port_of(pick));
                    cr    <= ring_of(pick);
                    chead <= tx_head[pick];
                    cn    <= cfg_tx_slots[port_of(pick)];
                    ci    <= tx_hwcur[pick];
                    rr_ptr <= (32'(pick) + 1 >= NQ) ? '0 : pick + QW'(1);
                    tx_pend[pick] <= 1'b0;
                    moved <= 1'b0;
                    if (!port_enable[port_of(pick)]
                            || 16'(ring_of(pick)) >= cfg_tx_rings[port_of(pick)]) begin
                        st <= S_IDLE;
                    end else if (!head_ok) begin
                        ca_valid <= 1'b1; ca_port <= 8'(port_of(pick));
                        ca_counter <= CNT_BAD_RING_SYNCS;
                        st <= S_IDLE;
                    end else begin
                        st <= S_START;
                    end
                end
            end

            S_RXDB: begin
                // Slots released: update the cache; a pipe end's peer may
                // now move what waited for room.
                rxdb_pend[rxpick] <= 1'b0;
                if (!rxdb_ok) begin
                    ca_valid <= 1'b1; ca_port <= 8'(port_of(rxpick));
                    ca_counter <= CNT_BAD_RING_SYNCS;
                end else begin
                    rx_hwcur[rxpick] <= rxdb_head[rxpick];
                    if (is_pipe(cfg_kind[port_of(rxpick)])
                            && cfg_peer[port_of(rxpick)] < 32'(NUM_PORTS)) begin
                        tx_pend[entry_of(32'(cfg_peer[port_of(rxpick)]),
                                         32'(ring_of(rxpick)))] <= 1'b1;
                    end
                end
                st <= S_IDLE;
            end

            S_START: begin
                cpipe <= is_pipe(cfg_kind[cp]);
                if (is_vale(cfg_kind[cp])) begin
                    st <= S_SCAN_REQ;
                end else if (is_pipe(cfg_kind[cp]) && cfg_peer[cp] < 32'(NUM_PORTS)
                             && port_enable[PW'(cfg_peer[cp])]
                             && is_pipe(cfg_kind[PW'(cfg_peer[cp])])
                             // Paired both ways: an entry that names a
                             // reused entry (its end closed, the index
                             // taken by another pipe) holds its frames.
                             && cfg_peer[PW'(cfg_peer[cp])] == 32'(cp)
                             && 16'(cr) < cfg_rx_rings[PW'(cfg_peer[cp])]) begin
                    dq  <= PW'(cfg_peer[cp]);
                    drr <= cr;
                    dqe <= entry_of(32'(cfg_peer[cp]), 32'(cr));
                    dhw <= rx_hwtail[entry_of(32'(cfg_peer[cp]), 32'(cr))];
                    dhc <= rx_hwcur[entry_of(32'(cfg_peer[cp]), 32'(cr))];
                    st  <= S_P_REFRESH;
                    // The receiver's released slots, as fresh as possible.
                    dma_rd_req_valid <= 1'b1;
                    dma_rd_req_addr  <= cfg_status[PW'(cfg_peer[cp])] + st_off(cr, 1'b1, ST_HEAD);
                    dma_rd_req_len   <= 13'd8;
                    dma_rd_req_tag   <= tag_ctr;
                    tag_ctr <= tag_ctr + 8'd1;
                end else begin
                    st <= S_IDLE;  // the pipe's other end is gone
                end
            end

            // ---- Frame scan (both kinds) ---------------------------------
            S_SCAN_REQ: begin
                if (ci == chead) begin
                    st <= S_FIN;
                end else begin
                    fstart <= ci;
                    fslots <= '0;
                    fbytes <= '0;
                    fvalid <= 1'b1;
                    st <= S_SCAN;
                end
            end

            S_SCAN: begin
                // desc_rd_data: slot ci (buf_idx, len, flags).
                fslots <= fslots + 16'd1;
                fbytes <= fbytes + 32'(desc_rd_data[8*SLOT_LEN +: 16]);
                fvalid <= fvalid && desc_rd_data[8*SLOT_BUF_IDX +: 32] >= BUF_FIRST_VALID
                       && desc_rd_data[8*SLOT_BUF_IDX +: 32] < cfg_num_bufs[cp]
                       && 32'(desc_rd_data[8*SLOT_LEN +: 16]) <= cfg_buf_size[cp];
                if (fslots == 16'd0) begin
                    first_buf   <= desc_rd_data[8*SLOT_BUF_IDX +: 32];
                    first_len   <= desc_rd_data[8*SLOT_LEN +: 16];
                    first_flags <= desc_rd_data[8*SLOT_FLAGS +: 16];
                end
                ci <= nxt(ci, cn);
                if ((desc_rd_data[8*SLOT_FLAGS +: 16] & NS_MOREFRAG) == 16'd0) begin
                    st <= cpipe ? S_P_DECIDE : S_DECIDE;
                end else if (nxt(ci, cn) == chead) begin
                    // Unfinished chain: it waits at hwcur, unless (VALE) it
                    // is already too long to ever be forwarded.
                    if (!cpipe && fslots + 16'd1 > 16'(MAX_FRAGS)) begin
                        ca_valid <= 1'b1; ca_port <= 8'(cp);
                        ca_counter <= CNT_TX_DROP_CHAIN;
                    end else begin
                        ci <= fstart;
                    end
                    st <= S_FIN;
                end else begin
                end
            end

            // ---- VALE ----------------------------------------------------
            S_DECIDE: begin
                if (fslots > 16'(MAX_FRAGS)) begin
                    ca_valid <= 1'b1; ca_port <= 8'(cp);
                    ca_counter <= CNT_TX_DROP_CHAIN;
                    st <= S_SCAN_REQ;
                end else if (!fvalid) begin
                    ca_valid <= 1'b1; ca_port <= 8'(cp);
                    ca_counter <= CNT_TX_DROP_BAD_SLOT;
                    st <= S_SCAN_REQ;
                end else if (32'(first_len) < ETH_HEADER_LEN) begin
                    ca_valid <= 1'b1; ca_port <= 8'(cp);
                    ca_counter <= CNT_TX_DROP_SHORT;
                    st <= S_SCAN_REQ;
                end else if (rd_can) begin
                    dma_rd_req_valid <= 1'b1;
                    dma_rd_req_addr  <= cfg_pool[cp] + 64'(first_buf) * 64'(cfg_buf_size[cp]);
                    // The first beat: the header, and the whole payload of a
                    // frame up to 64 bytes (copied from here, not re-read).
                    dma_rd_req_len   <= first_len > 16'd64 ? 13'd64 : 13'(first_len);
                    dma_rd_req_tag   <= tag_ctr;
                    tag_ctr <= tag_ctr + 8'd1;
                    st <= S_HDR;
                end
            end

            S_HDR: begin
                if (rsp) begin
                    first_beat  <= dma_rd_rsp_data;
                    lk_dst_mac  <= dma_rd_rsp_data[47:0];
                    lk_src_mac  <= dma_rd_rsp_data[95:48];
                    lk_src_port <= 8'(cp);
                    lk_learn    <= (first_flags & NS_NO_LEARN) == 16'd0;
                    lk_valid    <= 1'b1;
                    st <= S_LK_WAIT;
                end
            end

            S_LK_WAIT: begin
                if (lk_res_valid) begin
                    if (lk_res_port == PORT_DROP) begin
                        ca_valid <= 1'b1; ca_port <= 8'(cp);
                        ca_counter <= CNT_TX_DROP_SAME_PORT;
                        st <= S_SCAN_REQ;
                    end else begin
                        ca_valid <= 1'b1; ca_port <= 8'(cp);
                        ca_counter <= CNT_TX_PACKETS;
                        cb_valid <= 1'b1; cb_port <= 8'(cp);
                        cb_counter <= CNT_TX_BYTES; cb_amount <= fbytes;
                        if (lk_res_port == PORT_FLOOD) begin
                            dflood    <= 1'b1;
                            flood_any <= 1'b0;
                            fq        <= '0;
                            st <= S_FLOOD_NEXT;
                        end else if (32'(lk_res_port) < 32'(NUM_PORTS)
                                     && PW'(lk_res_port) != cp
                                     && port_enable[PW'(lk_res_port)]
                                     && is_vale(cfg_kind[PW'(lk_res_port)])) begin
                            dflood <= 1'b0;
                            dq  <= PW'(lk_res_port);
                            drr <= uni_ring;
                            st  <= S_DLV_FREE;
                            drefreshed <= 1'b0;
                            dqe <= entry_of(32'(lk_res_port), 32'(uni_ring));
                            dhw <= rx_hwtail[entry_of(32'(lk_res_port), 32'(uni_ring))];
                            dhc <= rx_hwcur[entry_of(32'(lk_res_port), 32'(uni_ring))];
                        end else begin
                            st <= S_SCAN_REQ;  // destination gone: nothing to do
                        end
                    end
                end
            end

            S_FLOOD_NEXT: begin
                if (flood_found) begin
                    flood_any <= 1'b1;
                    fq  <= 9'(flood_pick) + 9'd1;
                    dq  <= flood_pick;
                    drr <= 4'd0;
                    dqe <= entry_of(32'(flood_pick), 0);
                    dhw <= rx_hwtail[entry_of(32'(flood_pick), 0)];
                    dhc <= rx_hwcur[entry_of(32'(flood_pick), 0)];
                    drefreshed <= 1'b0;
                    st  <= S_DLV_FREE;
                end else begin
                    if (!flood_any) begin
                        ca_valid <= 1'b1; ca_port <= 8'(cp);
                        ca_counter <= CNT_TX_DROP_NO_DEST;
                    end
                    st <= S_SCAN_REQ;
                end
            end

            // ---- Delivery of one frame into (dq, drr) --------------------
            S_DLV_FREE: begin
                if (fslots > dfree) begin
                    if (!drefreshed) begin
                        if (rd_can) begin
                            dma_rd_req_valid <= 1'b1;
                            dma_rd_req_addr  <= dstatus_entry + {32'd0, ST_HEAD};
                            dma_rd_req_len   <= 13'd8;
                            dma_rd_req_tag   <= tag_ctr;
                            tag_ctr <= tag_ctr + 8'd1;
                            st <= S_DLV_REFRESH;
                        end
                    end else begin
                        ca_valid <= 1'b1; ca_port <= 8'(dq);
                        ca_counter <= CNT_RX_DROP_FULL;
                        cb_valid <= 1'b1; cb_port <= 8'(cp);
                        cb_counter <= CNT_TX_DROP_FULL; cb_amount <= 32'd1;
                        st <= dflood ? S_FLOOD_NEXT : S_SCAN_REQ;
                    end
                end else begin
                    k <= '0;
                    jidx <= dhw;
                    rxvalid <= 1'b1;
                    st <= S_DLV_SLOTRD;
                end
            end

            S_DLV_REFRESH: begin
                if (rsp) begin
                    if (beat_head_ok) begin
                        dhc <= beat_head;
                        rx_hwcur[dqe] <= beat_head;
                    end
                    drefreshed <= 1'b1;
                    st <= S_DLV_FREE;
                end
            end

            S_DLV_SLOTRD: begin
                if (pf_hit) begin
                    rx_buf[k[5:0]] <= pf_value;
                    rxvalid <= rxvalid && pf_value >= BUF_FIRST_VALID && pf_value < cfg_num_bufs[dq];
                    k <= k + 16'd1;
                    jidx <= nxt(jidx, rn);
                    st <= (k + 16'd1 == fslots) ? S_DLV_CHECK : S_DLV_SLOTRD;
                end else if (rd_can) begin
                    dma_rd_req_valid <= 1'b1;
                    dma_rd_req_addr  <= slot_addr_rx;
                    dma_rd_req_tag   <= tag_ctr;
                    tag_ctr <= tag_ctr + 8'd1;
                    if (k < 16'(PF)) begin
                        // Fill the prefetch: this slot and the next ones.
                        dma_rd_req_len <= 13'(fill_now) * 13'd16 - 13'd12;
                        fill_n <= fill_now;
                        st <= S_DLV_FILLWAIT;
                    end else begin
                        dma_rd_req_len <= 13'd4;
                        st <= S_DLV_SLOTWAIT;
                    end
                end
            end

            S_DLV_FILLWAIT: begin
                if (rsp) begin
                    // The banks take the lanes (g_pf).
                    pf_cnt[dqe] <= 3'(k) + fill_n;
                    st <= S_DLV_SLOTRD;
                end
            end

            S_DLV_SLOTWAIT: begin
                if (rsp) begin
                    rx_buf[k[5:0]] <= dma_rd_rsp_data[31:0];
                    rxvalid <= rxvalid && dma_rd_rsp_data[31:0] >= BUF_FIRST_VALID
                            && dma_rd_rsp_data[31:0] < cfg_num_bufs[dq];
                    k <= k + 16'd1;
                    jidx <= nxt(jidx, rn);
                    st <= (k + 16'd1 == fslots) ? S_DLV_CHECK : S_DLV_SLOTRD;
                end
            end

            S_DLV_CHECK: begin
                if (!rxvalid) begin
                    ca_valid <= 1'b1; ca_port <= 8'(dq);
                    ca_counter <= CNT_RX_DROP_BAD_BUF;
                    st <= dflood ? S_FLOOD_NEXT : S_SCAN_REQ;
                end else begin
                    k <= '0;
                    sidx <= fstart;
                    jidx <= dhw;
                    st <= S_CP_SLOT;
                end
            end

            S_CP_SLOT: begin
                st <= S_CP_ISSUE;  // the slot is read in this state
            end

            S_CP_ISSUE: begin
                if (rd_can) begin
                    slot_q <= desc_rd_data;
                    copy_left <= (32'(desc_rd_data[8*SLOT_LEN +: 16]) > cfg_buf_size[dq])
                               ? cfg_buf_size[dq][15:0] : desc_rd_data[8*SLOT_LEN +: 16];
                    copy_dst <= cfg_pool[dq] + 64'(rx_buf[k[5:0]]) * 64'(cfg_buf_size[dq]);
                    if (desc_rd_data[8*SLOT_LEN +: 16] == 16'd0) begin
                        st <= S_CP_SLOTWR;
                    end else if (k == 16'd0 && desc_rd_data[8*SLOT_LEN +: 16] <= 16'd64) begin
                        st <= S_CP_BEAT;  // the first beat already holds it
                    end else begin
                        dma_rd_req_valid <= 1'b1;
                        dma_rd_req_addr  <= cfg_pool[cp]
                            + 64'(desc_rd_data[8*SLOT_BUF_IDX +: 32]) * 64'(cfg_buf_size[cp]);
                        dma_rd_req_len   <= (32'(desc_rd_data[8*SLOT_LEN +: 16]) > cfg_buf_size[dq])
                            ? 13'(cfg_buf_size[dq]) : 13'(desc_rd_data[8*SLOT_LEN +: 16]);
                        dma_rd_req_tag   <= tag_ctr;
                        tag_ctr <= tag_ctr + 8'd1;
                        st <= S_CP_STREAM;
                    end
                end
            end

            S_CP_BEAT: begin
                if (wr_free) begin
                    dma_wr_req_valid <= 1'b1;
                    dma_wr_req_addr  <= copy_dst;
                    dma_wr_req_len   <= 7'(copy_left);
                    dma_wr_req_data  <= first_beat;
                    st <= S_CP_SLOTWR;
                end
            end

            S_CP_STREAM: begin
                if (rsp) begin
                    dma_wr_req_valid <= 1'b1;
                    dma_wr_req_addr  <= copy_dst;
                    dma_wr_req_len   <= copy_left > 16'd64 ? 7'd64 : 7'(copy_left);
                    dma_wr_req_data  <= dma_rd_rsp_data;
                    copy_dst  <= copy_dst + 64'd64;
                    copy_left <= copy_left > 16'd64 ? copy_left - 16'd64 : 16'd0;
                    if (dma_rd_rsp_last) st <= S_CP_SLOTWR;
                end
            end

            S_CP_SLOTWR: begin
                if (wr_free) begin
                    // len and flags of RX slot jidx: NS_RFRAGS in the high
                    // byte, MOREFRAG on all but the last fragment.
                    dma_wr_req_valid <= 1'b1;
                    dma_wr_req_addr  <= slot_addr_rx + 64'd4;
                    dma_wr_req_len   <= 7'd4;
                    dma_wr_req_data  <= '0;
                    dma_wr_req_data[15:0] <= (32'(slot_q[8*SLOT_LEN +: 16]) > cfg_buf_size[dq])
                        ? cfg_buf_size[dq][15:0] : slot_q[8*SLOT_LEN +: 16];
                    dma_wr_req_data[31:16] <= {(fslots > 16'd255) ? 8'd255 : fslots[7:0], 8'd0}
                        | ((k + 16'd1 < fslots) ? NS_MOREFRAG : 16'd0);
                    k    <= k + 16'd1;
                    jidx <= nxt(jidx, rn);
                    sidx <= nxt(sidx, cn);
                    if (k + 16'd1 == fslots) begin
                        // Delivered: the slots are the receiver's at publish.
                        pf_consume(dqe, fslots);
                        rx_hwtail[dqe] <= nxt(jidx, rn);
                        rx_dirty[dqe]  <= 1'b1;
                        ca_valid <= 1'b1; ca_port <= 8'(dq);
                        ca_counter <= CNT_RX_PACKETS;
                        cb_valid <= 1'b1; cb_port <= 8'(dq);
                        cb_counter <= CNT_RX_BYTES; cb_amount <= fbytes;
                        ev_forwarded <= 1'b1;
                        st <= dflood ? S_FLOOD_NEXT : S_SCAN_REQ;
                    end else begin
                        st <= S_CP_SLOT;
                    end
                end
            end

            // ---- Pipe crossover -----------------------------------------
            S_P_REFRESH: begin
                if (rsp) begin
                    if (beat_head_ok) begin
                        dhc <= beat_head;
                        rx_hwcur[dqe] <= beat_head;
                        pipe_free <= ring_dist(beat_head + rn - 16'd1 >= rn
                                          ? beat_head - 16'd1 : beat_head + rn - 16'd1, dhw, rn);
                    end else begin
                        pipe_free <= dfree;
                    end
                    st <= S_SCAN_REQ;
                end
            end

            S_P_DECIDE: begin
                if (!fvalid || fslots > rn - 16'd1) begin
                    // Never handed to the receiver; skipped, counted.
                    ca_valid <= 1'b1; ca_port <= 8'(cp);
                    ca_counter <= CNT_TX_DROP_BAD_SLOT;
                    st <= S_SCAN_REQ;
                end else if (fslots > pipe_free) begin
                    ci <= fstart;  // back-pressure: wait for the receiver
                    st <= S_FIN;
                end else begin
                    k <= '0;
                    sidx <= fstart;
                    jidx <= dhw;
                    st <= S_P_SLOT;
                end
            end

            S_P_SLOT: begin
                if (wb_due) wb_write();
                st <= S_P_RXRD;  // the slot is read in this state
            end

            S_P_RXRD: begin
                slot_q <= desc_rd_data;
                if (pf_hit) begin
                    // The receiver's buffer goes back into the TX slot.
                    desc_wr_en   <= 1'b1;
                    desc_wr_word <= tx_slot_word(tx_ring_base, sidx);
                    desc_wr_data <= {NS_BUF_CHANGED, 16'd0, pf_value};
                    rbuf <= pf_value;
                    st <= S_P_WR;
                end else if (rd_can) begin
                    dma_rd_req_valid <= 1'b1;
                    dma_rd_req_addr  <= slot_addr_rx;
                    dma_rd_req_tag   <= tag_ctr;
                    tag_ctr <= tag_ctr + 8'd1;
                    if (k < 16'(PF)) begin
                        dma_rd_req_len <= 13'(fill_now) * 13'd16 - 13'd12;
                        fill_n <= fill_now;
                        st <= S_P_FILLWAIT;
                    end else begin
                        dma_rd_req_len <= 13'd4;
                        st <= S_P_RXWAIT;
                    end
                end
            end

            S_P_FILLWAIT: begin
                if (rsp) begin
                    // The banks take the lanes (g_pf).
                    pf_cnt[dqe] <= 3'(k) + fill_n;
                    rbuf <= dma_rd_rsp_data[31:0];
                    st <= S_P_USE;
                end
            end

            S_P_RXWAIT: begin
                if (rsp) begin
                    rbuf <= dma_rd_rsp_data[31:0];
                    st <= S_P_USE;
                end
            end

            S_P_USE: begin
                // The receiver's buffer goes back into the TX slot.
                desc_wr_en   <= 1'b1;
                desc_wr_word <= tx_slot_word(tx_ring_base, sidx);
                desc_wr_data <= {NS_BUF_CHANGED, 16'd0, rbuf};
                st <= S_P_WR;
            end

            S_P_WR: begin
                // (A write-back may still be waiting in the write register.)
                if (wr_free) begin
                    desc_wr_en   <= 1'b1;
                    desc_wr_word <= tx_slot_word(tx_ring_base, sidx) + WORD_W'(1);
                    desc_wr_data <= '0;  // ptr
                    // The TX slot's buffer goes into the RX slot (ptr 0).
                    dma_wr_req_valid <= 1'b1;
                    dma_wr_req_addr  <= slot_addr_rx;
                    dma_wr_req_len   <= 7'd16;
                    dma_wr_req_data  <= '0;
                    dma_wr_req_data[63:0] <= {(slot_q[8*SLOT_FLAGS +: 16] & NS_MOREFRAG) | NS_BUF_CHANGED,
                                              slot_q[47:0]};
                    st <= S_P_WR2;
                end
            end

            S_P_WR2: begin
                if (wr_free && wb_on && !wb_joins) begin
                    // The gathered run ends before this slot: out first.
                    wb_ret <= S_P_WR2;
                    st <= S_WB_FLUSH;
                end else if (wr_free) begin
                    k    <= k + 16'd1;
                    jidx <= nxt(jidx, rn);
                    sidx <= nxt(sidx, cn);
                    if (wb_on) begin
                        if (wb_cnt == 3'd0) wb_addr <= slot_addr_txh;
                        for (int l = 0; l < 4; l++) begin
                            if (wb_cnt[1:0] == 2'(l)) wb_buf[l] <= rbuf;
                        end
                        wb_cnt <= wb_cnt + 3'd1;
                    end
                    if (k + 16'd1 == fslots) begin
                        pf_consume(dqe, fslots);
                        dhw       <= nxt(jidx, rn);
                        rx_hwtail[dqe] <= nxt(jidx, rn);
                        pipe_free <= pipe_free - fslots;
                        moved     <= 1'b1;
                        ca_valid <= 1'b1; ca_port <= 8'(cp);
                        ca_counter <= CNT_TX_PACKETS;
                        cb_valid <= 1'b1; cb_port <= 8'(cp);
                        cb_counter <= CNT_TX_BYTES; cb_amount <= fbytes;
                    end
                    // A complete run leaves from S_P_SLOT or S_P_COUNT,
                    // which find the write register empty (it is leaving
                    // now) and have no write of their own.
                    wb_due <= wb_on && wb_last;
                    st <= (k + 16'd1 == fslots) ? S_P_COUNT : S_P_SLOT;
                end
            end

            S_WB_FLUSH: begin
                // A run that ends without filling its line (a gap, the job's end).
                if (wr_free) begin
                    wb_write();
                    st <= wb_ret;
                end
            end

            S_P_COUNT: begin
                if (wb_due) wb_write();
                // The receiver's side of the moved packet.
                ca_valid <= 1'b1; ca_port <= 8'(dq);
                ca_counter <= CNT_RX_PACKETS;
                cb_valid <= 1'b1; cb_port <= 8'(dq);
                cb_counter <= CNT_RX_BYTES; cb_amount <= fbytes;
                st <= S_SCAN_REQ;
            end

            // ---- Completion: publish and notify -------------------------
            S_FIN: begin
                tx_hwcur[cq] <= ci;
                if (cpipe) begin
                    pub_tail <= (32'(ci) + 32'(pipe_avail) >= 32'(cn))
                        ? ci + pipe_avail - cn : ci + pipe_avail;
                    tx_span[cq]  <= pipe_avail;
                    tx_fresh[cq] <= 1'b0;
                    if (moved) rx_dirty[dqe] <= 1'b1;
                end else begin
                    pub_tail <= (ci == 16'd0) ? cn - 16'd1 : ci - 16'd1;
                end
                wb_ret <= S_PUB_NEXT;
                st <= (wb_cnt != 3'd0) ? S_WB_FLUSH : S_PUB_NEXT;
            end

            S_PUB_NEXT: begin
                if (dirty_found) begin
                    pub_entry <= dirty_pick;
                    pub_port  <= port_of(dirty_pick);
                    pub_ring  <= ring_of(dirty_pick);
                    rx_dirty[dirty_pick] <= 1'b0;
                    st <= S_PUB_WR;
                end else begin
                    st <= S_TXPUB_WR;
                end
            end

            S_PUB_WR: begin
                if (wr_free) begin
                    dma_wr_req_valid <= 1'b1;
                    dma_wr_req_addr  <= cfg_status[pub_port] + st_off(pub_ring, 1'b1, 32'd0);
                    dma_wr_req_len   <= 7'd8;
                    dma_wr_req_data  <= '0;
                    dma_wr_req_data[63:0] <= {16'd0, rx_hwtail[pub_entry],
                                              16'd0, rx_hwcur[pub_entry]};
                    st <= S_PUB_RD;
                end
            end

            S_PUB_RD: begin
                if (rd_can) begin
                    dma_rd_req_valid <= 1'b1;
                    dma_rd_req_addr  <= cfg_status[pub_port] + st_off(pub_ring, 1'b1, ST_HEAD);
                    dma_rd_req_len   <= 13'd8;
                    dma_rd_req_tag   <= tag_ctr;
                    tag_ctr <= tag_ctr + 8'd1;
                    st <= S_PUB_WAIT;
                end
            end

            S_PUB_WAIT: begin
                if (rsp) begin
                    if (beat_head_ok) rx_hwcur[pub_entry] <= beat_head;
                    if (beat_kick != 32'd0) notify[pub_port] <= 1'b1;
                    st <= S_PUB_NEXT;
                end
            end

            S_TXPUB_WR: begin
                if (wr_free) begin
                    dma_wr_req_valid <= 1'b1;
                    dma_wr_req_addr  <= cfg_status[cp] + st_off(cr, 1'b0, 32'd0);
                    dma_wr_req_len   <= 7'd8;
                    dma_wr_req_data  <= '0;
                    dma_wr_req_data[63:0] <= {16'd0, pub_tail, 16'd0, ci};
                    st <= S_TXPUB_RD;
                end
            end

            S_TXPUB_RD: begin
                if (rd_can) begin
                    dma_rd_req_valid <= 1'b1;
                    dma_rd_req_addr  <= cfg_status[cp] + st_off(cr, 1'b0, ST_HEAD);
                    dma_rd_req_len   <= 13'd8;
                    dma_rd_req_tag   <= tag_ctr;
                    tag_ctr <= tag_ctr + 8'd1;
                    st <= S_TXPUB_WAIT;
                end
            end

            S_TXPUB_WAIT: begin
                if (rsp) begin
                    if (beat_kick != 32'd0) notify[cp] <= 1'b1;
                    st <= S_IDLE;
                end
            end

            default: st <= S_IDLE;
            endcase

            // Doorbells arriving now win over the clears above.
            if (db_valid && 32'(db_port) < 32'(NUM_PORTS) && 32'(db_ring) < 32'(RINGS)) begin
                if (db_rx) begin
                    rxdb_pend[entry_of(32'(db_port), 32'(db_ring))] <= 1'b1;
                    rxdb_head[entry_of(32'(db_port), 32'(db_ring))] <= db_head;
                end else begin
                    tx_pend[entry_of(32'(db_port), 32'(db_ring))] <= 1'b1;
                    tx_head[entry_of(32'(db_port), 32'(db_ring))] <= db_head;
                end
            end

            // A disabled port's rings start over when it is enabled again.
            for (int q = 0; q < NQ; q++) begin
                if (!port_enable[port_of(QW'(q))]) begin
                    tx_hwcur[q] <= '0; tx_span[q] <= '0; tx_fresh[q] <= 1'b1;
                    tx_head[q] <= '0; rx_hwtail[q] <= '0; rx_hwcur[q] <= '0;
                    tx_pend[q] <= 1'b0; rxdb_pend[q] <= 1'b0; rx_dirty[q] <= 1'b0;
                    pf_cnt[q] <= '0;
                end
            end
        end
    end
endmodule
