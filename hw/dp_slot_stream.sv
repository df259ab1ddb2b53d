// A TX ring's slots from BAR2, a line (four 16-byte slots) per read.
//
// Reads the ring's slots in order from `restart_ci` up to (not
// including) the limit, through the descriptor memory's 512-bit line
// port: one read gives every slot of a 64-byte line (up to four), so a
// consumer taking one slot per cycle keeps the port busy a quarter of
// the time. The slots wait in a small queue (DEPTH words); the front is
// `f_word`, slot `f_idx`, while `f_valid`; `pop` takes it. The ring's
// base need only be 8-byte aligned: a slot's first 64-bit word (buf_idx,
// len, flags) is then always inside one line.
//
// The limit is the ring's head as the caller knows it: only slots the
// host handed to the device are read (the rest of a line is left). It
// may move on (`lim_valid`: a newer doorbell's head, ahead of the
// slots already read); `restart` starts over (a new ring, a new
// position, slots that may have changed). A read granted in the cycle
// before a restart is dropped.
`include "nm_defines.svh"

module dp_slot_stream #(
    // Port table entries (sizes the shared helpers only).
    parameter int NUM_PORTS  = 8,
    // Rings per direction per port (sizes the shared helpers only).
    parameter int RINGS      = 4,
    // BAR2 size in bytes.
    parameter int BAR2_BYTES = 262144,
    // Slots held (a power of two, at least 8: a line's four beside four).
    parameter int DEPTH      = 8
) (
    input  logic        clk,
    input  logic        rst,

    // Start over at slot restart_ci of the ring (restart_n slots, slot 0
    // at BAR2 byte restart_base + RING_HEADER_BYTES), reading up to
    // restart_lim.
    input  logic        restart,
    input  logic [31:0] restart_base,
    input  logic [15:0] restart_n,
    input  logic [15:0] restart_ci,
    input  logic [15:0] restart_lim,
    // A newer limit (the caller checked it is a slot of the ring at or
    // past the slots read).
    input  logic        lim_valid,
    input  logic [15:0] lim_head,

    // BAR2 line port: a read wanted, done when granted; its line is on
    // line_rdata the next cycle.
    output logic                               line_want,
    input  logic                               line_grant,
    output logic [$clog2(BAR2_BYTES / 64)-1:0] line_row,
    input  logic [511:0]                       line_rdata,

    // The front slot.
    output logic        f_valid,
    output logic [15:0] f_idx,
    output logic [63:0] f_word,
    input  logic        pop,
    // The limit in use.
    output logic [15:0] lim
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    /* verilator lint_on UNUSEDPARAM */

    localparam int ROW_W = $clog2(BAR2_BYTES / 64);
    localparam int DW = $clog2(DEPTH);

    logic [15:0]      n;
    // The read cursor: the next slot to read (rs), its line and its
    // 64-bit word in the line; slot 0's line and word (a wrap).
    logic [15:0]      rs;
    logic [ROW_W-1:0] rrow, row0;
    logic [2:0]       rw, w0;
    // A read granted last cycle: its first word and its slots.
    logic             pend;
    logic [2:0]       pend_w;
    logic [2:0]       pend_c;
    // The queue.
    logic [63:0]      q [DEPTH];
    logic [DW-1:0]    wr, rd;
    logic [DW:0]      cnt;

    assign f_valid = cnt != '0;
    assign f_word  = q[rd];

    // Slots the next read gives: to the line's end, the ring's end and
    // the limit, whichever is first.
    logic [15:0] to_end, to_lim;
    logic [2:0]  c, in_line;
    always_comb begin
        in_line = 3'((4'd9 - {1'b0, rw}) >> 1);
        to_end  = n - rs;
        to_lim  = ring_dist(lim, rs, n);
        c = in_line;
        if (to_end < 16'(c)) c = 3'(to_end);
        if (to_lim < 16'(c)) c = 3'(to_lim);
    end
    // A read when the queue has room for a whole line.
    assign line_want = !restart && !pend && rs != lim && 32'(cnt) + 4 <= DEPTH;
    assign line_row  = rrow;
    logic fire;
    assign fire = line_want && line_grant;

    // Line and word of a byte offset.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0] at_ci, at_0;
    /* verilator lint_on UNUSEDSIGNAL */
    assign at_ci = restart_base + 32'(slot_off(restart_ci));
    assign at_0  = restart_base + 32'(RING_HEADER_BYTES);

    logic [3:0] rw_next;
    assign rw_next = {1'b0, rw} + {c, 1'b0};

    always_ff @(posedge clk) begin
        if (rst) begin
            pend <= 1'b0;
            cnt  <= '0;
            wr   <= '0;
            rd   <= '0;
            rs   <= '0;
            lim  <= '0;
        end else if (restart) begin
            n     <= restart_n;
            lim   <= restart_lim;
            rs    <= restart_ci;
            f_idx <= restart_ci;
            rrow  <= at_ci[ROW_W+5:6];
            rw    <= at_ci[5:3];
            row0  <= at_0[ROW_W+5:6];
            w0    <= at_0[5:3];
            pend  <= 1'b0;
            cnt   <= '0;
            wr    <= '0;
            rd    <= '0;
        end else begin
            if (lim_valid) lim <= lim_head;
            pend <= fire;
            if (fire) begin
                pend_w <= rw;
                pend_c <= c;
                if (to_end == 16'(c)) begin
                    // The ring's last slot: slot 0 is next.
                    rs   <= '0;
                    rrow <= row0;
                    rw   <= w0;
                end else begin
                    rs <= rs + 16'(c);
                    if (rw_next >= 4'd8) begin
                        rrow <= rrow + ROW_W'(1);
                        rw   <= 3'(rw_next - 4'd8);
                    end else begin
                        rw <= rw_next[2:0];
                    end
                end
            end
            // The line read last cycle: its slots join the queue.
            if (pend) begin
                for (int i = 0; i < 4; i++) begin
                    if (3'(i) < pend_c) q[wr + DW'(i)] <= line_rdata[64 * ((32'(pend_w) + 2 * i) % 8) +: 64];
                end
                wr <= wr + DW'(pend_c);
            end
            if (pop) begin
                rd    <= rd + DW'(1);
                f_idx <= nxt(f_idx, n);
            end
            cnt <= cnt + (pend ? (DW + 1)'(pend_c) : '0) - (pop ? (DW + 1)'(1) : '0);
        end
    end
endmodule
