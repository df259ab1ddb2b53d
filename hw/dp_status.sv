// Status publisher: writes the device's progress into the rings' status
// entries in host memory and raises notifications.
//
// On a request (the end of a TX job: the TX ring and the hwcur and
// hwtail to publish), first every dirty RX ring (dp_rx_rings, lowest
// entry first): its status entry gets hwcur and hwtail (one 8-byte DMA
// write), then its head and need_kick are read back (one 8-byte read,
// ordered after the write): a head within [hwcur, hwtail] refreshes the
// cached hwcur, a nonzero need_kick pulses notify[port]. Then the TX
// ring's entry the same way (its head is not used: the doorbell brings
// it). The read-backs do not wait for each other: up to RB are in
// flight, their answers (in any order) told apart by tag, each checked
// against the hwcur and hwtail its ring published. `done` pulses once
// all are answered.
`include "nm_defines.svh"

module dp_status #(
    // Port table entries.
    parameter int NUM_PORTS = 8,
    // Rings per direction per port served.
    parameter int RINGS     = 4
) (
    input  logic        clk,
    input  logic        rst,

    // Port table (bar0_regs).
    input  logic [NUM_PORTS*`NM_PORT_ENTRY_REGS*32-1:0] port_cfg,

    // Request: publish TX ring (tx_port, tx_ring) at hwcur / hwtail.
    input  logic        req_valid,
    input  logic [7:0]  tx_port,
    input  logic [3:0]  tx_ring,
    input  logic [15:0] tx_hwcur,
    input  logic [15:0] tx_hwtail,
    output logic        done,

    // RX rings (dp_rx_rings): the dirty ones, and the one published.
    input  logic        dirty_found,
    input  logic [$clog2(NUM_PORTS*RINGS > 1 ? NUM_PORTS*RINGS : 2)-1:0] dirty_pick,
    output logic        dirty_clr,
    output logic [$clog2(NUM_PORTS*RINGS > 1 ? NUM_PORTS*RINGS : 2)-1:0] q_entry,
    input  logic [15:0] q_hwtail,
    input  logic [15:0] q_hwcur,
    output logic        hc_we,     // cached hwcur of hc_entry := hc_value
    output logic [$clog2(NUM_PORTS*RINGS > 1 ? NUM_PORTS*RINGS : 2)-1:0] hc_entry,
    output logic [15:0] hc_value,

    // DMA read channel (this stage's request register; the responses).
    input  logic         dma_rd_can,
    output logic         dma_rd_req_valid,
    input  logic         dma_rd_req_ready,
    output logic [63:0]  dma_rd_req_addr,
    output logic [12:0]  dma_rd_req_len,
    input  logic [7:0]   dma_rd_req_tag,   // the tag a request leaves with
    input  logic         dma_rd_rsp_valid,
    input  logic [7:0]   dma_rd_rsp_tag,
    output logic         dma_rd_rsp_ready,
    input  logic [511:0] dma_rd_rsp_data,

    // DMA write channel (this stage's request register).
    input  logic         dma_wr_free,
    output logic         dma_wr_req_valid,
    input  logic         dma_wr_req_ready,
    output logic [63:0]  dma_wr_req_addr,
    output logic [6:0]   dma_wr_req_len,
    output logic [511:0] dma_wr_req_data,

    // Notification lines (one-cycle pulses).
    output logic [NUM_PORTS-1:0] notify,

    output logic        busy
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    `include "dp_port_cfg.svh"
    /* verilator lint_on UNUSEDPARAM */

    typedef enum logic [2:0] {
        S_IDLE, S_NEXT, S_WR, S_RD, S_WAIT
    } state_t;
    state_t st;

    // Read-backs in flight: the ring (RX entry or TX), its port, what it
    // published, and the read's tag once it left.
    localparam int RB = 4;
    localparam int RBW = $clog2(RB);
    logic [RB-1:0] rb_busy, rb_tagged;
    logic          rb_rx   [RB];
    logic [QW-1:0] rb_entry[RB];
    logic [PW-1:0] rb_port [RB];
    logic [15:0]   rb_cur  [RB];
    logic [15:0]   rb_tail [RB];
    logic [15:0]   rb_n    [RB];
    logic [7:0]    rb_tag  [RB];
    logic [RBW-1:0] rb_new;     // the read in the request register
    logic          rd_pending;  // it has not left yet
    logic          rb_free_found, rb_hit;
    logic [RBW-1:0] rb_free, rb_ans;  // a free place; the one a beat answers
    always_comb begin
        rb_free_found = 1'b0;
        rb_free = '0;
        rb_hit = 1'b0;
        rb_ans = '0;
        for (int i = 0; i < RB; i++) begin
            if (!rb_free_found && !rb_busy[i]) begin
                rb_free_found = 1'b1;
                rb_free = RBW'(i);
            end
            if (!rb_hit && rb_tagged[i] && rb_tag[i] == dma_rd_rsp_tag) begin
                rb_hit = 1'b1;
                rb_ans = RBW'(i);
            end
        end
    end

    logic          rx;        // publishing an RX ring (else the TX ring)
    logic [QW-1:0] entry;     // the RX ring's entry
    logic [PW-1:0] port;
    logic [3:0]    ring;
    logic [15:0]   txcur, txtail;
    logic [PW-1:0] txp;
    logic [3:0]    txr;

    assign busy    = st != S_IDLE || rb_busy != '0;
    // Only the status entry's head and need_kick are read back; port
    // numbers above NUM_PORTS - 1 do not occur.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [511:0] rsp_unused;
    logic [7:0]   port_unused;
    assign rsp_unused  = dma_rd_rsp_data;
    assign port_unused = tx_port;
    /* verilator lint_on UNUSEDSIGNAL */
    assign q_entry = entry;
    assign dma_rd_rsp_ready = rb_hit;

    // The entry's fields: hwcur, hwtail (device-written), head and
    // need_kick (host-written, read back).
    logic [511:0] st_line;
    always_comb begin
        st_line = '0;
        st_line[8 * ST_HWCUR +: 16]  = rx ? q_hwcur : txcur;
        st_line[8 * ST_HWTAIL +: 16] = rx ? q_hwtail : txtail;
    end
    logic [15:0] beat_head, a_cur, a_tail, a_n;
    logic [31:0] beat_kick;
    logic        beat_head_ok;
    always_comb begin
        a_cur        = rb_cur[rb_ans];
        a_tail       = rb_tail[rb_ans];
        a_n          = rb_n[rb_ans];
        beat_head    = dma_rd_rsp_data[15:0];
        beat_kick    = dma_rd_rsp_data[8 * (ST_NEED_KICK - ST_HEAD) +: 32];
        beat_head_ok = dma_rd_rsp_data[31:16] == 16'd0 && beat_head < a_n
                    && ring_dist(beat_head, a_cur, a_n) <= ring_dist(a_tail, a_cur, a_n);
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            st <= S_IDLE;
            entry <= '0;
            done <= 1'b0;
            dirty_clr <= 1'b0;
            hc_we <= 1'b0;
            notify <= '0;
            dma_rd_req_valid <= 1'b0;
            dma_wr_req_valid <= 1'b0;
            rb_busy <= '0;
            rb_tagged <= '0;
            rd_pending <= 1'b0;
        end else begin
            done <= 1'b0;
            dirty_clr <= 1'b0;
            hc_we <= 1'b0;
            notify <= '0;
            if (dma_rd_req_valid && dma_rd_req_ready) begin
                dma_rd_req_valid <= 1'b0;
                rb_tag[rb_new]    <= dma_rd_req_tag;
                rb_tagged[rb_new] <= 1'b1;
                rd_pending <= 1'b0;
            end
            // A read-back answered: a valid RX head refreshes the cached
            // hwcur, a need_kick raises the port's line.
            if (dma_rd_rsp_valid && rb_hit) begin
                if (rb_rx[rb_ans] && beat_head_ok) begin
                    hc_we    <= 1'b1;
                    hc_entry <= rb_entry[rb_ans];
                    hc_value <= beat_head;
                end
                if (beat_kick != 32'd0) notify[rb_port[rb_ans]] <= 1'b1;
                rb_busy[rb_ans]   <= 1'b0;
                rb_tagged[rb_ans] <= 1'b0;
            end
            if (dma_wr_req_valid && dma_wr_req_ready) dma_wr_req_valid <= 1'b0;

            case (st)
            S_IDLE: begin
                if (req_valid) begin
                    txp    <= PW'(tx_port);
                    txr    <= tx_ring;
                    txcur  <= tx_hwcur;
                    txtail <= tx_hwtail;
                    st <= S_NEXT;
                end
            end

            S_NEXT: begin
                if (dirty_found) begin
                    rx    <= 1'b1;
                    entry <= dirty_pick;
                    port  <= port_of(dirty_pick);
                    ring  <= ring_of(dirty_pick);
                    dirty_clr <= 1'b1;
                end else begin
                    rx   <= 1'b0;
                    port <= txp;
                    ring <= txr;
                end
                st <= S_WR;
            end

            S_WR: begin
                if (dma_wr_free) begin
                    dma_wr_req_valid <= 1'b1;
                    dma_wr_req_addr  <= cfg_status[port] + st_off(ring, rx, ST_HWCUR);
                    dma_wr_req_len   <= 7'(ST_HWTAIL + 32'd4 - ST_HWCUR);
                    dma_wr_req_data  <= st_line;
                    st <= S_RD;
                end
            end

            S_RD: begin
                // The read-back, without waiting for the answers before
                // it (the request register holds one read at a time).
                if (dma_rd_can && rb_free_found && !rd_pending) begin
                    dma_rd_req_valid <= 1'b1;
                    dma_rd_req_addr  <= cfg_status[port] + st_off(ring, rx, ST_HEAD);
                    dma_rd_req_len   <= 13'(ST_NEED_KICK + 32'd4 - ST_HEAD);
                    rd_pending <= 1'b1;
                    rb_new <= rb_free;
                    rb_busy[rb_free]  <= 1'b1;
                    rb_rx[rb_free]    <= rx;
                    rb_entry[rb_free] <= entry;
                    rb_port[rb_free]  <= port;
                    rb_cur[rb_free]   <= q_hwcur;
                    rb_tail[rb_free]  <= q_hwtail;
                    rb_n[rb_free]     <= cfg_rx_slots[port];
                    st <= rx ? S_NEXT : S_WAIT;
                end
            end

            S_WAIT: begin
                // Every read-back answered.
                if (rb_busy == '0 && !rd_pending) begin
                    done <= 1'b1;
                    st <= S_IDLE;
                end
            end

            default: st <= S_IDLE;
            endcase
        end
    end
endmodule
