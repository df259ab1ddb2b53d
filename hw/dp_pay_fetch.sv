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
// Many reads are in flight at once (up to NE), so the round trip is paid
// once per window, not once per frame; completions may come back in any
// order between tags (in order within one), and each beat lands in the
// packet buffer at its entry's next beat.
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
// with bit 7 set (bits 6..0 the entry); the stages' reads have bit 7
// clear, so dp_engine steers each response beat by its tag.
`include "nm_defines.svh"

module dp_pay_fetch #(
    // Port table entries (sizes the shared helpers only).
    parameter int NUM_PORTS  = 8,
    // Rings per direction per port (sizes the shared helpers only).
    parameter int RINGS      = 4,
    // BAR2 size in bytes.
    parameter int BAR2_BYTES = 262144,
    // Packet buffer entries (frames read ahead at most), at most 128.
    parameter int NE         = 128,
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
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic [7:0]   rsp_tag,   // bit 7 was checked by dp_engine
    /* verilator lint_on UNUSEDSIGNAL */
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
    // Beats per entry: a whole 2 KiB buffer (a 1514-byte frame fits).
    localparam int ENTRY_BEATS = 32;
    localparam int ENTRY_BYTES = ENTRY_BEATS * BEAT_BYTES;

    // Requests waiting for the DMA channel (a power of two).
    localparam int QD = 4;
    localparam int QDW = $clog2(QD);
    logic run;               // a job is being scanned

    logic [31:0] base, buf_size, num_bufs;
    logic [63:0] pool;
    logic [15:0] n, ci0, head, s;
    // The slot at s (the stream's front) begins a frame.
    logic        at_start;
    // The stream of the ring's slots from s: started at the job's hwcur,
    // again at the stages' frame when they passed the scan.
    logic        s_restart, s_valid, take;
    logic [15:0] s_restart_ci;
    logic [63:0] s_word;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [15:0] s_lim;
    /* verilator lint_on UNUSEDSIGNAL */
    // The request queue: slot, buffer, length (at most ENTRY_BYTES).
    logic [15:0]    rq_slot [QD];
    logic [31:0]    rq_buf  [QD];
    logic [12:0]    rq_len  [QD];
    logic [QDW-1:0] rq_wr, rq_rd;
    logic [QDW:0]   rq_n;

    // Per entry: allocated this job for slot e_slot, first beat in, all
    // in, a read in flight, beats received.
    logic [NE-1:0] e_valid, e_b0, e_done, e_busy;
    logic [15:0]   e_slot [NE];
    logic [4:0]    e_cnt  [NE];
    logic [95:0]   e_hdr  [NE];
    logic [8:0]    inflight;
    logic [15:0]   beats;     // response beats still to come
    logic [511:0]  pbuf [NE * ENTRY_BEATS];

    // Position of slot x in the job (distance from the job's hwcur), and
    // its entry.
    function automatic logic [15:0] pos_of(input logic [15:0] x);
        pos_of = ring_dist(x, ci0, n);
    endfunction

    logic [15:0] pos_s, pos_cons, pos_q;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [15:0] pos_look, pos_dlv;  // their low bits name the entry
    /* verilator lint_on UNUSEDSIGNAL */
    logic [EW-1:0] eq, el, ed;
    logic [15:0]   q_slot;
    assign q_slot   = rq_slot[rq_rd];
    assign pos_s    = pos_of(s);
    assign pos_cons = pos_of(cons);
    assign pos_q    = pos_of(q_slot);
    assign pos_look = pos_of(look_slot);
    assign pos_dlv  = pos_of(dlv_slot);
    assign eq = pos_q[EW-1:0];
    assign el = pos_look[EW-1:0];
    assign ed = pos_dlv[EW-1:0];

    // The scan may look at slot s: not head, and within NE of the consumer.
    // When the stages passed it, it resumes at their frame (and what it
    // had read or queued is behind them too).
    logic behind, in_window, q_behind;
    assign behind    = pos_s < pos_cons;
    assign in_window = pos_s - pos_cons < 16'(NE);
    assign q_behind  = pos_q < pos_cons;

    // The check takes the slot at s when it is in the window and the
    // queue has room for its request.
    assign take = run && s_valid && !behind && in_window && 32'(rq_n) < 32'(QD);
    assign s_restart    = start || (run && behind);
    assign s_restart_ci = start ? start_ci : cons;
    dp_slot_stream #(.NUM_PORTS(NUM_PORTS), .RINGS(RINGS), .BAR2_BYTES(BAR2_BYTES)) stream (
        .clk, .rst,
        .restart(s_restart), .restart_base(start ? start_base : base),
        .restart_n(start ? start_n : n), .restart_ci(s_restart_ci),
        .restart_lim(start ? start_head : head),
        .lim_valid(1'b0), .lim_head(16'd0),
        .line_want, .line_grant, .line_row, .line_rdata,
        .f_valid(s_valid), .f_idx(s), .f_word(s_word), .pop(take), .lim(s_lim)
    );

    logic [15:0] q_beats;  // the head request's beats
    assign q_beats = 16'((32'(rq_len[rq_rd]) + BEAT_BYTES - 32'd1) / BEAT_BYTES);
    assign rd_req_valid = run && rq_n != '0 && !q_behind && !e_busy[eq]
                       && 32'(beats) + 32'(q_beats) <= MAX_BEATS;
    assign rd_req_addr  = pool + 64'(rq_buf[rq_rd]) * 64'(buf_size);
    assign rd_req_len   = rq_len[rq_rd];
    assign rd_req_tag   = {1'b1, 7'(eq)};

    assign look_alloc = e_valid[el] && e_slot[el] == look_slot;
    assign look_b0    = look_alloc && e_b0[el];
    assign look_hdr   = e_hdr[el];
    assign dlv_alloc  = e_valid[ed] && e_slot[ed] == dlv_slot;
    assign dlv_done   = dlv_alloc && e_done[ed];
    assign busy       = inflight != 9'd0;

    // The slot at s, and whether its frame is worth reading ahead.
    logic [15:0] dlen;
    logic        fetch_it;
    assign dlen = slot_len(s_word);
    assign fetch_it = at_start && buf_ok(slot_buf(s_word), num_bufs)
                   && 32'(dlen) <= buf_size && 32'(dlen) >= ETH_HEADER_LEN
                   && 32'(dlen) <= ENTRY_BYTES;

    // Response beats: entry rsp_tag[EW-1:0], at its next beat.
    logic [EW-1:0] er;
    assign er = rsp_tag[EW-1:0];
    always_ff @(posedge clk) begin
        if (rsp_valid) pbuf[{er, e_cnt[er]}] <= rsp_data;
        if (rsp_valid && e_cnt[er] == 5'd0) e_hdr[er] <= rsp_data[95:0];
        rd_data <= pbuf[{ed, rd_beat}];
    end

    logic accept, push;
    assign accept = rd_req_valid && rd_req_ready;
    assign push   = take && fetch_it;

    always_ff @(posedge clk) begin
        if (rst) begin
            run <= 1'b0;
            rq_n <= '0;
            e_valid <= '0;
            e_b0 <= '0;
            e_done <= '0;
            e_busy <= '0;
            inflight <= '0;
            beats <= '0;
        end else begin
            inflight <= inflight + (accept ? 9'd1 : 9'd0)
                      - ((rsp_valid && rsp_last) ? 9'd1 : 9'd0);
            beats <= beats + (accept ? q_beats : 16'd0) - (rsp_valid ? 16'd1 : 16'd0);
            if (rsp_valid) begin
                e_cnt[er] <= e_cnt[er] + 5'd1;
                e_b0[er]  <= 1'b1;
                if (rsp_last) begin
                    e_done[er] <= 1'b1;
                    e_busy[er] <= 1'b0;
                end
            end
            if (accept) begin
                e_valid[eq] <= 1'b1;
                e_slot[eq]  <= q_slot;
                e_b0[eq]    <= 1'b0;
                e_done[eq]  <= 1'b0;
                e_busy[eq]  <= 1'b1;
                e_cnt[eq]   <= '0;
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

            if (run && behind) begin
                // The stages passed the scan: resume at their frame
                // (the stream starts over there).
                at_start <= 1'b1;
            end

            if (stop) run <= 1'b0;
            if (start) begin
                base     <= start_base;
                n        <= start_n;
                ci0      <= start_ci;
                head     <= start_head;
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
