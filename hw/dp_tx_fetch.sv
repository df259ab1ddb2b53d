// TX slot fetch: the next frame of a TX ring, from BAR2.
//
// On a request (the ring's BAR2 base, its size, hwcur and head, the
// source port's buffer limits) it takes the ring's slots from hwcur one
// per cycle and gathers one frame: a MOREFRAG chain ended by a slot
// without NS_MOREFRAG. A slot is valid when its buffer index is in
// BUF_FIRST_VALID .. num_bufs - 1 and its length at most buf_size; the
// frame is valid when all its slots are.
// The slots come from a dp_slot_stream: BAR2's line port, four slots a
// read, read ahead up to head. The stream stays where the last frame
// ended, so a request for the slot after it (the next frame of the same
// ring, same head, `req_fresh` clear) finds its first slot there: a
// one-slot frame is answered the cycle after its request, and the next
// request may come in that cycle (a frame per cycle). Any other request
// starts the stream over at req_ci (its answer takes three cycles more);
// `req_fresh` asks for that whatever the position (a new job: the ring's
// slots may have changed since they were read).
// The answer (`rsp_*`, a one-cycle pulse; the frame's fields hold until
// the next request):
//   FETCH_FRAME  a complete frame at rsp_start, rsp_next is the slot after it;
//   FETCH_END    hwcur is head: nothing to do;
//   FETCH_WAIT   the chain reaches head unfinished: it waits at hwcur;
//   FETCH_DROP   (VALE only) the unfinished chain is already over
//                MAX_FRAGS slots: it can never be forwarded, so it is
//                skipped up to head (rsp_next) and counted by the caller.
`include "nm_defines.svh"

module dp_tx_fetch #(
    // Port table entries (sizes the shared helpers only).
    parameter int NUM_PORTS  = 8,
    // Rings per direction per port (sizes the shared helpers only).
    parameter int RINGS      = 4,
    // BAR2 size in bytes.
    parameter int BAR2_BYTES = 262144
) (
    input  logic        clk,
    input  logic        rst,

    // Request: fetch the frame at req_ci of the ring (req_n slots, slot 0
    // at BAR2 byte offset req_base + RING_HEADER_BYTES) that ends at
    // req_head. req_pipe: a pipe's ring (an unfinished chain always waits).
    input  logic        req_valid,
    output logic        req_ready,
    input  logic [31:0] req_base,
    input  logic [15:0] req_n,
    input  logic [15:0] req_ci,
    input  logic [15:0] req_head,
    input  logic        req_pipe,
    // The ring's slots may have changed since the last request: start
    // the stream over (else it is used when it stands at req_ci).
    input  logic        req_fresh,
    // A VALE job's stop: rsp_stop tells that the frame holds this slot
    // (the job takes no frame after it).
    input  logic [15:0] req_stop,
    input  logic [31:0] req_num_bufs,
    input  logic [31:0] req_buf_size,

    // BAR2 descriptor memory, line port (a read when granted; the line
    // is on line_rdata the next cycle).
    output logic                               line_want,
    input  logic                               line_grant,
    output logic [$clog2(BAR2_BYTES / 64)-1:0] line_row,
    input  logic [511:0]                       line_rdata,

    // Answer (one-cycle pulse) and the frame (held until the next request).
    output logic        rsp_valid,
    output logic [1:0]  rsp_kind,     // FETCH_*
    output logic [15:0] rsp_next,     // hwcur after this answer (FRAME, DROP)
    output logic [15:0] rsp_start,    // the frame's first slot
    output logic [15:0] rsp_slots,    // its slots
    output logic [31:0] rsp_bytes,    // sum of their lengths
    output logic        rsp_ok,       // every slot valid
    output logic [31:0] rsp_first_buf,
    output logic [15:0] rsp_first_len,
    output logic [15:0] rsp_first_flags,
    output logic        rsp_stop      // one of its slots is req_stop
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    /* verilator lint_on UNUSEDPARAM */

    logic        scanning;  // a frame's slots are being taken
    logic        live;      // the stream was started
    logic [31:0] num_bufs, buf_size;
    logic [15:0] n, stop;
    logic        pipe;

    // The stream of the ring's slots.
    logic        s_restart, s_valid, s_pop;
    logic [15:0] s_idx, s_lim;
    logic [63:0] s_word;
    dp_slot_stream #(.NUM_PORTS(NUM_PORTS), .RINGS(RINGS), .BAR2_BYTES(BAR2_BYTES)) stream (
        .clk, .rst,
        .restart(s_restart), .restart_base(req_base), .restart_n(req_n),
        .restart_ci(req_ci), .restart_lim(req_head),
        .lim_valid(1'b0), .lim_head(16'd0),
        .line_want, .line_grant, .line_row, .line_rdata,
        .f_valid(s_valid), .f_idx(s_idx), .f_word(s_word), .pop(s_pop), .lim(s_lim)
    );

    assign req_ready = !scanning;

    // a == b as two carry-chain compares (a wide equality maps to a
    // chain of LUTs; these two run side by side).
    function automatic logic same(input logic [15:0] a, input logic [15:0] b);
        same = a >= b && b >= a;
    endfunction
    // The slot before the head (a frame's last possible slot).
    logic [15:0] lim_m1;

    // A request the stream stands at (same head, nothing changed); else
    // it starts over there (not for END: nothing to read).
    logic req, req_end, at;
    assign req       = req_valid && !scanning;
    assign req_end   = same(req_ci, req_head);
    assign at        = live && !req_fresh && same(s_idx, req_ci) && same(s_lim, req_head);
    assign s_restart = req && !req_end && !at;

    // The slot taken this cycle: the stream's front, in a request's own
    // cycle (when the stream stands there) or while scanning. The
    // stream's front is then the frame's next slot, and its limit the
    // frame's head.
    logic        first;
    logic [15:0] acc_slots;
    logic [31:0] acc_bytes;
    logic        acc_ok, acc_stop;
    assign s_pop     = s_valid && (scanning || (req && !req_end && at));
    assign first     = !scanning || rsp_slots == 16'd0;
    assign acc_slots = scanning ? rsp_slots : 16'd0;
    assign acc_bytes = scanning ? rsp_bytes : 32'd0;
    assign acc_ok    = scanning ? rsp_ok : 1'b1;
    assign acc_stop  = scanning ? rsp_stop : 1'b0;
    logic        more, last;
    logic [15:0] after;
    assign more  = (slot_flags(s_word) & NS_MOREFRAG) != 16'd0;
    logic [15:0] s_inc;
    assign s_inc = s_idx + 16'd1;
    assign after = s_inc >= n ? 16'd0 : s_inc;  // (s_idx < n)
    assign last  = same(s_idx, lim_m1);

    always_ff @(posedge clk) begin
        if (rst) begin
            scanning  <= 1'b0;
            live      <= 1'b0;
            rsp_valid <= 1'b0;
            rsp_kind  <= FETCH_END;
            rsp_stop  <= 1'b0;
        end else begin
            rsp_valid <= 1'b0;
            if (req) begin
                pipe      <= req_pipe;
                rsp_start <= req_ci;
                rsp_next  <= req_ci;
                rsp_slots <= '0;
                rsp_bytes <= '0;
                rsp_ok    <= 1'b1;
                rsp_stop  <= 1'b0;
                stop      <= req_stop;
                if (req_end) begin
                    rsp_valid <= 1'b1;
                    rsp_kind  <= FETCH_END;
                end else begin
                    scanning <= 1'b1;
                end
                if (s_restart) begin
                    live     <= 1'b1;
                    lim_m1   <= (req_head == 16'd0 ? req_n : req_head) - 16'd1;
                    n        <= req_n;
                    num_bufs <= req_num_bufs;
                    buf_size <= req_buf_size;
                end
            end
            if (s_pop) begin
                // s_word: slot s_idx (buf_idx, len, flags).
                rsp_slots <= acc_slots + 16'd1;
                rsp_bytes <= acc_bytes + 32'(slot_len(s_word));
                rsp_ok    <= acc_ok && buf_ok(slot_buf(s_word), num_bufs)
                          && 32'(slot_len(s_word)) <= buf_size;
                rsp_stop  <= acc_stop || s_idx == (scanning ? stop : req_stop);
                if (first) begin
                    rsp_first_buf   <= slot_buf(s_word);
                    rsp_first_len   <= slot_len(s_word);
                    rsp_first_flags <= slot_flags(s_word);
                end
                rsp_next <= after;
                scanning <= 1'b1;
                if (!more) begin
                    rsp_valid <= 1'b1;
                    rsp_kind  <= FETCH_FRAME;
                    scanning  <= 1'b0;
                end else if (last) begin
                    rsp_valid <= 1'b1;
                    scanning  <= 1'b0;
                    if (!(scanning ? pipe : req_pipe) && 32'(acc_slots) + 32'd1 > MAX_FRAGS) begin
                        rsp_kind <= FETCH_DROP;
                    end else begin
                        rsp_kind <= FETCH_WAIT;
                        rsp_next <= scanning ? rsp_start : req_ci;
                    end
                end
            end
        end
    end
endmodule
