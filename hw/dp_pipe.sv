// Pipe crossover: moves slot descriptors from a pipe end's TX ring to
// the peer's RX ring (zero copy), and the receiver's buffers back.
//
// Four requests of one TX job, each answered by a `done` pulse:
// - open: the peer must be a pipe entry, enabled, naming this port back
//   (an entry that names a reused entry holds its frames), with this
//   ring among its RX rings; then the peer's RX head is re-read by DMA
//   (unless every slot is released: the cached head is the hwtail) and
//   `done` leaves at once (`ok` clear: the other end is gone, the job
//   ends without publishing). The job starts on the cached room (the
//   fresh head only adds to it): a move that needs more waits for the
//   head's answer, and so does close.
// - frame (a complete frame from dp_tx_fetch): a bad slot or a chain
//   longer than the peer ring minus one is skipped (CNT_TX_DROP_BAD_SLOT);
//   a frame that does not fit the peer's room waits (`wait`: hwcur stays
//   at its first slot, the job ends); otherwise, per slot: the RX slot's
//   buffer (from the window) goes into the TX slot in BAR2 (len 0,
//   NS_BUF_CHANGED, ptr 0), the TX slot's descriptor into the RX slot
//   (NS_BUF_CHANGED, NS_MOREFRAG kept, ptr 0) by DMA (a one-slot packet
//   uses dp_tx_fetch's copy of its slot; `done` leaves with the last
//   slot, the receiver's counters a cycle later). The swapped TX slots
//   are gathered and written back to the host's copy of the TX ring
//   (when the port has one) as one DMA write per run: four slots (a
//   64-byte line), the line's or the ring's end, a skipped packet, the
//   job's end. CNT_TX_PACKETS/BYTES of the sender, CNT_RX_PACKETS/BYTES
//   of the receiver.
// - run (from run_ci up to run_head): one-slot packets moved a BAR2
//   line (four TX slots) at a time, pipelined: the line read, the moved
//   slots' words (dp_pipe_line) written back in one line write with a
//   mask, their RX slots in one DMA write and the host's copy of them in
//   another, two cycles per line. It stops at a slot that is not such a
//   packet (a chain, a bad slot: the frame path takes it), at head, when
//   the peer's room runs out (once the head's answer is in), or at once
//   when the TX ring is not line-aligned in BAR2; `done` with run_next,
//   the slot it stopped at, after the run's counters (one event each,
//   with amounts).
// - close (once the head's answer is in): the run gathered so far is
//   written; the TX ring's hwtail to publish is hwcur + min(peer room,
//   n - 1) (`pub_tail`, `span`); the peer ring is dirty if anything moved.
// The receiver's buffers come from the window (dp_pipe_win): reads of the
// peer's free RX slots, up to 512 slots ahead of the mover, issued while
// a job is open and bounded by the room; it is kept from one job to the
// next of the same peer ring (a free slot does not change until the
// device fills it), so a job starts on buffers read during the last one.
// Its reads may outlive the job: their beats are told apart by tag
// (`rsp_claim`), and a job on another peer ring waits for them.
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
    output logic         rsp_claim,        // this beat is one of this stage's reads

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

    output logic        busy,
    // A head re-read is in flight (it may outlive its job: dp_engine then
    // starts only pipe jobs and RX doorbells of pipes, so the peer ring
    // stays on d_*); its answer added room after the job closed (`wake`:
    // the sender's ring runs again to publish it).
    output logic        reread_due,
    output logic        wake
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    `include "dp_port_cfg.svh"
    /* verilator lint_on UNUSEDPARAM */


    localparam int WORD_W = $clog2(BAR2_BYTES / 8);
    localparam int WIN = 512;  // the window's depth (dp_pipe_win)
    localparam int RD_MAX = 64;  // slots per window read
    localparam int LINE_SLOTS = BEAT_BYTES / SLOT_BYTES;  // slots per write-back line

    typedef enum logic [4:0] {
        P_IDLE, P_OPEN_RD, P_SLOT, P_RXRD, P_RXWAIT, P_USE, P_WR, P_WR2, P_COUNT,
        P_WB_FLUSH, P_RUN_RD, P_RUN_MV, P_RUN_CP, P_RUN_END, P_CLOSE
    } state_t;
    state_t st, wb_ret;

    logic [PW-1:0] cp, dq;
    logic [3:0]    drr;
    logic [QW-1:0] dqe;
    // The peer ring: its hwcur (cached at open, then the head re-read),
    // the RX slot being filled (jidx: its hwtail between packets and
    // runs), the room from it (free slots up to the head, minus one).
    logic [15:0]   dhc, k, sidx, jidx, pipe_free, pipe_avail;
    logic          moved;
    logic [63:0]   slot_q;    // TX slot being moved
    logic [31:0]   rbuf;      // the receiver's buffer for this slot
    logic          frm_pend;  // a frame waits for the head's answer
    // Write-back: swapped TX slots gathered into one DMA write of up to a
    // 64-byte line. Only the buffer index differs between them: kept per
    // lane, the line built from it (a variable part-select of the 512-bit
    // line would cost two 512-bit barrel shifters).
    logic [31:0]   wb_buf [LINE_SLOTS];
    logic [511:0]  wb_data;
    logic [63:0]   wb_addr;   // host address of the first gathered slot
    logic [2:0]    wb_cnt;    // slots gathered
    logic          wb_due;    // the run is complete: write it next
    // The head re-read: in the request register (head_out), then its
    // answer due (head_wait, its tag head_tag).
    logic          head_out, head_wait;
    logic [7:0]    head_tag;
    logic [QW-1:0] head_q;    // the peer ring it reads

    // Run: the TX slot it is at, where it ends, what it moved; the host
    // copy's write of the line just moved (its slots' new buffers).
    logic [15:0]   ri, rhead, rpk;
    logic [31:0]   rby;
    logic [1:0]    rcnt;
    logic [63:0]   cp_addr;
    logic [2:0]    cp_n;
    logic [127:0]  cp_bufs;

    assign cp   = PW'(src_port);
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
    // The room may still grow: the head's answer is due.
    logic head_due;
    assign head_due = head_out || head_wait;
    assign reread_due = head_due;

    // ---- Window of the peer's free RX slots' buffers -----------------------
    // Seq w_cons is RX slot jidx; w_ahead slots from it are read or in
    // flight. Reads go out while a job is open (w_on), within the room and
    // WIN slots of the mover, whenever the request register is free
    // (outside the open's head re-read).
    logic [15:0] w_cons, w_issued, w_ahead, w_rxslot, w_room, w_n;
    logic        w_on, w_full, win_pending, win_mine, w_go, rd_win, w_start;
    logic [2:0]  w_avail;
    logic [127:0] w_bufs;
    // The window kept from the last job: valid, its peer ring, and the RX
    // slot of w_cons then (the peer's hwtail, unless a reset moved it).
    logic          w_valid, w_keep;
    logic [QW-1:0] w_q;
    logic [15:0]   w_tail;
    assign w_ahead  = w_issued - w_cons;
    assign w_rxslot = (32'(jidx) + 32'(w_ahead) >= 32'(rn))
                    ? jidx + w_ahead - rn : jidx + w_ahead;
    assign w_room   = (pipe_free > w_ahead) ? pipe_free - w_ahead : 16'd0;
    always_comb begin
        w_n = w_room;
        if (w_n > 16'(RD_MAX)) w_n = 16'(RD_MAX);
        if (rn - w_rxslot < w_n) w_n = rn - w_rxslot;
        w_go = w_on && !w_full && w_n != 16'd0
            && 32'(w_ahead) + 32'(w_n) <= 32'(WIN)
            && (!dma_rd_req_valid || dma_rd_req_ready)
            && st != P_OPEN_RD;
    end
    // At open: the same peer ring, its hwtail where the window left it.
    assign w_keep  = w_valid && w_q == dqe && d_hwtail == w_tail;
    // The open goes on: the window kept, or the old one's reads answered;
    // the head re-read leaves, unless the cached head is the device's
    // hwtail (every slot released: the head cannot be further on).
    // A re-read still in flight from the last job (its close did not wait
    // for it) serves this job too when it reads the same ring; a job on
    // another peer ring waits for its answer.
    logic open_reread, open_go;
    assign open_reread = d_hwcur != d_hwtail && !head_due;
    assign open_go = (w_keep || !win_pending) && (!open_reread || dma_rd_can)
                  && (!head_due || head_q == dqe);
    assign w_start = st == P_OPEN_RD && !w_keep && open_go;
    dp_pipe_win window (
        .clk, .rst, .start(w_start),
        .push(w_go), .push_n(7'(w_n)),
        .tag_valid(rd_win && dma_rd_req_valid && dma_rd_req_ready), .tag(dma_rd_req_tag),
        .issued(w_issued), .full(w_full), .pending(win_pending),
        .rsp_valid(dma_rd_rsp_valid), .rsp_tag(dma_rd_rsp_tag), .rsp_data(dma_rd_rsp_data),
        .rsp_mine(win_mine),
        .cons(w_cons), .avail(w_avail), .bufs(w_bufs)
    );
    assign busy = st != P_IDLE || wb_cnt != 3'd0 || win_pending || head_due || wake;

    // ---- Run ------------------------------------------------------------
    // The line of TX slot ri, the slots that may move from it (head, the
    // peer's room, the window, the RX ring's end), and what they become.
    localparam int ROW_W = $clog2(BAR2_BYTES / 64);
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0] run_byte;  // BAR2 byte offset of TX slot ri
    /* verilator lint_on UNUSEDSIGNAL */
    logic [63:0] run_txh;   // slot ri of the host's copy of the TX ring
    logic [15:0] run_lim, run_want;  // (run_want: before the window's limit)
    logic        run_aligned;
    logic [2:0]  ln_moved;
    logic [31:0] ln_bytes;
    logic [3:0]  ln_mask;
    logic [511:0] ln_tx_line, ln_rx_slots;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [511:0] ln_tx_slots;  // (the host copy is rebuilt from cp_bufs)
    /* verilator lint_on UNUSEDSIGNAL */
    // Lines of four slots only when the ring's slots sit in lines.
    assign run_aligned = src_base[5:0] == 6'd0 && src_n[1:0] == 2'd0;
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
        if (!run_aligned) begin
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
    // The run moves the line now; or it waits: for the window's next
    // slots, or at the cached room's end for the head's answer (a slot
    // left before head and a ring in lines).
    logic run_go, run_waits;
    assign run_go    = st == P_RUN_MV && ln_moved != 3'd0 && dma_wr_free;
    assign run_waits = (run_want != 16'd0 && w_avail == 3'd0 && (win_pending || w_on))
                    || (run_want == 16'd0 && run_aligned && pipe_free == 16'd0 && head_due
                        && ri != rhead);

    // The line port: read in P_RUN_RD and P_RUN_CP (the next line),
    // written in P_RUN_MV.
    always_comb begin
        desc_line_en    = st == P_RUN_RD || run_go
                       || (st == P_RUN_CP && (!wb_on || dma_wr_free));
        desc_line_we    = st == P_RUN_MV;
        desc_line_row   = run_byte[ROW_W+5:6];
        desc_line_mask  = ln_mask;
        desc_line_wdata = ln_tx_line;
    end

    // ---- The room ---------------------------------------------------------
    // The head just read from the status entry: in [hwcur, hwtail].
    logic [15:0] beat_head;
    logic        beat_head_ok, rsp_head;
    always_comb begin
        beat_head    = dma_rd_rsp_data[15:0];
        // Within the job's [hwcur, hwtail], and not behind the cached
        // head (an RX doorbell or dp_status may have written a newer one
        // since the read left: a stale answer never moves it back).
        beat_head_ok = dma_rd_rsp_data[31:16] == 16'd0 && beat_head < rn
                    && ring_dist(beat_head, dhc, rn) <= ring_dist(jidx, dhc, rn)
                    && ring_dist(beat_head, d_hwcur, rn) <= ring_dist(d_hwtail, d_hwcur, rn);
    end
    assign rsp_head = head_wait && dma_rd_rsp_valid && dma_rd_rsp_tag == head_tag;
    // The frame path's last slot of a packet leaves now.
    logic wr2_go, wr2_last;
    assign wr2_go   = st == P_WR2 && dma_wr_free && !(wb_on && !wb_joins);
    assign wr2_last = k + 16'd1 == frm_slots;
    // Slots filled this cycle, and the room the fresh head adds.
    logic [15:0] room_used, room_added;
    assign room_used  = run_go ? 16'(ln_moved) : (wr2_go && wr2_last) ? frm_slots : 16'd0;
    assign room_added = (rsp_head && beat_head_ok) ? ring_dist(beat_head, dhc, rn) : 16'd0;

    // Responses: the head's, the window's (by tag). Only a status entry's
    // head and buffer indexes are used.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [511:0] rsp_unused;
    logic [6:0]   pf_cnt_unused;
    logic [31:0]  pf_buf_unused;
    assign rsp_unused    = dma_rd_rsp_data;
    assign pf_cnt_unused = d_pf_cnt;
    assign pf_buf_unused = d_pf_buf;
    /* verilator lint_on UNUSEDSIGNAL */
    assign rsp_claim        = win_mine || rsp_head;
    assign dma_rd_rsp_ready = rsp_claim;
    // (dp_rx_rings' prefetch is the frame path of VALE's: the window
    // serves every slot here.)
    assign d_pf_lane = '0;
    assign fill_we   = 1'b0;
    assign fill_k    = '0;
    assign fill_n    = '0;

    logic [WORD_W-1:0] tx_word;
    assign tx_word = tx_slot_byte[WORD_W+2:3];
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0] tx_first_byte;  // BAR2 byte offset of the frame's first slot
    /* verilator lint_on UNUSEDSIGNAL */
    logic [WORD_W-1:0] tx_first_word;
    assign tx_first_byte = src_base + 32'(slot_off(frm_start));
    assign tx_first_word = tx_first_byte[WORD_W+2:3];

    assign desc_rd_en   = st == P_SLOT;
    assign desc_rd_word = tx_word;

    // A frame is decided now (P_IDLE): it fits, or it waits for room once
    // the head's answer is in.
    logic frm_now, frm_fits, frm_holds;
    assign frm_now   = st == P_IDLE && (frm_valid || frm_pend);
    assign frm_fits  = frm_slots <= pipe_free;
    assign frm_holds = frm_ok && frm_slots <= rn - 16'd1 && !frm_fits && head_due;

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
            wake <= 1'b0;
            hc_we <= 1'b0; ht_we <= 1'b0; dirty_set <= 1'b0;
            ca_valid <= 1'b0; cb_valid <= 1'b0;
            wb_cnt <= '0; wb_due <= 1'b0;
            dqe <= '0;
            head_out <= 1'b0; head_wait <= 1'b0;
            rd_win <= 1'b0; w_on <= 1'b0; w_valid <= 1'b0;
            w_cons <= '0;
            frm_pend <= 1'b0;
            pipe_free <= '0;
        end else begin
            done <= 1'b0;
            wake <= 1'b0;
            hc_we <= 1'b0; ht_we <= 1'b0; dirty_set <= 1'b0;
            ca_valid <= 1'b0; cb_valid <= 1'b0;
            desc_wr_en <= 1'b0;
            if (dma_rd_req_valid && dma_rd_req_ready) begin
                dma_rd_req_valid <= 1'b0;
                if (head_out) begin
                    head_tag  <= dma_rd_req_tag;
                    head_wait <= 1'b1;
                end
                head_out <= 1'b0;
                rd_win   <= 1'b0;
            end
            if (dma_wr_req_valid && dma_wr_req_ready) dma_wr_req_valid <= 1'b0;
            if (w_go) begin
                // The window's next read: the buffer indexes of w_n slots.
                rd_issue(cfg_rx_ring[dq] + 64'(drr) * ring_bytes(rn) + slot_off(w_rxslot)
                         + 64'(SLOT_BUF_IDX),
                         13'((32'(w_n) - 32'd1) * SLOT_BYTES + (SLOT_LEN - SLOT_BUF_IDX)));
                rd_win <= 1'b1;
            end
            // The room: what moved leaves it, the fresh head adds to it.
            pipe_free <= pipe_free - room_used + room_added;
            if (rsp_head) begin
                head_wait <= 1'b0;
                if (beat_head_ok) begin
                    dhc <= beat_head;
                    hc_we <= 1'b1; hc_value <= beat_head;
                end
                // After the close (dhc: the head it published on): a
                // newer head, this answer's or one another stage cached
                // meanwhile, is published by the next job.
                if (!w_on && ((beat_head_ok && beat_head != dhc) || d_hwcur != dhc))
                    wake <= 1'b1;
            end
            // A disabled peer's rings start over (dp_rx_rings): so does
            // the window kept for it.
            if (!port_enable[port_of(w_q)]) w_valid <= 1'b0;

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
                end else if (frm_now) begin
                    frm_pend <= frm_holds;
                    if (frm_holds) begin
                        // (The fresh head may make room: decided then.)
                    end else if (!frm_ok || frm_slots > rn - 16'd1) begin
                        // Never handed to the receiver; skipped, counted.
                        ca_valid <= 1'b1; ca_port <= src_port;
                        ca_counter <= CNT_TX_DROP_BAD_SLOT;
                        finish(1'b1, 1'b0);
                    end else if (!frm_fits) begin
                        finish(1'b1, 1'b1);  // back-pressure: wait for the receiver
                    end else if (frm_slots == 16'd1 && w_avail != 3'd0) begin
                        // A one-slot packet with its RX slot in the window:
                        // dp_tx_fetch read the slot, the receiver's buffer
                        // goes back into it now (P_SLOT, P_RXRD skipped).
                        k <= '0;
                        sidx <= frm_start;
                        slot_q <= slot_word(frm_first_buf, frm_first_len, frm_first_flags);
                        desc_wr_en   <= 1'b1;
                        desc_wr_word <= tx_first_word;
                        desc_wr_data <= slot_word(w_bufs[31:0], 16'd0, NS_BUF_CHANGED);
                        rbuf <= w_bufs[31:0];
                        st <= P_WR;
                    end else begin
                        k <= '0;
                        sidx <= frm_start;
                        st <= P_SLOT;
                    end
                end else if (run_valid) begin
                    ri    <= run_ci;
                    rhead <= run_head;
                    k     <= '0;
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
                    w_on   <= 1'b0;
                    w_tail <= jidx;
                    st <= P_CLOSE;
                end
            end

            P_CLOSE: begin
                // On the room known now: a head's answer still due lands
                // after the job and wakes the sender's ring if it adds
                // room (the window's reads may outlive the job too: their
                // beats are told apart by tag).
                pub_tail <= (32'(hwcur) + 32'(pipe_avail) >= 32'(src_n))
                    ? hwcur + pipe_avail - src_n : hwcur + pipe_avail;
                span <= pipe_avail;
                if (moved) dirty_set <= 1'b1;
                // A newer head cached meanwhile (dp_status' read-back): the
                // next job publishes it (a due answer wakes when it lands).
                if (!head_due && d_hwcur != dhc) wake <= 1'b1;
                if (wb_cnt != 3'd0) begin
                    wb_ret <= P_IDLE;
                    st <= P_WB_FLUSH;
                end else begin
                    finish(1'b1, 1'b0);
                end
            end

            P_OPEN_RD: begin
                // dqe is set: the peer ring's state is on d_*. The job
                // starts on the cached room (the fresh head only adds);
                // the window is kept, or starts at the peer's hwtail once
                // the reads of another ring's are answered.
                if (open_go) begin
                    dhc  <= d_hwcur;
                    jidx <= d_hwtail;
                    pipe_free <= rx_free(d_hwcur, d_hwtail, rn);
                    if (!w_keep) w_cons <= '0;
                    w_on    <= 1'b1;
                    w_valid <= 1'b1;
                    w_q     <= dqe;
                    if (open_reread) begin
                        rd_issue(cfg_status[dq] + st_off(drr, 1'b1, ST_HEAD),
                                 13'(ST_NEED_KICK + 32'd4 - ST_HEAD));
                        head_out <= 1'b1;
                        head_q   <= dqe;
                    end
                    finish(1'b1, 1'b0);
                end
            end

            P_SLOT: begin
                if (wb_due) wb_write();
                st <= P_RXRD;  // the slot is read in this state
            end

            P_RXRD: begin
                slot_q <= desc_rd_data;
                if (w_avail != 3'd0) begin
                    // The receiver's buffer goes back into the TX slot.
                    desc_wr_en   <= 1'b1;
                    desc_wr_word <= tx_word;
                    desc_wr_data <= slot_word(w_bufs[31:0], 16'd0, NS_BUF_CHANGED);
                    rbuf <= w_bufs[31:0];
                    st <= P_WR;
                end else begin
                    st <= P_RXWAIT;
                end
            end

            P_RXWAIT: begin
                // The window's read of this RX slot is in flight.
                if (w_avail != 3'd0) begin
                    rbuf <= w_bufs[31:0];
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
                end else if (wr2_go) begin
                    k      <= k + 16'd1;
                    jidx   <= nxt(jidx, rn);
                    w_cons <= w_cons + 16'd1;
                    sidx   <= nxt(sidx, src_n);
                    if (wb_on) begin
                        if (wb_cnt == 3'd0) wb_addr <= slot_addr_txh;
                        for (int l = 0; l < LINE_SLOTS; l++) begin
                            if (32'(wb_cnt) == l) wb_buf[l] <= rbuf;
                        end
                        wb_cnt <= wb_cnt + 3'd1;
                    end
                    if (wr2_last) begin
                        ht_we     <= 1'b1;
                        ht_value  <= nxt(jidx, rn);
                        ht_used   <= frm_slots;
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
                    st <= wr2_last ? P_COUNT : P_SLOT;
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
                    if (!run_waits) st <= P_RUN_END;
                end else if (run_go) begin
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
                    w_cons <= w_cons + 16'(ln_moved);
                    k    <= k + 16'(ln_moved);
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
