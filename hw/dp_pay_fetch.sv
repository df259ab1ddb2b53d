// Payload fetch ahead of the forwarding stages, into a packet buffer.
//
// While a VALE job runs, this stage scans the job's TX ring from hwcur
// towards head (a dp_slot_stream reads BAR2's line port in the cycles
// the other stages leave, four slots a read; the check takes one slot
// per cycle, its DMA request waits in a small queue) and, for every
// frame's first slot that
// the forwarding stages would read (a valid buffer, ETH_HEADER_LEN <= len
// <= ENTRY_BYTES), issues a DMA read of that slot's whole payload with a
// tag of its own.
// Many reads are in flight at once (up to NT, one tag each), so the round
// trip is paid once per window, not once per frame; completions may come
// back in any order between tags (in order within one), and each beat
// lands in the packet buffer at its read's next beat.
//
// The packet buffer is NB beats of 64 bytes, handed out in scan order as
// a ring: a frame takes ceil(len / 64) beats (a 60-byte frame one, a
// 1514-byte frame 24), so the window holds many small frames or enough
// large ones for a round trip. The allocations are released in the same
// order (a queue), each once its frame is behind the stages (or its entry
// was reused or dropped) and its read's last beat is in. Tags are handed
// out from a free list (any order back).
//
// Entry e holds the frame whose first slot s has ring position
// (s - job hwcur) mod n congruent to e mod NE; the scan stays within NE
// positions of the consumer (the frame the forwarding stages are at), so
// no entry is reused while its frame may still be read, and an entry is
// reused only after its previous read's last beat. The forwarding stages
// ask by slot. dp_vale_fwd (`look_slot`): `look_alloc` (a read of it was
// issued this job), `look_b0` (its first beat is in) and `look_hdr` (the
// frame's first 12 bytes, the MAC addresses, kept apart in distributed
// RAM). dp_deliver (`dlv_slot`, the frame it copies, maybe an older one):
// `dlv_alloc`, `dlv_done` (all of it is in), and `rd_beat` selects a beat
// of that entry, on `rd_data` the next cycle.
// A frame not prefetched (the scan was not there yet, or its first slot
// fails the checks above) is read by the stages themselves, as before.
//
// The payload of a slot between hwcur and head is the device's until the
// job publishes it, so a copy read ahead stays good. Reads here carry tags
// TAG_BASE .. TAG_BASE + NT - 1; the stages' reads the tags below
// TAG_BASE (dp_engine's split of the host's tags), so dp_engine steers
// each response beat by its tag.
`include "nm_defines.svh"

module dp_pay_fetch #(
    // Port table entries (sizes the shared helpers only).
    parameter int NUM_PORTS  = 8,
    // Rings per direction per port (sizes the shared helpers only).
    parameter int RINGS      = 4,
    // BAR2 size in bytes.
    parameter int BAR2_BYTES = 262144,
    // Entries (ring positions the window spans; frames read ahead at
    // most), a power of two, at most 256.
    parameter int NE         = 256,
    // Reads in flight at most (tags), and the first tag (dp_engine's
    // split: the stages have the tags below it).
    parameter int NT         = 224,
    parameter int TAG_BASE   = 32,
    // Packet buffer beats (a power of two, at least 64).
    parameter int NB         = 1024,
    // Response beats in flight at most: enough to cover a round trip of
    // this many cycles at one beat per cycle, and no more, so a stage's
    // read (a destination slot fill, a head) never queues behind more
    // read-ahead data than that on the link.
    parameter int MAX_BEATS  = 384
) (
    input  logic        clk,
    input  logic        rst,

    // A VALE job starts (one cycle): its TX ring (BAR2 base, slots, hwcur,
    // head) and the source port's pool. `stop`: the job ended.
    input  logic        start,
    input  logic [31:0] start_base,
    input  logic [15:0] start_n,
    input  logic [15:0] start_ci,
    input  logic [15:0] start_head,
    input  logic [63:0] start_pool,
    input  logic [31:0] start_buf_size,
    input  logic [31:0] start_num_bufs,
    input  logic        stop,
    // The job's port and ring (start), the port enables, and the TX
    // doorbells as bar0_regs gives them: the read ahead outlives a job
    // (below) up to the newest doorbell's head of its ring.
    input  logic [7:0]  start_port,
    input  logic [3:0]  start_ring,
    input  logic [NUM_PORTS-1:0] port_enable,
    input  logic        db_valid,
    input  logic        db_rx,
    input  logic [7:0]  db_port,
    input  logic [3:0]  db_ring,
    input  logic [15:0] db_head,
    // The first slot of the frame the forwarding stages are at (a frame
    // start); the scan stays within NE positions of it.
    input  logic [15:0] cons,

    // BAR2 descriptor memory, line port: a read wanted, granted when no
    // stage uses the port this cycle; the line is on line_rdata the next
    // cycle.
    output logic                               line_want,
    input  logic                               line_grant,
    output logic [$clog2(BAR2_BYTES / 64)-1:0] line_row,
    input  logic [511:0]                       line_rdata,

    // DMA read channel: an offered request (taken when ready), and the
    // response beats with this stage's tags (always accepted).
    output logic         rd_req_valid,
    input  logic         rd_req_ready,
    output logic [63:0]  rd_req_addr,
    output logic [12:0]  rd_req_len,
    output logic [7:0]   rd_req_tag,
    input  logic         rsp_valid,
    input  logic [511:0] rsp_data,
    input  logic [7:0]   rsp_tag,   // dp_engine checked it is one of NT
    input  logic         rsp_last,

    // The packet buffer, read by the forwarding stages.
    input  logic [15:0]  look_slot,
    output logic         look_alloc,
    output logic         look_b0,
    output logic [95:0]  look_hdr,
    input  logic [15:0]  dlv_slot,
    output logic         dlv_alloc,
    output logic         dlv_done,
    input  logic [4:0]   rd_beat,
    output logic [511:0] rd_data,

    // Reads in flight.
    output logic         busy
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    /* verilator lint_on UNUSEDPARAM */

    localparam int EW = $clog2(NE);
    localparam int TW = $clog2(NT);
    localparam int BW = $clog2(NB);
    // Beats of a frame read ahead at most: a whole 2 KiB buffer (a
    // 1514-byte frame fits).
    localparam int ENTRY_BEATS = 32;
    localparam int ENTRY_BYTES = ENTRY_BEATS * BEAT_BYTES;
    // Allocations not yet released at most.
    localparam int AQ = 2 * NE;
    localparam int AW = $clog2(AQ);

    // Requests waiting for the DMA channel (a power of two).
    localparam int QD = 4;
    localparam int QDW = $clog2(QD);
    logic run;               // a job is being scanned
    // Across jobs: after a job of this ring (port sp, ring sr) ends at
    // end_ci, the scan goes on (keep) up to the newest doorbell's head,
    // within NE of end_ci; the next job of the ring starting at end_ci
    // takes what it read. Only where an entry can be named by the slot
    // index alone (smode: n a multiple of NE, or at most NE), so the
    // entries stay put when the job's hwcur moves. A refused head for
    // the ring (the host then takes its ring back from hwcur) or the port
    // disabled ends it (alive).
    logic        keep, alive, smode;
    logic [7:0]  sp;
    logic [3:0]  sr;
    logic [15:0] end_ci;

    logic [31:0] base, buf_size, num_bufs;
    logic [63:0] pool;
    logic [15:0] n, ci0, s;
    // The slot at s (the stream's front) begins a frame.
    logic        at_start;
    // The stream of the ring's slots from s: started at the job's hwcur,
    // again at the stages' frame when they passed the scan.
    logic        s_restart, s_valid, take;
    logic [15:0] s_restart_ci;
    logic [63:0] s_word;
    logic [15:0] s_lim;
    // The request queue: slot, buffer, length (at most ENTRY_BYTES).
    logic [15:0]    rq_slot [QD];
    logic [31:0]    rq_buf  [QD];
    logic [12:0]    rq_len  [QD];
    logic [QDW-1:0] rq_wr, rq_rd;
    logic [QDW:0]   rq_n;

    // Per entry: allocated for slot e_slot, its frame's first beat at
    // e_bst in the packet buffer; first beat in, all in, a read in flight.
    logic [NE-1:0] e_valid, e_b0, e_done, e_busy;
    logic [15:0]   e_slot [NE];
    logic [BW-1:0] e_bst  [NE];
    logic [95:0]   e_hdr  [NE];
    logic [15:0]   inflight;
    logic [15:0]   beats;     // response beats still to come
    logic [511:0]  pbuf [NB];
    // Per tag: its entry, the beat its next response beat fills, and
    // whether that is the frame's first.
    logic [EW-1:0] t_e    [NT];
    logic [BW-1:0] t_addr [NT];
    logic [NT-1:0] t_first;
    // Free tags: the never used ones (t_fresh up), then those returned
    // (a queue).
    logic [TW:0]   t_fresh;
    logic [TW-1:0] tq [1 << TW];
    logic [TW-1:0] tq_wr, tq_rd;
    logic [TW:0]   tq_n;
    // The packet buffer's ring: the next free beat, beats allocated;
    // the allocations in order (slot, entry, beats).
    logic [BW-1:0] bw;
    logic [BW:0]   used;
    logic [15:0]   aq_slot [AQ];
    logic [EW-1:0] aq_e    [AQ];
    logic [5:0]    aq_nb   [AQ];
    logic [AW-1:0] aq_wr, aq_rd;
    logic [AW:0]   aq_n;

    // Position of slot x in the job (distance from the job's hwcur), and
    // its entry.
    function automatic logic [15:0] pos_of(input logic [15:0] x);
        pos_of = ring_dist(x, ci0, n);
    endfunction

    logic [15:0] pos_s, pos_cons, pos_q, cons_e;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [15:0] pos_look, pos_dlv;  // their low bits name the entry
    /* verilator lint_on UNUSEDSIGNAL */
    logic [EW-1:0] eq, el, ed;
    logic [15:0]   q_slot;
    assign q_slot   = rq_slot[rq_rd];
    assign pos_s    = pos_of(s);
    // Between jobs the consumer is the last job's end.
    assign cons_e   = run ? cons : end_ci;
    assign pos_cons = pos_of(cons_e);
    assign pos_q    = pos_of(q_slot);
    assign pos_look = pos_of(look_slot);
    assign pos_dlv  = pos_of(dlv_slot);
    assign eq = smode ? q_slot[EW-1:0] : pos_q[EW-1:0];
    assign el = smode ? look_slot[EW-1:0] : pos_look[EW-1:0];
    assign ed = smode ? dlv_slot[EW-1:0] : pos_dlv[EW-1:0];

    // The scan may look at slot s: not head, and within NE of the consumer.
    // When the stages passed it, it resumes at their frame (and what it
    // had read or queued is behind them too).
    logic behind, in_window, q_behind;
    assign behind    = pos_s < pos_cons;
    assign in_window = pos_s - pos_cons < 16'(NE);
    assign q_behind  = pos_q < pos_cons;

    // The check takes the slot at s when it is in the window and the
    // queue has room for its request.
    logic active;
    assign active = run || keep;
    assign take = active && s_valid && !behind && in_window && 32'(rq_n) < 32'(QD);

    // The doorbells of the ring: a newer head (ahead of the limit) moves
    // the limit on; a refused one ends the read ahead.
    logic db_ours, db_bad, db_newer, kill, cont;
    assign db_ours  = db_valid && !db_rx && db_port == sp && db_ring == sr;
    assign db_bad   = db_ours && db_head >= n;
    assign db_newer = db_ours && db_head < n && pos_of(db_head) > pos_of(s_lim);
    assign kill     = db_bad || !port_enable[PW'(sp)];
    // A job of the ring where the last one ended: go on.
    assign cont = start && keep && alive && !kill && {start_port, start_ring} == {sp, sr}
               && start_ci == end_ci && start_n == n;
    logic start_newer;
    assign start_newer = ring_dist(start_head, start_ci, n) > ring_dist(s_lim, start_ci, n);
    // Entries kept at a continuation: those of the slots scanned since
    // end_ci (the rest may be of an older lap of the ring).
    logic [NE-1:0] keep_mask;
    logic [15:0]   scanned;
    assign scanned = ring_dist(s, end_ci, n);
    always_comb begin
        for (int e = 0; e < NE; e++) begin
            logic [EW-1:0] ahead;  // slots from end_ci to e's (mod NE)
            ahead = EW'(e) - end_ci[EW-1:0];
            keep_mask[e] = 16'(ahead) < scanned;
        end
    end

    assign s_restart    = (start && !cont) || (run && behind);
    assign s_restart_ci = start ? start_ci : cons;
    dp_slot_stream #(.NUM_PORTS(NUM_PORTS), .RINGS(RINGS), .BAR2_BYTES(BAR2_BYTES)) stream (
        .clk, .rst,
        .restart(s_restart), .restart_base(start ? start_base : base),
        .restart_n(start ? start_n : n), .restart_ci(s_restart_ci),
        .restart_lim(start ? start_head : s_lim),
        .lim_valid((cont && start_newer) || (!start && db_newer)),
        .lim_head(start ? start_head : db_head),
        .line_want, .line_grant, .line_row, .line_rdata,
        .f_valid(s_valid), .f_idx(s), .f_word(s_word), .pop(take), .lim(s_lim)
    );

    logic [15:0] q_beats;  // the head request's beats
    assign q_beats = 16'((32'(rq_len[rq_rd]) + BEAT_BYTES - 32'd1) / BEAT_BYTES);
    // A free tag, room in the packet buffer and in the allocation queue.
    logic          t_avail;
    logic [TW-1:0] t_pick;
    assign t_avail = 32'(t_fresh) < NT || tq_n != '0;
    assign t_pick  = (32'(t_fresh) < NT) ? TW'(t_fresh) : tq[tq_rd];
    assign rd_req_valid = active && rq_n != '0 && !q_behind && !e_busy[eq] && t_avail
                       && 32'(used) + 32'(q_beats) <= NB && 32'(aq_n) < AQ
                       && 32'(beats) + 32'(q_beats) <= MAX_BEATS;
    assign rd_req_addr  = pool + 64'(rq_buf[rq_rd]) * 64'(buf_size);
    assign rd_req_len   = rq_len[rq_rd];
    assign rd_req_tag   = 8'(TAG_BASE + 32'(t_pick));

    assign look_alloc = e_valid[el] && e_slot[el] == look_slot;
    assign look_b0    = look_alloc && e_b0[el];
    assign look_hdr   = e_hdr[el];
    assign dlv_alloc  = e_valid[ed] && e_slot[ed] == dlv_slot;
    assign dlv_done   = dlv_alloc && e_done[ed];
    assign busy       = inflight != 16'd0 || (active && (rq_n != '0 || take));

    // The slot at s, and whether its frame is worth reading ahead.
    logic [15:0] dlen;
    logic        fetch_it;
    assign dlen = slot_len(s_word);
    assign fetch_it = at_start && buf_ok(slot_buf(s_word), num_bufs)
                   && 32'(dlen) <= buf_size && 32'(dlen) >= ETH_HEADER_LEN
                   && 32'(dlen) <= ENTRY_BYTES;

    // Response beats, registered first: tag rt's read, entry re, at the
    // read's next beat.
    logic          r_valid, r_last;
    logic [511:0]  r_data;
    logic [7:0]    r_tag;
    logic [TW-1:0] rt;
    logic [EW-1:0] re;
    assign rt = TW'(r_tag - 8'(TAG_BASE));
    assign re = t_e[rt];
    always_ff @(posedge clk) begin
        if (rst) r_valid <= 1'b0;
        else r_valid <= rsp_valid;
        r_data <= rsp_data;
        r_tag  <= rsp_tag;
        r_last <= rsp_last;
    end
    always_ff @(posedge clk) begin
        if (r_valid) pbuf[t_addr[rt]] <= r_data;
        if (r_valid && t_first[rt]) e_hdr[re] <= r_data[95:0];
        rd_data <= pbuf[e_bst[ed] + BW'(rd_beat)];
    end

    // The oldest allocation is released once its frame is not needed
    // (behind the stages, or its entry reused or dropped) and no read of
    // its entry is in flight.
    logic [15:0]   h_slot;
    logic [EW-1:0] h_e;
    logic          h_needed, release_it;
    assign h_slot     = aq_slot[aq_rd];
    assign h_e        = aq_e[aq_rd];
    assign h_needed   = e_valid[h_e] && e_slot[h_e] == h_slot && pos_of(h_slot) >= pos_cons;
    assign release_it = aq_n != '0 && !e_busy[h_e] && !h_needed;

    logic accept, push;
    assign accept = rd_req_valid && rd_req_ready;
    assign push   = take && fetch_it;

    always_ff @(posedge clk) begin
        if (rst) begin
            run <= 1'b0;
            keep <= 1'b0;
            alive <= 1'b0;
            rq_n <= '0;
            e_valid <= '0;
            e_b0 <= '0;
            e_done <= '0;
            e_busy <= '0;
            inflight <= '0;
            beats <= '0;
            t_fresh <= '0;
            tq_n <= '0;
            tq_wr <= '0;
            tq_rd <= '0;
            bw <= '0;
            used <= '0;
            aq_n <= '0;
            aq_wr <= '0;
            aq_rd <= '0;
        end else begin
            inflight <= inflight + (accept ? 16'd1 : 16'd0)
                      - ((r_valid && r_last) ? 16'd1 : 16'd0);
            beats <= beats + (accept ? q_beats : 16'd0) - (r_valid ? 16'd1 : 16'd0);
            if (r_valid) begin
                t_addr[rt]  <= t_addr[rt] + BW'(1);
                t_first[rt] <= 1'b0;
                e_b0[re]    <= 1'b1;
                if (r_last) begin
                    e_done[re] <= 1'b1;
                    e_busy[re] <= 1'b0;
                    tq[tq_wr]  <= rt;
                    tq_wr      <= tq_wr + TW'(1);
                end
            end
            tq_n <= tq_n + ((r_valid && r_last) ? (TW + 1)'(1) : '0)
                  - ((accept && 32'(t_fresh) >= NT) ? (TW + 1)'(1) : '0);
            // The packet buffer: allocated at a request, released in order.
            used <= used + (accept ? (BW + 1)'(q_beats) : '0)
                  - (release_it ? (BW + 1)'(aq_nb[aq_rd]) : '0);
            aq_n <= aq_n + (accept ? (AW + 1)'(1) : '0) - (release_it ? (AW + 1)'(1) : '0);
            if (release_it) aq_rd <= aq_rd + AW'(1);
            // A continuation keeps the entries of the slots scanned since
            // the last job's end.
            if (cont) e_valid <= e_valid & keep_mask;
            // The scan passes slot s: what its entry held is older.
            if (take && smode) e_valid[s[EW-1:0]] <= 1'b0;
            if (accept) begin
                e_valid[eq] <= 1'b1;
                e_slot[eq]  <= q_slot;
                e_b0[eq]    <= 1'b0;
                e_done[eq]  <= 1'b0;
                e_busy[eq]  <= 1'b1;
                e_bst[eq]   <= bw;
                t_e[t_pick]     <= eq;
                t_addr[t_pick]  <= bw;
                t_first[t_pick] <= 1'b1;
                if (32'(t_fresh) < NT) t_fresh <= t_fresh + (TW + 1)'(1);
                else tq_rd <= tq_rd + TW'(1);
                bw <= bw + BW'(q_beats);
                aq_slot[aq_wr] <= q_slot;
                aq_e[aq_wr]    <= eq;
                aq_nb[aq_wr]   <= 6'(q_beats);
                aq_wr <= aq_wr + AW'(1);
            end

            // Check: the slot at s; a frame's first slot worth reading
            // ahead queues its request.
            if (take) at_start <= (slot_flags(s_word) & NS_MOREFRAG) == 16'd0;
            if (push) begin
                rq_slot[rq_wr] <= s;
                rq_buf[rq_wr]  <= slot_buf(s_word);
                rq_len[rq_wr]  <= 13'(dlen);
                rq_wr <= rq_wr + QDW'(1);
            end
            // Request: the oldest queued one leaves when accepted, or is
            // dropped once the stages passed it.
            if (rq_n != '0 && (accept || q_behind)) rq_rd <= rq_rd + QDW'(1);
            rq_n <= rq_n + (push ? (QDW + 1)'(1) : '0)
                  - ((rq_n != '0 && (accept || q_behind)) ? (QDW + 1)'(1) : '0);

            if (active && behind) begin
                // The stages passed the scan: resume at their frame
                // (the stream starts over there).
                at_start <= 1'b1;
            end

            if (stop && run) begin
                // Positions from the job's end now: the host's newer heads
                // may pass the job's hwcur (it owns everything from head
                // to end_ci - 1 once the job publishes).
                run    <= 1'b0;
                keep   <= alive && smode;
                end_ci <= cons;
                ci0    <= cons;
            end
            if (kill) begin
                alive <= 1'b0;
                keep  <= 1'b0;
            end
            if (cont) begin
                // The next job of the ring: positions from its hwcur.
                ci0 <= start_ci;
                run <= 1'b1;
                if (s == end_ci) at_start <= 1'b1;
            end else if (start) begin
                sp    <= start_port;
                sr    <= start_ring;
                alive <= 1'b1;
                keep  <= 1'b0;
                smode <= start_n <= 16'(NE) || start_n[EW-1:0] == '0;
                base     <= start_base;
                n        <= start_n;
                ci0      <= start_ci;
                pool     <= start_pool;
                buf_size <= start_buf_size;
                num_bufs <= start_num_bufs;
                at_start <= 1'b1;
                rq_n     <= '0;
                rq_rd    <= '0;
                rq_wr    <= '0;
                e_valid  <= '0;
                run <= 1'b1;
            end
        end
    end
endmodule
