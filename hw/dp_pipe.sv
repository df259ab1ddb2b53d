// Pipe crossover: moves slot descriptors from a pipe end's TX ring to
// the peer's RX ring (zero copy), and the receiver's buffers back.
//
// Three requests of one TX job, each answered by a `done` pulse:
// - open: the peer must be a pipe entry, enabled, naming this port back
//   (an entry that names a reused entry holds its frames), with this
//   ring among its RX rings; then the peer's RX head is re-read by DMA
//   (the free room, as fresh as possible), with the fill of the RX slot
//   prefetch in flight beside it (told apart by tag). `ok` clear: the
//   other end is gone, the job ends without publishing.
// - frame (a complete frame from dp_tx_fetch): a bad slot or a chain
//   longer than the peer ring minus one is skipped (CNT_TX_DROP_BAD_SLOT);
//   a frame that does not fit the peer's room waits (`wait`: hwcur stays
//   at its first slot, the job ends); otherwise, per slot: the RX slot's
//   buffer (from dp_rx_rings' prefetch, or read by DMA) goes into the TX
//   slot in BAR2 (len 0, NS_BUF_CHANGED, ptr 0), the TX slot's
//   descriptor into the RX slot (NS_BUF_CHANGED, NS_MOREFRAG kept, ptr 0)
//   by DMA (a one-slot packet uses dp_tx_fetch's copy of its slot;
//   `done` leaves with the last slot, the receiver's counters a cycle
//   later). The swapped TX slots are gathered and written back to the
//   host's copy of the TX ring (when the port has one) as one DMA write
//   per run: four slots (a 64-byte line), the line's or the ring's end, a
//   skipped packet, the job's end. CNT_TX_PACKETS/BYTES of the sender,
//   CNT_RX_PACKETS/BYTES of the receiver.
// - run (from run_ci up to run_head): one-slot packets moved a BAR2
//   line (four TX slots) at a time, pipelined: the line read, the moved
//   slots' words (dp_pipe_line) written back in one line write with a
//   mask, their RX slots in one DMA write and the host's copy of them in
//   another, two cycles per line; the receiver's buffers from the window
//   (dp_pipe_win: reads of the peer's free RX slots kept in flight from
//   the open to the job's end, up to 512 slots ahead, so the round trip
//   is paid once per job). It stops at a slot that is not such a
//   packet (a chain, a bad slot: the frame path takes it), at head, when
//   the peer's room or the prefetch runs out, or at once when the TX
//   ring is not line-aligned in BAR2; `done` with run_next, the slot it
//   stopped at, after the run's counters (one event each, with amounts).
// - close (once the window's reads are answered): the run gathered so
//   far is written; the TX ring's hwtail to
//   publish is hwcur + min(peer room, n - 1) (`pub_tail`, `span`); the
//   peer ring is dirty if anything moved.
`include "nm_defines.svh"

module dp_pipe #(
    // Port table entries.
    parameter int NUM_PORTS  = 8,
    // Rings per direction per port served.
    parameter int RINGS      = 4,
    // BAR2 size in bytes.
    parameter int BAR2_BYTES = 262144
) (
    input  logic        clk,
    input  logic        rst,

    // Port table (bar0_regs).
    input  logic [NUM_PORTS-1:0]                        port_enable,
    input  logic [NUM_PORTS*`NM_PORT_ENTRY_REGS*32-1:0] port_cfg,

    // The job: source port and ring, its TX ring's BAR2 base and size.
    input  logic [7:0]   src_port,
    input  logic [3:0]   src_ring,
    input  logic [31:0]  src_base,
    input  logic [15:0]  src_n,
    input  logic [15:0]  hwcur,       // the job's hwcur at close

    // Requests (one-cycle pulses, one at a time) and their answer.
    input  logic         open_valid,
    input  logic         frm_valid,
    input  logic         close_valid,
    input  logic         run_valid,
    output logic         done,
    output logic         ok,          // open: the peer is there
    output logic         wait_room,   // frame: it waits for room
    output logic [15:0]  pub_tail,    // close: TX hwtail to publish
    output logic [15:0]  span,        // close: pub_tail - hwcur (mod n)
    input  logic [15:0]  run_ci,      // run: from this slot ...
    input  logic [15:0]  run_head,    // ... up to (not including) this one
    output logic [15:0]  run_next,    // run: the slot it stopped at

    // The frame (held by dp_tx_fetch while this stage runs).
    input  logic [15:0]  frm_start,
    input  logic [15:0]  frm_slots,
    input  logic [31:0]  frm_bytes,
    input  logic         frm_ok,
    // Its first slot as dp_tx_fetch read it (a one-slot packet moves
    // without reading it again).
    input  logic [31:0]  frm_first_buf,
    input  logic [15:0]  frm_first_len,
    input  logic [15:0]  frm_first_flags,

    // The peer's RX ring (dp_rx_rings' d port).
    output logic [$clog2(NUM_PORTS*RINGS > 1 ? NUM_PORTS*RINGS : 2)-1:0] d_entry,
    input  logic [15:0]  d_hwtail,
    input  logic [15:0]  d_hwcur,
    input  logic [6:0]   d_pf_cnt,
    output logic [5:0]   d_pf_lane,  // prefetched slot hwtail + d_pf_lane ...
    input  logic [31:0]  d_pf_buf,   // ... its buffer index
    output logic         hc_we,
    output logic [15:0]  hc_value,
    output logic         ht_we,
    output logic [15:0]  ht_value,
    output logic [15:0]  ht_used,
    output logic         fill_we,
    output logic [5:0]   fill_k,
    output logic [2:0]   fill_n,
    output logic         dirty_set,

    // BAR2 descriptor memory, device port (64-bit words, read latency 1).
    output logic                               desc_rd_en,
    output logic [$clog2(BAR2_BYTES / 8)-1:0]  desc_rd_word,
    input  logic [63:0]                        desc_rd_data,
    output logic                               desc_wr_en,
    output logic [$clog2(BAR2_BYTES / 8)-1:0]  desc_wr_word,
    output logic [63:0]                        desc_wr_data,
    // Its line port (four slots; read latency 1; runs only).
    output logic                               desc_line_en,
    output logic                               desc_line_we,
    output logic [$clog2(BAR2_BYTES / 64)-1:0] desc_line_row,
    output logic [3:0]                         desc_line_mask,
    output logic [511:0]                       desc_line_wdata,
    input  logic [511:0]                       desc_line_rdata,

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

    // Counter events.
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

    localparam int WORD_W = $clog2(BAR2_BYTES / 8);
    localparam int PF = 64;
    localparam int LINE_SLOTS = BEAT_BYTES / SLOT_BYTES;  // slots per write-back line

    typedef enum logic [4:0] {
        P_IDLE, P_OPEN_RD, P_OPEN_FILL, P_REFRESH, P_SLOT, P_RXRD, P_RXWAIT, P_FILLWAIT,
        P_USE, P_WR, P_WR2, P_COUNT, P_WB_FLUSH, P_RUN_RD, P_RUN_MV, P_RUN_CP, P_RUN_END,
        P_CLOSE
    } state_t;
    state_t st, wb_ret;

    logic [PW-1:0] cp, dq;
    logic [3:0]    drr;
    logic [QW-1:0] dqe;
    logic [15:0]   dhw, dhc, k, sidx, jidx, pipe_free, pipe_avail;
    logic          moved;
    logic [63:0]   slot_q;    // TX slot being moved
    logic [31:0]   rbuf;      // the receiver's buffer for this slot
    // Write-back: swapped TX slots gathered into one DMA write of up to a
    // 64-byte line. Only the buffer index differs between them: kept per
    // lane, the line built from it (a variable part-select of the 512-bit
    // line would cost two 512-bit barrel shifters).
    logic [31:0]   wb_buf [LINE_SLOTS];
    logic [511:0]  wb_data;
    logic [63:0]   wb_addr;   // host address of the first gathered slot
    logic [2:0]    wb_cnt;    // slots gathered
    logic          wb_due;    // the run is complete: write it next
    // Open: the head re-read and the prefetch fill are in flight together
    // (two tags, answers in any order).
    logic          rd_head;     // the read in the request register is the head's
    logic [7:0]    head_tag;    // its tag, once it left
    logic          head_wait;   // its answer is due
    logic          fill_wait;   // beats of the fill are due

    // Run: the TX slot it is at, where it ends, what it moved; the host
    // copy's write of the line just moved (its slots' new buffers).
    logic [15:0]   ri, rhead, rpk;
    logic [31:0]   rby;
    logic [1:0]    rcnt;
    logic [63:0]   cp_addr;
    logic [2:0]    cp_n;
    logic [127:0]  cp_bufs;

    assign cp   = PW'(src_port);
    assign busy = st != P_IDLE || wb_cnt != 3'd0 || win_pending;
    assign d_entry = dqe;
    assign pipe_avail = (pipe_free < src_n - 16'd1) ? pipe_free : src_n - 16'd1;
    always_comb begin
        wb_data = '0;
        for (int l = 0; l < LINE_SLOTS; l++) begin
            wb_data[8 * SLOT_BYTES * l +: 64] = slot_word(wb_buf[l], 16'd0, NS_BUF_CHANGED);
        end
    end

    // The peer: paired both ways, enabled, with this ring.
    logic [PW-1:0] peer;
    logic          peer_ok;
    assign peer    = PW'(cfg_peer[cp]);
    assign peer_ok = cfg_peer[cp] < 32'(NUM_PORTS) && port_enable[peer]
                  && is_pipe(cfg_kind[peer]) && cfg_peer[peer] == 32'(cp)
                  && 16'(src_ring) < cfg_rx_rings[peer];

    // ---- Derived values --------------------------------------------------
    logic [15:0] rn;
    logic [63:0] slot_addr_rx, slot_addr_txh;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0] tx_slot_byte;  // BAR2 byte offset of TX slot sidx
    /* verilator lint_on UNUSEDSIGNAL */
    logic        wb_on, wb_joins, wb_last;
    always_comb begin
        rn            = cfg_rx_slots[dq];
        slot_addr_rx  = cfg_rx_ring[dq] + 64'(drr) * ring_bytes(rn) + slot_off(jidx);
        tx_slot_byte  = src_base + 32'(slot_off(sidx));
        // Slot sidx of the host's copy of the TX ring.
        slot_addr_txh = cfg_status[cp] + 64'(cfg_tx_host[cp])
                      + 64'(src_ring) * ring_bytes(src_n) + slot_off(sidx);
        wb_on    = cfg_tx_host[cp] != 32'd0;
        // Slot sidx extends the gathered run (a skipped packet breaks it).
        wb_joins = wb_cnt == 3'd0 || slot_addr_txh == wb_addr + 64'(wb_cnt) * 64'(SLOT_BYTES);
        // With slot sidx the run ends: a line's worth of slots, the line's
        // end, the ring's end.
        wb_last  = 32'(wb_cnt) == LINE_SLOTS - 1
                || (slot_addr_txh + 64'(SLOT_BYTES)) % 64'(BEAT_BYTES) == 64'd0
                || nxt(sidx, src_n) == 16'd0;
    end
    // ---- Run ------------------------------------------------------------
    // The line of TX slot ri, the slots that may move from it (head, the
    // peer's room, the prefetch, the RX ring's end), and what they become.
    localparam int ROW_W = $clog2(BAR2_BYTES / 64);
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0] run_byte;  // BAR2 byte offset of TX slot ri
    /* verilator lint_on UNUSEDSIGNAL */
    logic [63:0] run_txh;   // slot ri of the host's copy of the TX ring
    logic [15:0] run_lim, run_want;  // (run_want: before the window's limit)
    logic [2:0]  ln_moved;
    logic [31:0] ln_bytes;
    logic [3:0]  ln_mask;
    logic [511:0] ln_tx_line, ln_rx_slots;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [511:0] ln_tx_slots;  // (the host copy is rebuilt from cp_bufs)
    /* verilator lint_on UNUSEDSIGNAL */
    always_comb begin
        run_byte = src_base + 32'(slot_off(ri));
        run_txh  = cfg_status[cp] + 64'(cfg_tx_host[cp])
                 + 64'(src_ring) * ring_bytes(src_n) + slot_off(ri);
        run_lim  = ring_dist(rhead, ri, src_n);
        if (pipe_free < run_lim) run_lim = pipe_free;
        if (rn - jidx < run_lim) run_lim = rn - jidx;
        run_want = run_lim;
        if (16'(w_avail) < run_lim) run_lim = 16'(w_avail);
        if (run_lim > 16'd4) run_lim = 16'd4;
        // Lines of four slots only when the ring's slots sit in lines.
        if (src_base[5:0] != 6'd0 || src_n[1:0] != 2'd0) begin
            run_lim  = 16'd0;
            run_want = 16'd0;
        end
    end
    dp_pipe_line #(.NUM_PORTS(NUM_PORTS), .RINGS(RINGS)) run_line (
        .line(desc_line_rdata), .first(ri[1:0]), .limit(3'(run_lim)),
        .pool_bufs(cfg_num_bufs[cp]), .pool_buf_size(cfg_buf_size[cp]), .pf_bufs(w_bufs),
        .moved(ln_moved), .bytes(ln_bytes), .mask(ln_mask), .tx_line(ln_tx_line),
        .rx_slots(ln_rx_slots), .tx_slots(ln_tx_slots)
    );
    logic [511:0] cp_data;
    always_comb begin
        cp_data = '0;
        for (int j = 0; j < 4; j++) begin
            cp_data[128 * j +: 64] = slot_word(cp_bufs[32 * j +: 32], 16'd0, NS_BUF_CHANGED);
        end
    end
    // ---- Window of the peer's free RX slots' buffers -----------------------
    // Seq s is RX slot w_base + s (the peer's hwtail at open); reads go
    // out below w_lim (the free room, the job's TX slots), within 512 of
    // the mover, whenever the request register is free outside the open
    // and the frame path's reads.
    logic [15:0] w_base, w_lim, w_tx, w_cons, w_issued, w_rxslot, w_n;
    logic        w_on, w_full, win_pending, win_mine, w_go, rd_win;
    logic [2:0]  w_avail;
    logic [127:0] w_bufs;
    assign w_cons   = ring_dist((st == P_RUN_RD || st == P_RUN_MV || st == P_RUN_CP
                                 || st == P_RUN_END) ? jidx : dhw, w_base, rn);
    assign w_rxslot = (32'(w_base) + 32'(w_issued) >= 32'(rn))
                    ? w_base + w_issued - rn : w_base + w_issued;
    always_comb begin
        w_n = w_lim - w_issued;
        if (w_n > 16'(PF)) w_n = 16'(PF);
        if (rn - w_rxslot < w_n) w_n = rn - w_rxslot;
        w_go = w_on && !w_full && w_issued < w_lim
            && 32'(w_issued) + 32'(w_n) <= 32'(w_cons) + 32'd512
            && (!dma_rd_req_valid || dma_rd_req_ready)
            && st != P_OPEN_RD && st != P_OPEN_FILL && st != P_RXRD
            && st != P_RXWAIT && st != P_FILLWAIT && st != P_CLOSE;
    end
    dp_pipe_win window (
        .clk, .rst, .start(st == P_IDLE && open_valid),
        .push(w_go), .push_n(7'(w_n)),
        .tag_valid(rd_win && dma_rd_req_valid && dma_rd_req_ready), .tag(dma_rd_req_tag),
        .issued(w_issued), .full(w_full), .pending(win_pending),
        .rsp_valid(dma_rd_rsp_valid), .rsp_tag(dma_rd_rsp_tag), .rsp_data(dma_rd_rsp_data),
        .rsp_mine(win_mine),
        .cons(w_cons), .avail(w_avail), .bufs(w_bufs)
    );

    // The line port: read in P_RUN_RD and P_RUN_CP (the next line),
    // written in P_RUN_MV.
    always_comb begin
        desc_line_en    = st == P_RUN_RD
                       || (st == P_RUN_MV && ln_moved != 3'd0 && dma_wr_free)
                       || (st == P_RUN_CP && (!wb_on || dma_wr_free));
        desc_line_we    = st == P_RUN_MV;
        desc_line_row   = run_byte[ROW_W+5:6];
        desc_line_mask  = ln_mask;
        desc_line_wdata = ln_tx_line;
    end

    // Responses: a status entry's head, or buffer indexes (dp_rx_rings
    // takes a fill's other lanes).
    /* verilator lint_off UNUSEDSIGNAL */
    logic [511:0] rsp_unused;
    assign rsp_unused = dma_rd_rsp_data;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [WORD_W-1:0] tx_word;
    assign tx_word = tx_slot_byte[WORD_W+2:3];
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0] tx_first_byte;  // BAR2 byte offset of the frame's first slot
    /* verilator lint_on UNUSEDSIGNAL */
    logic [WORD_W-1:0] tx_first_word;
    assign tx_first_byte = src_base + 32'(slot_off(frm_start));
    assign tx_first_word = tx_first_byte[WORD_W+2:3];

    // The head just read from the status entry: in [hwcur, hwtail].
    logic [15:0] beat_head;
    logic        beat_head_ok;
    always_comb begin
        beat_head    = dma_rd_rsp_data[15:0];
        beat_head_ok = dma_rd_rsp_data[31:16] == 16'd0 && beat_head < rn
                    && ring_dist(beat_head, dhc, rn) <= ring_dist(dhw, dhc, rn);
    end

    // Prefetch of RX slots at jidx = hwtail + k (as dp_deliver).
    logic [15:0] fill_room, fill_free, fill_want;
    logic [6:0]  fill_now;
    logic        pf_hit;
    logic [31:0] pf_value;
    always_comb begin
        fill_room = rn - jidx;
        fill_free = pipe_free - k;
        fill_want = 16'(PF) - k;
        if (fill_room < fill_want) fill_want = fill_room;
        if (fill_free < fill_want) fill_want = fill_free;
        fill_now = 7'(fill_want);
        pf_hit   = k < 16'(d_pf_cnt);
        pf_value = d_pf_buf;
    end
    // The fill sent with the head re-read: from the prefetched slots on,
    // within the room the cached head gives (the fresh head only adds).
    logic [15:0] open_at, open_room, open_free, open_want;
    always_comb begin
        open_at   = (32'(dhw) + 32'(d_pf_cnt) >= 32'(rn))
                  ? dhw + 16'(d_pf_cnt) - rn : dhw + 16'(d_pf_cnt);
        open_room = rn - open_at;
        open_free = rx_free(dhc, dhw, rn);
        open_free = (open_free > 16'(d_pf_cnt)) ? open_free - 16'(d_pf_cnt) : 16'd0;
        open_want = 16'(PF) - 16'(d_pf_cnt);
        if (open_room < open_want) open_want = open_room;
        if (open_free < open_want) open_want = open_free;
    end
    // A fill of up to PF slots arrives four per beat (as dp_deliver).
    // (In P_IDLE a one-slot packet takes the first prefetched slot.)
    assign d_pf_lane = (st == P_IDLE) ? 6'd0 : k[5:0];
    logic [5:0] fill_at;
    logic [6:0] fill_left;
    assign fill_k  = fill_at;
    assign fill_n  = (fill_left > 7'd4) ? 3'd4 : 3'(fill_left);
    logic rsp_head;  // this beat answers the head re-read
    assign rsp_head = head_wait && dma_rd_rsp_tag == head_tag;
    assign fill_we = (st == P_FILLWAIT || (st == P_REFRESH && !rsp_head && !win_mine))
                  && dma_rd_rsp_valid;

    assign desc_rd_en   = st == P_SLOT;
    assign desc_rd_word = tx_word;
    always_comb begin
        case (st)
            P_REFRESH, P_RXWAIT, P_FILLWAIT: dma_rd_rsp_ready = 1'b1;
            default: dma_rd_rsp_ready = win_mine;
        endcase
    end

    task automatic rd_issue(input logic [63:0] addr, input logic [12:0] len);
        dma_rd_req_valid <= 1'b1;
        dma_rd_req_addr  <= addr;
        dma_rd_req_len   <= len;
    endtask
    // The gathered TX slots into the host's TX ring: one posted write,
    // ahead of the TX status it must not trail.
    task automatic wb_write();
        dma_wr_req_valid <= 1'b1;
        dma_wr_req_addr  <= wb_addr;
        dma_wr_req_len   <= 7'(wb_cnt) * 7'(SLOT_BYTES);
        dma_wr_req_data  <= wb_data;
        wb_cnt <= '0;
        wb_due <= 1'b0;
    endtask
    task automatic finish(input logic good, input logic waits);
        done <= 1'b1; ok <= good; wait_room <= waits;
        st <= P_IDLE;
    endtask

    always_ff @(posedge clk) begin
        if (rst) begin
            st <= P_IDLE;
            wb_ret <= P_IDLE;
            dma_rd_req_valid <= 1'b0;
            dma_wr_req_valid <= 1'b0;
            desc_wr_en <= 1'b0;
            done <= 1'b0; ok <= 1'b0; wait_room <= 1'b0;
            hc_we <= 1'b0; ht_we <= 1'b0; dirty_set <= 1'b0;
            ca_valid <= 1'b0; cb_valid <= 1'b0;
            wb_cnt <= '0; wb_due <= 1'b0;
            dqe <= '0;
            rd_head <= 1'b0; head_wait <= 1'b0; fill_wait <= 1'b0;
            rd_win <= 1'b0; w_on <= 1'b0;
        end else begin
            done <= 1'b0;
            hc_we <= 1'b0; ht_we <= 1'b0; dirty_set <= 1'b0;
            ca_valid <= 1'b0; cb_valid <= 1'b0;
            desc_wr_en <= 1'b0;
            if (dma_rd_req_valid && dma_rd_req_ready) begin
                dma_rd_req_valid <= 1'b0;
                if (rd_head) head_tag <= dma_rd_req_tag;
                rd_head <= 1'b0;
                rd_win  <= 1'b0;
            end
            if (dma_wr_req_valid && dma_wr_req_ready) dma_wr_req_valid <= 1'b0;
            if (w_go) begin
                // The window's next read: the buffer indexes of w_n slots.
                rd_issue(cfg_rx_ring[dq] + 64'(drr) * ring_bytes(rn) + slot_off(w_rxslot)
                         + 64'(SLOT_BUF_IDX),
                         13'((32'(w_n) - 32'd1) * SLOT_BYTES + (SLOT_LEN - SLOT_BUF_IDX)));
                rd_win <= 1'b1;
            end

            case (st)
            P_IDLE: begin
                if (open_valid) begin
                    moved <= 1'b0;
                    if (peer_ok) begin
                        dq  <= peer;
                        drr <= src_ring;
                        dqe <= entry_of(32'(peer), 32'(src_ring));
                        st  <= P_OPEN_RD;
                    end else begin
                        finish(1'b0, 1'b0);  // the pipe's other end is gone
                    end
                end else if (frm_valid) begin
                    if (!frm_ok || frm_slots > rn - 16'd1) begin
                        // Never handed to the receiver; skipped, counted.
                        ca_valid <= 1'b1; ca_port <= src_port;
                        ca_counter <= CNT_TX_DROP_BAD_SLOT;
                        finish(1'b1, 1'b0);
                    end else if (frm_slots > pipe_free) begin
                        finish(1'b1, 1'b1);  // back-pressure: wait for the receiver
                    end else if (frm_slots == 16'd1 && d_pf_cnt != 7'd0) begin
                        // A one-slot packet with its RX slot prefetched:
                        // dp_tx_fetch read the slot, the receiver's buffer
                        // goes back into it now (P_SLOT, P_RXRD skipped).
                        k <= '0;
                        sidx <= frm_start;
                        jidx <= dhw;
                        slot_q <= slot_word(frm_first_buf, frm_first_len, frm_first_flags);
                        desc_wr_en   <= 1'b1;
                        desc_wr_word <= tx_first_word;
                        desc_wr_data <= slot_word(pf_value, 16'd0, NS_BUF_CHANGED);
                        rbuf <= pf_value;
                        st <= P_WR;
                    end else begin
                        k <= '0;
                        sidx <= frm_start;
                        jidx <= dhw;
                        st <= P_SLOT;
                    end
                end else if (run_valid) begin
                    ri    <= run_ci;
                    rhead <= run_head;
                    k     <= '0;
                    jidx  <= dhw;
                    rpk   <= '0;
                    rby   <= '0;
                    rcnt  <= '0;
                    // A run gathered by the frame path goes out first.
                    if (wb_cnt != 3'd0) begin
                        wb_ret <= P_RUN_RD;
                        st <= P_WB_FLUSH;
                    end else begin
                        st <= P_RUN_RD;
                    end
                end else if (close_valid) begin
                    w_on <= 1'b0;
                    st <= P_CLOSE;
                end
            end

            P_CLOSE: begin
                // Once the window's reads are answered (the status
                // publisher takes the next beats).
                if (!win_pending) begin
                    pub_tail <= (32'(hwcur) + 32'(pipe_avail) >= 32'(src_n))
                        ? hwcur + pipe_avail - src_n : hwcur + pipe_avail;
                    span <= pipe_avail;
                    if (moved) dirty_set <= 1'b1;
                    if (wb_cnt != 3'd0) begin
                        wb_ret <= P_IDLE;
                        st <= P_WB_FLUSH;
                    end else begin
                        finish(1'b1, 1'b0);
                    end
                end
            end

            P_OPEN_RD: begin
                // dqe is set: the peer ring's state is on d_*. The window
                // starts at its hwtail, bounded by the cached room (the
                // fresh head only adds) and the job's TX slots.
                dhw <= d_hwtail;
                dhc <= d_hwcur;
                w_base <= d_hwtail;
                w_tx   <= ring_dist(run_head, run_ci, src_n);
                w_lim  <= (rx_free(d_hwcur, d_hwtail, rn) < ring_dist(run_head, run_ci, src_n))
                        ? rx_free(d_hwcur, d_hwtail, rn) : ring_dist(run_head, run_ci, src_n);
                w_on   <= 1'b1;
                if (dma_rd_can) begin
                    rd_issue(cfg_status[dq] + st_off(drr, 1'b1, ST_HEAD),
                             13'(ST_NEED_KICK + 32'd4 - ST_HEAD));
                    rd_head   <= 1'b1;
                    head_wait <= 1'b1;
                    st <= P_OPEN_FILL;
                end
            end

            P_OPEN_FILL: begin
                // The prefetch fill goes out behind the head re-read, so
                // the two round trips overlap.
                if (open_want == 16'd0) begin
                    st <= P_REFRESH;
                end else if (dma_rd_can) begin
                    rd_issue(cfg_rx_ring[dq] + 64'(drr) * ring_bytes(rn) + slot_off(open_at)
                             + 64'(SLOT_BUF_IDX),
                             13'((32'(open_want) - 32'd1) * SLOT_BYTES
                                 + (SLOT_LEN - SLOT_BUF_IDX)));
                    fill_at   <= d_pf_cnt[5:0];
                    fill_left <= 7'(open_want);
                    fill_wait <= 1'b1;
                    st <= P_REFRESH;
                end
            end

            P_REFRESH: begin
                if (dma_rd_rsp_valid && !rsp_head && !win_mine) begin
                    // A beat of the fill (dp_rx_rings takes it).
                    fill_at   <= fill_at + 6'd4;
                    fill_left <= fill_left - 7'(fill_n);
                    if (fill_left <= 7'd4) begin
                        fill_wait <= 1'b0;
                        if (!head_wait) finish(1'b1, 1'b0);
                    end
                end
                if (dma_rd_rsp_valid && rsp_head) begin
                    head_wait <= 1'b0;
                    if (beat_head_ok) begin
                        dhc <= beat_head;
                        hc_we <= 1'b1; hc_value <= beat_head;
                        pipe_free <= rx_free(beat_head, dhw, rn);
                        w_lim <= (rx_free(beat_head, dhw, rn) < w_tx)
                               ? rx_free(beat_head, dhw, rn) : w_tx;
                    end else begin
                        pipe_free <= rx_free(dhc, dhw, rn);
                    end
                    if (!fill_wait) finish(1'b1, 1'b0);
                end
            end

            P_SLOT: begin
                if (wb_due) wb_write();
                st <= P_RXRD;  // the slot is read in this state
            end

            P_RXRD: begin
                slot_q <= desc_rd_data;
                if (pf_hit) begin
                    // The receiver's buffer goes back into the TX slot.
                    desc_wr_en   <= 1'b1;
                    desc_wr_word <= tx_word;
                    desc_wr_data <= slot_word(pf_value, 16'd0, NS_BUF_CHANGED);
                    rbuf <= pf_value;
                    st <= P_WR;
                end else if (dma_rd_can && !win_pending) begin
                    // (The frame path's read waits for the window's:
                    // it takes the next beat.)
                    if (k < 16'(PF)) begin
                        rd_issue(slot_addr_rx + 64'(SLOT_BUF_IDX),
                                 13'((32'(fill_now) - 32'd1) * SLOT_BYTES
                                     + (SLOT_LEN - SLOT_BUF_IDX)));
                        fill_at   <= k[5:0];
                        fill_left <= fill_now;
                        st <= P_FILLWAIT;
                    end else begin
                        rd_issue(slot_addr_rx + 64'(SLOT_BUF_IDX),
                                 13'(SLOT_LEN - SLOT_BUF_IDX));
                        st <= P_RXWAIT;
                    end
                end
            end

            P_FILLWAIT: begin
                // dp_rx_rings takes the lanes of every beat; slot k is
                // lane 0 of the first.
                if (dma_rd_rsp_valid) begin
                    if (fill_at == k[5:0]) rbuf <= dma_rd_rsp_data[31:0];
                    fill_at   <= fill_at + 6'd4;
                    fill_left <= fill_left - 7'(fill_n);
                    if (fill_left <= 7'd4) st <= P_USE;
                end
            end

            P_RXWAIT: begin
                if (dma_rd_rsp_valid) begin
                    rbuf <= dma_rd_rsp_data[31:0];
                    st <= P_USE;
                end
            end

            P_USE: begin
                // The receiver's buffer goes back into the TX slot.
                desc_wr_en   <= 1'b1;
                desc_wr_word <= tx_word;
                desc_wr_data <= slot_word(rbuf, 16'd0, NS_BUF_CHANGED);
                st <= P_WR;
            end

            P_WR: begin
                // (A write-back may still be waiting in the write register.)
                if (dma_wr_free) begin
                    desc_wr_en   <= 1'b1;
                    desc_wr_word <= tx_word + WORD_W'(SLOT_PTR / 8);
                    desc_wr_data <= '0;  // ptr
                    // The TX slot's buffer goes into the RX slot (ptr 0).
                    dma_wr_req_valid <= 1'b1;
                    dma_wr_req_addr  <= slot_addr_rx;
                    dma_wr_req_len   <= 7'(SLOT_BYTES);
                    dma_wr_req_data  <= {448'd0, slot_word(slot_buf(slot_q), slot_len(slot_q),
                        (slot_flags(slot_q) & NS_MOREFRAG) | NS_BUF_CHANGED)};
                    st <= P_WR2;
                end
            end

            P_WR2: begin
                if (dma_wr_free && wb_on && !wb_joins) begin
                    // The gathered run ends before this slot: out first.
                    wb_ret <= P_WR2;
                    st <= P_WB_FLUSH;
                end else if (dma_wr_free) begin
                    k    <= k + 16'd1;
                    jidx <= nxt(jidx, rn);
                    sidx <= nxt(sidx, src_n);
                    if (wb_on) begin
                        if (wb_cnt == 3'd0) wb_addr <= slot_addr_txh;
                        for (int l = 0; l < LINE_SLOTS; l++) begin
                            if (32'(wb_cnt) == l) wb_buf[l] <= rbuf;
                        end
                        wb_cnt <= wb_cnt + 3'd1;
                    end
                    if (k + 16'd1 == frm_slots) begin
                        ht_we     <= 1'b1;
                        ht_value  <= nxt(jidx, rn);
                        ht_used   <= frm_slots;
                        dhw       <= nxt(jidx, rn);
                        pipe_free <= pipe_free - frm_slots;
                        moved     <= 1'b1;
                        ca_valid <= 1'b1; ca_port <= src_port; ca_counter <= CNT_TX_PACKETS;
                        cb_valid <= 1'b1; cb_port <= src_port;
                        cb_counter <= CNT_TX_BYTES; cb_amount <= frm_bytes;
                        // Done now: dp_tx_fetch reads the next slot in
                        // P_COUNT's cycle, which has no BAR2 write.
                        done <= 1'b1; ok <= 1'b1; wait_room <= 1'b0;
                    end
                    // A complete run leaves from P_SLOT or P_COUNT, which
                    // find the write register empty (it is leaving now)
                    // and have no write of their own.
                    wb_due <= wb_on && wb_last;
                    st <= (k + 16'd1 == frm_slots) ? P_COUNT : P_SLOT;
                end
            end

            P_WB_FLUSH: begin
                // A run that ends without filling its line (a gap, the job's end).
                if (dma_wr_free) begin
                    wb_write();
                    if (wb_ret == P_IDLE) finish(1'b1, 1'b0);
                    else st <= wb_ret;
                end
            end

            P_COUNT: begin
                // (`done` went out with the last slot.)
                if (wb_due) wb_write();
                // The receiver's side of the moved packet.
                ca_valid <= 1'b1; ca_port <= 8'(dq); ca_counter <= CNT_RX_PACKETS;
                cb_valid <= 1'b1; cb_port <= 8'(dq);
                cb_counter <= CNT_RX_BYTES; cb_amount <= frm_bytes;
                st <= P_IDLE;
            end

            P_RUN_RD: st <= P_RUN_MV;  // the line of ri is read now

            P_RUN_MV: begin
                // The line of ri is on desc_line_rdata.
                if (ln_moved == 3'd0) begin
                    // Waiting for the window's next slots, else the end.
                    if (run_want == 16'd0 || w_avail != 3'd0
                            || !(win_pending || (w_on && w_issued < w_lim))) begin
                        st <= P_RUN_END;
                    end
                end else if (dma_wr_free) begin
                    // The line is written back now; the RX slots go out.
                    dma_wr_req_valid <= 1'b1;
                    dma_wr_req_addr  <= slot_addr_rx;
                    dma_wr_req_len   <= 7'(ln_moved) * 7'(SLOT_BYTES);
                    dma_wr_req_data  <= ln_rx_slots;
                    cp_addr <= run_txh;
                    cp_n    <= ln_moved;
                    cp_bufs <= w_bufs;
                    ri   <= (32'(ri) + 32'(ln_moved) >= 32'(src_n))
                          ? ri + 16'(ln_moved) - src_n : ri + 16'(ln_moved);
                    jidx <= (32'(jidx) + 32'(ln_moved) >= 32'(rn))
                          ? jidx + 16'(ln_moved) - rn : jidx + 16'(ln_moved);
                    k    <= k + 16'(ln_moved);
                    pipe_free <= pipe_free - 16'(ln_moved);
                    rpk  <= rpk + 16'(ln_moved);
                    rby  <= rby + ln_bytes;
                    st <= P_RUN_CP;
                end
            end

            P_RUN_CP: begin
                // The host's copy of the moved slots; the next line is
                // read now.
                if (!wb_on || dma_wr_free) begin
                    if (wb_on) begin
                        dma_wr_req_valid <= 1'b1;
                        dma_wr_req_addr  <= cp_addr;
                        dma_wr_req_len   <= 7'(cp_n) * 7'(SLOT_BYTES);
                        dma_wr_req_data  <= cp_data;
                    end
                    st <= P_RUN_MV;
                end
            end

            P_RUN_END: begin
                // The run's counters, one a cycle, then `done`.
                rcnt <= rcnt + 2'd1;
                cb_valid <= rpk != 16'd0;
                case (rcnt)
                    2'd0: begin
                        cb_port <= src_port; cb_counter <= CNT_TX_PACKETS;
                        cb_amount <= 32'(rpk);
                        if (rpk != 16'd0) begin
                            // The receiver's ring: hwtail and prefetch.
                            ht_we    <= 1'b1;
                            ht_value <= jidx;
                            ht_used  <= k;
                            dhw      <= jidx;
                            moved    <= 1'b1;
                        end
                    end
                    2'd1: begin
                        cb_port <= src_port; cb_counter <= CNT_TX_BYTES; cb_amount <= rby;
                    end
                    2'd2: begin
                        cb_port <= 8'(dq); cb_counter <= CNT_RX_PACKETS;
                        cb_amount <= 32'(rpk);
                    end
                    default: begin
                        cb_port <= 8'(dq); cb_counter <= CNT_RX_BYTES; cb_amount <= rby;
                    end
                endcase
                if (rcnt == 2'd3 || rpk == 16'd0) begin
                    cb_valid <= rpk != 16'd0;
                    run_next <= ri;
                    finish(1'b1, 1'b0);
                end
            end

            default: st <= P_IDLE;
            endcase
        end
    end
endmodule
