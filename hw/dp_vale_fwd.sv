// VALE forwarding decision: drop checks, the MAC lookups (one per clock,
// in flight together), and the destination list handed to delivery.
//
// Three steps joined by queues, so one frame can enter per clock while
// earlier ones wait for their lookup or for delivery:
// 1. Front: a complete frame from dp_tx_fetch (`frm_valid` and
//    `frm_ready`, from port src_port ring src_ring). In the software
//    engine's order a chain over MAX_FRAGS slots is to be counted
//    CNT_TX_DROP_CHAIN, a bad slot CNT_TX_DROP_BAD_SLOT, a first slot
//    under ETH_HEADER_LEN bytes CNT_TX_DROP_SHORT; such a frame enters the
//    frame queue with its drop code. Otherwise the MAC table is asked
//    (learn the source unless NS_NO_LEARN) as soon as the MAC addresses
//    are known: from the packet buffer when dp_pay_fetch read the frame
//    ahead (`pb_alloc`, once `pb_b0`: in the frame's own cycle when it is
//    there), else from the first beat of the first buffer read by DMA
//    (up to 64 bytes: the header and a short frame's whole payload, kept
//    on `first_beat` for delivery). That read is decided only with nothing
//    queued and delivery idle (`dst_ready`) and leaves two cycles later
//    (its address is a product), so it never shares the read
//    channel with delivery and `first_beat` belongs to that frame until
//    delivery took it. A frame whose header is not there yet waits in the
//    front register (`frm_ready` low).
// 2. Decide: the lookup results return in request order after the
//    table's fixed latency into a result queue; the oldest queued frame
//    is decided once its result is in (or at once with a drop code) and
//    the output register is free or leaving: PORT_DROP is
//    CNT_TX_DROP_SAME_PORT; otherwise CNT_TX_PACKETS/BYTES and the
//    destinations: the unicast port (if enabled, VALE and not the
//    source; RX ring = source ring mod its RX rings) or, on PORT_FLOOD,
//    RX ring 0 of every other enabled VALE port in port order (none:
//    CNT_TX_DROP_NO_DEST, counted the next cycle).
// 3. Output: one destination per handshake (`dst_valid` and `dst_ready`
//    in the same cycle) with the frame's fields (`dst_frm_*`).
// `done` pulses when a frame leaves this stage. Counting happens in the
// decide step only, so at most one event per counter port per cycle.
`include "nm_defines.svh"

module dp_vale_fwd #(
    // Port table entries.
    parameter int NUM_PORTS = 8,
    // Rings per direction per port served (sizes the shared helpers).
    parameter int RINGS     = 4,
    // Frames queued between the front and delivery (lookups in flight
    // plus decided-not-yet-delivered), a power of two above the table's
    // latency.
    parameter int DEPTH     = 16
) (
    input  logic        clk,
    input  logic        rst,

    // Port table (bar0_regs).
    input  logic [NUM_PORTS-1:0]                    port_enable,
    input  logic [NUM_PORTS*`NM_PORT_ENTRY_REGS*32-1:0] port_cfg,

    // The frame (dp_tx_fetch's answer, taken when frm_ready) and its source.
    input  logic        frm_valid,
    output logic        frm_ready,
    input  logic [15:0] frm_start,
    input  logic [15:0] frm_slots,
    input  logic [31:0] frm_bytes,
    input  logic        frm_ok,
    input  logic [31:0] frm_first_buf,
    input  logic [15:0] frm_first_len,
    input  logic [15:0] frm_first_flags,
    input  logic [7:0]  src_port,
    input  logic [3:0]  src_ring,
    output logic        done,

    // DMA read channel (this stage's request register; the responses).
    input  logic         dma_rd_can,   // no write queued, read register free
    output logic         dma_rd_req_valid,
    input  logic         dma_rd_req_ready,
    output logic [63:0]  dma_rd_req_addr,
    output logic [12:0]  dma_rd_req_len,
    input  logic         dma_rd_rsp_valid,
    output logic         dma_rd_rsp_ready,
    input  logic [511:0] dma_rd_rsp_data,

    // Switch core: lookup request (one-cycle pulse) and result.
    output logic        lk_valid,
    output logic [47:0] lk_src_mac,
    output logic [47:0] lk_dst_mac,
    output logic [7:0]  lk_src_port,
    output logic        lk_learn,
    input  logic        lk_res_valid,
    input  logic [7:0]  lk_res_port,

    // Delivery: one destination (port, RX ring) per handshake.
    output logic        dst_valid,
    output logic [7:0]  dst_port,
    output logic [3:0]  dst_ring,
    input  logic        dst_ready,
    output logic [511:0] first_beat,
    // The frame, for delivery: first slot, slots, bytes, the first TX slot.
    output logic [15:0]  dst_frm_start,
    output logic [15:0]  dst_frm_slots,
    output logic [31:0]  dst_frm_bytes,
    output logic [63:0]  dst_frm_first_slot,

    // The packet buffer (dp_pay_fetch) for the front's frame (`look_slot`):
    // read ahead, its first beat in, and its first 12 bytes.
    output logic [15:0]  look_slot,
    input  logic         pb_alloc,
    input  logic         pb_b0,
    input  logic [95:0]  pb_hdr,
    // The oldest frame held here (valid while busy).
    output logic [15:0]  oldest_start,

    // Counter events: port A counts one, port B adds an amount.
    output logic        ca_valid,
    output logic [7:0]  ca_port,
    output logic [3:0]  ca_counter,
    output logic        cb_valid,
    output logic [7:0]  cb_port,
    output logic [3:0]  cb_counter,
    output logic [31:0] cb_amount,

    output logic        busy
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    `include "dp_port_cfg.svh"
    /* verilator lint_on UNUSEDPARAM */

    localparam int AW = $clog2(DEPTH);
    // A queued frame's verdict before the lookup: look it up, or a drop.
    localparam logic [1:0] Q_LOOKUP = 2'd0, Q_CHAIN = 2'd1, Q_BAD = 2'd2, Q_SHORT = 2'd3;

    logic [PW-1:0] cp;
    assign cp = PW'(src_port);

    // ---- 1. Front ----------------------------------------------------------
    // The front register holds a frame whose header is not in yet.
    logic        fr_valid, fr_hdr_wait;  // (fr_hdr_wait: its DMA read is out)
    logic [15:0] fr_start, fr_slots, fr_len, fr_flags;
    logic [31:0] fr_bytes, fr_buf;
    // The candidate: the front register's frame, else the offered one.
    logic        c_valid;
    logic [15:0] c_start, c_slots, c_len, c_flags;
    logic [31:0] c_bytes, c_buf;
    always_comb begin
        c_valid = fr_valid || frm_valid;
        c_start = fr_valid ? fr_start : frm_start;
        c_slots = fr_valid ? fr_slots : frm_slots;
        c_bytes = fr_valid ? fr_bytes : frm_bytes;
        c_buf   = fr_valid ? fr_buf   : frm_first_buf;
        c_len   = fr_valid ? fr_len   : frm_first_len;
        c_flags = fr_valid ? fr_flags : frm_first_flags;
    end
    assign frm_ready = !fr_valid;
    assign look_slot = c_start;

    // The candidate's verdict: the offered frame's, or the one kept with
    // the front register's frame.
    function automatic logic [1:0] verdict(input logic [15:0] slots, input logic ok,
                                           input logic [15:0] len);
        if (32'(slots) > MAX_FRAGS) verdict = Q_CHAIN;
        else if (!ok) verdict = Q_BAD;
        else if (32'(len) < ETH_HEADER_LEN) verdict = Q_SHORT;
        else verdict = Q_LOOKUP;
    endfunction
    logic [1:0] c_code, fr_code;
    assign c_code = fr_valid ? fr_code : verdict(frm_slots, frm_ok, frm_first_len);

    // The frame queue (a ring of DEPTH entries) and its count.
    logic [15:0]   q_start [DEPTH];
    logic [15:0]   q_slots [DEPTH];
    logic [31:0]   q_bytes [DEPTH];
    logic [31:0]   q_buf   [DEPTH];
    logic [15:0]   q_len   [DEPTH];
    logic [15:0]   q_flags [DEPTH];
    logic [1:0]    q_code  [DEPTH];
    logic [AW-1:0] q_wr, q_rd;
    logic [AW:0]   q_cnt;
    // Lookup results in request order.
    logic [7:0]    r_port [DEPTH];
    logic [AW-1:0] r_wr, r_rd;
    logic [AW:0]   r_cnt;
    // The counts' steps, computed from the registers alone (kept nets:
    // synthesis would otherwise share one adder behind the handshakes).
    (* keep *) logic [AW:0] q_cnt_up, q_cnt_dn, r_cnt_up, r_cnt_dn;
    assign q_cnt_up = q_cnt + (AW + 1)'(1);
    assign q_cnt_dn = q_cnt - (AW + 1)'(1);
    assign r_cnt_up = r_cnt + (AW + 1)'(1);
    assign r_cnt_dn = r_cnt - (AW + 1)'(1);

    logic q_room, q_empty;
    assign q_room  = q_cnt < (AW + 1)'(DEPTH);
    assign q_empty = q_cnt == '0;

    // The front's step this cycle: push the candidate (a drop, or with its
    // lookup from the packet buffer's header), push the frame whose DMA
    // header just arrived, or start that read.
    logic o_valid;
    logic push_pb, push_drop, push_dma, start_dma;
    always_comb begin
        push_drop = c_valid && !fr_hdr_wait && c_code != Q_LOOKUP && q_room;
        push_pb   = c_valid && !fr_hdr_wait && c_code == Q_LOOKUP && pb_alloc && pb_b0
                 && q_room;
        push_dma  = fr_hdr_wait && dma_rd_rsp_valid;
        start_dma = c_valid && !fr_hdr_wait && c_code == Q_LOOKUP && !pb_alloc
                 && q_empty && !o_valid && dst_ready && dma_rd_can;
    end
    logic push;
    assign push = push_drop || push_pb || push_dma;
    // The header read: its buffer, the source port's pool and buffer size
    // (registered: the source is the job's), the product's two halves.
    logic        hd_prod, hd_sum;
    logic [31:0] hd_buf, buf_size;
    logic [47:0] hd_lo, hd_hi;
    logic [63:0] pool;
    always_ff @(posedge clk) begin
        pool     <= cfg_pool[cp];
        buf_size <= cfg_buf_size[cp];
    end
    assign dma_rd_rsp_ready = fr_hdr_wait;

    // ---- 2. Decide ---------------------------------------------------------
    logic [15:0] h_start, h_slots, h_len, h_flags;
    logic [31:0] h_bytes, h_buf;
    logic [1:0]  h_code;
    logic [7:0]  h_res;
    assign h_start = q_start[q_rd];
    assign h_slots = q_slots[q_rd];
    assign h_bytes = q_bytes[q_rd];
    assign h_buf   = q_buf[q_rd];
    assign h_len   = q_len[q_rd];
    assign h_flags = q_flags[q_rd];
    assign h_code  = q_code[q_rd];
    assign h_res   = r_port[r_rd];

    // Per destination port, registered one cycle after the port table and
    // the job's source (both steady while a job's frames are decided): the
    // unicast RX ring (source ring mod the port's RX rings, none: ring 0)
    // and whether it takes frames (enabled, VALE, not the source).
    // ring mod rings for rings below 16 (none: ring 0), as a table of
    // 4-bit entries indexed by {rings, ring} (entry 16 * d + r holds
    // r mod d, 0 for d = 0): a lookup of 8 bits, no divider.
    localparam logic [1023:0] RING_MOD =
        {256'h0edcba987654321010dcba9876543210210cba98765432103210ba9876543210,
         256'h43210a9876543210543210987654321065432108765432107654321076543210,
         256'h1065432106543210321054321054321004321043210432103210321032103210,
         256'h0210210210210210101010101010101000000000000000000000000000000000};
    function automatic logic [3:0] ring_mod(input logic [3:0] ring, input logic [15:0] rings);
        if (rings[15:4] != 12'd0) ring_mod = ring;  // rings above the ring: itself
        else ring_mod = RING_MOD[{rings[3:0], ring} * 4 +: 4];
    endfunction
    logic [3:0]           uni_ring_of [NUM_PORTS];
    logic [NUM_PORTS-1:0] flood_mask;  // every enabled VALE port but the source
    always_ff @(posedge clk) begin
        for (int p = 0; p < NUM_PORTS; p++) begin
            uni_ring_of[p] <= ring_mod(src_ring, cfg_rx_rings[p]);
            flood_mask[p]  <= PW'(p) != cp && port_enable[p] && is_vale(cfg_kind[p]);
        end
    end
    logic [3:0] uni_ring;
    logic       uni_ok;
    assign uni_ring = uni_ring_of[PW'(h_res)];
    assign uni_ok   = 32'(h_res) < 32'(NUM_PORTS) && flood_mask[PW'(h_res)];
    // The lowest port of a mask, and whether more than one is set.
    function automatic logic [PW-1:0] lowest_port(input logic [NUM_PORTS-1:0] m);
        logic [NUM_PORTS-1:0] one;
        one = m & (~m + NUM_PORTS'(1));
        lowest_port = '0;
        for (int k = 0; k < PW; k++) begin
            logic [NUM_PORTS-1:0] with_bit;
            for (int p = 0; p < NUM_PORTS; p++) with_bit[p] = ((p >> k) & 1) == 1;
            lowest_port[k] = |(one & with_bit);
        end
    endfunction
    function automatic logic several(input logic [NUM_PORTS-1:0] m);
        several = (m & (m - NUM_PORTS'(1))) != '0;
    endfunction

    // ---- 3. Output register ------------------------------------------------
    logic                 o_flood, o_nodest;
    logic [NUM_PORTS-1:0] o_mask;   // flood: destinations still to hand over
    logic [7:0]           o_port;
    logic [3:0]           o_ring;
    logic [15:0]          o_start, o_slots, o_len, o_flags;
    logic [31:0]          o_bytes, o_buf;
    logic [PW-1:0]        o_pick;   // lowest port in o_mask
    logic                 o_several;  // o_mask has more than one port
    logic [NUM_PORTS-1:0] o_rest;   // o_mask without o_pick
    assign o_rest = o_mask & (o_mask - NUM_PORTS'(1));
    logic o_last, o_leave, head_ready, fire;
    assign dst_valid = o_valid && !o_nodest;
    assign dst_port  = o_flood ? 8'(o_pick) : o_port;
    assign dst_ring  = o_flood ? 4'd0 : o_ring;
    assign o_last    = !o_flood || !o_several;
    assign o_leave   = dst_valid && dst_ready && o_last;
    assign head_ready = !q_empty && (q_code[q_rd] != Q_LOOKUP || r_cnt != '0);
    assign fire       = head_ready && (!o_valid || o_leave);
    assign dst_frm_start = o_start;
    assign dst_frm_slots = o_slots;
    assign dst_frm_bytes = o_bytes;
    assign dst_frm_first_slot = slot_word(o_buf, o_len, o_flags);

    assign oldest_start = o_valid ? o_start : !q_empty ? h_start : c_start;
    assign busy = fr_valid || !q_empty || o_valid;

    task automatic count_a(input logic [7:0] port, input logic [3:0] counter);
        ca_valid <= 1'b1; ca_port <= port; ca_counter <= counter;
    endtask
    // The lookup request for the candidate (MACs from `beat`).
    task automatic lookup(input logic [95:0] hdr, input logic [15:0] flags);
        lk_dst_mac  <= hdr[47:0];
        lk_src_mac  <= hdr[95:48];
        lk_src_port <= src_port;
        lk_learn    <= (flags & NS_NO_LEARN) == 16'd0;
        lk_valid    <= 1'b1;
    endtask

    always_ff @(posedge clk) begin
        if (rst) begin
            fr_valid <= 1'b0;
            fr_hdr_wait <= 1'b0;
            dma_rd_req_valid <= 1'b0;
            hd_prod <= 1'b0;
            hd_sum  <= 1'b0;
            lk_valid  <= 1'b0;
            done      <= 1'b0;
            ca_valid  <= 1'b0;
            cb_valid  <= 1'b0;
            o_valid   <= 1'b0;
            q_wr <= '0; q_rd <= '0; q_cnt <= '0;
            r_wr <= '0; r_rd <= '0; r_cnt <= '0;
        end else begin
            lk_valid  <= 1'b0;
            done      <= 1'b0;
            ca_valid  <= 1'b0;
            cb_valid  <= 1'b0;
            if (dma_rd_req_valid && dma_rd_req_ready) dma_rd_req_valid <= 1'b0;

            // 1. Front.
            if (push) begin
                q_start[q_wr] <= c_start;
                q_slots[q_wr] <= c_slots;
                q_bytes[q_wr] <= c_bytes;
                q_buf[q_wr]   <= c_buf;
                q_len[q_wr]   <= c_len;
                q_flags[q_wr] <= c_flags;
                q_code[q_wr]  <= push_dma ? Q_LOOKUP : c_code;
                q_wr <= q_wr + AW'(1);
            end
            if (push_pb) lookup(pb_hdr, c_flags);
            if (push_dma) begin
                lookup(dma_rd_rsp_data[95:0], c_flags);
                first_beat <= dma_rd_rsp_data;
            end
            // The header read's address in two steps (the product in two
            // 32 x 16-bit halves, then their sum with the pool's base).
            hd_prod <= start_dma;
            hd_sum  <= hd_prod;
            if (start_dma) begin
                hd_buf <= c_buf;
                dma_rd_req_len <= 32'(c_len) > BEAT_BYTES ? 13'(BEAT_BYTES) : 13'(c_len);
            end
            if (hd_prod) begin
                hd_lo <= 48'(hd_buf) * 48'(buf_size[15:0]);
                hd_hi <= 48'(hd_buf) * 48'(buf_size[31:16]);
            end
            if (hd_sum) begin
                dma_rd_req_valid <= 1'b1;
                dma_rd_req_addr  <= pool + 64'(hd_lo) + (64'(hd_hi) << 16);
            end
            // The front register: taken when the offered frame cannot be
            // pushed now; free once its frame is pushed.
            if (!fr_valid) begin
                if (frm_valid && !push) begin
                    fr_valid <= 1'b1;
                    fr_start <= frm_start;
                    fr_slots <= frm_slots;
                    fr_bytes <= frm_bytes;
                    fr_code  <= verdict(frm_slots, frm_ok, frm_first_len);
                    fr_buf   <= frm_first_buf;
                    fr_len   <= frm_first_len;
                    fr_flags <= frm_first_flags;
                    fr_hdr_wait <= start_dma;
                end
            end else begin
                if (push) begin
                    fr_valid <= 1'b0;
                    fr_hdr_wait <= 1'b0;
                end else if (start_dma) begin
                    fr_hdr_wait <= 1'b1;
                end
            end

            if (lk_res_valid) begin
                r_port[r_wr] <= lk_res_port;
                r_wr <= r_wr + AW'(1);
            end

            // 3. Output: a destination handed over; the no-destination count.
            if (dst_valid && dst_ready) begin
                if (o_last) begin
                    o_valid <= 1'b0;
                    done <= 1'b1;
                end else begin
                    o_mask    <= o_rest;
                    o_pick    <= lowest_port(o_rest);
                    o_several <= several(o_rest);
                end
            end
            if (o_valid && o_nodest) begin
                count_a(src_port, CNT_TX_DROP_NO_DEST);
                o_valid <= 1'b0;
                done <= 1'b1;
            end

            // 2. Decide the oldest frame.
            if (fire) begin
                q_rd <= q_rd + AW'(1);
                if (h_code != Q_LOOKUP) begin
                    count_a(src_port, h_code == Q_CHAIN ? CNT_TX_DROP_CHAIN
                                    : h_code == Q_BAD ? CNT_TX_DROP_BAD_SLOT
                                    : CNT_TX_DROP_SHORT);
                    done <= 1'b1;
                end else if (h_res == PORT_DROP) begin
                    count_a(src_port, CNT_TX_DROP_SAME_PORT);
                    done <= 1'b1;
                end else begin
                    count_a(src_port, CNT_TX_PACKETS);
                    cb_valid <= 1'b1; cb_port <= src_port;
                    cb_counter <= CNT_TX_BYTES; cb_amount <= h_bytes;
                    o_start <= h_start;
                    o_slots <= h_slots;
                    o_bytes <= h_bytes;
                    o_buf   <= h_buf;
                    o_len   <= h_len;
                    o_flags <= h_flags;
                    o_port  <= h_res;
                    o_ring  <= uni_ring;
                    o_mask  <= flood_mask;
                    o_pick  <= lowest_port(flood_mask);
                    o_several <= several(flood_mask);
                    if (h_res == PORT_FLOOD) begin
                        o_flood  <= 1'b1;
                        o_nodest <= flood_mask == '0;
                        o_valid  <= 1'b1;
                    end else if (uni_ok) begin
                        o_flood  <= 1'b0;
                        o_nodest <= 1'b0;
                        o_valid  <= 1'b1;
                    end else begin
                        done <= 1'b1;  // destination gone: nothing to do
                    end
                end
            end

            // (the counts step by one: both neighbours are ready, the
            // handshakes only choose)
            if (push && !fire) q_cnt <= q_cnt_up;
            if (fire && !push) q_cnt <= q_cnt_dn;
            if (fire && h_code == Q_LOOKUP) r_rd <= r_rd + AW'(1);
            if (lk_res_valid && !(fire && h_code == Q_LOOKUP)) r_cnt <= r_cnt_up;
            if (!lk_res_valid && fire && h_code == Q_LOOKUP) r_cnt <= r_cnt_dn;
        end
    end
endmodule
