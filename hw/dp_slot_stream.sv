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

    // The front: the queue's, or when it is empty the first slot of the
    // line read last cycle (on its way into the queue).
    logic [63:0] line_first;
    assign line_first = line_rdata[64 * pend_w +: 64];
    assign f_valid = cnt != '0 || pend;
    assign f_word  = cnt != '0 ? q[rd] : line_first;

    // Slots the next read gives (c): to the line's end, the ring's end
    // and the limit, whichever is first. The distances to the ring's end
    // (te) and to the limit (tl) are registers, stepped down at each read
    // and reloaded at a wrap, a restart or a new limit; c, the wrap and
    // the next word are computed from them into registers in every cycle
    // (c_*), so a read only selects registered values. They are current
    // (c_ok) from the second cycle after te, tl or the cursor changed: a
    // read is never in the cycle after another (pend) anyway; a restart
    // or a new limit waits a cycle more, which the front gives back (the
    // first slot of a line is the front in the cycle its line arrives).
    logic [15:0] te, tl;
    // A new limit arrived with a read: tl is recomputed the next cycle.
    logic        tl_dirty;
    logic        c_ok, c_zero, c_wrap, c_row;
    logic [2:0]  c_n, c_w;
    // Slots left in the line from word w (a slot is two words).
    function automatic logic [2:0] in_line(input logic [2:0] w);
        in_line = 3'((4'd9 - {1'b0, w}) >> 1);
    endfunction
    // min(x, 4) of a distance.
    function automatic logic [2:0] sat4(input logic [15:0] x);
        sat4 = x[15:2] != 14'd0 ? 3'd4 : {1'b0, x[1:0]};
    endfunction
    always_ff @(posedge clk) begin
        logic [2:0] c, cte, ctl;
        logic [3:0] wn;
        c   = in_line(rw);
        cte = sat4(te);
        ctl = sat4(tl);
        if (cte < c) c = cte;
        if (ctl < c) c = ctl;
        wn = {1'b0, rw} + {c, 1'b0};
        c_n    <= c;
        c_zero <= tl == 16'd0;
        c_wrap <= te == 16'(c);
        c_row  <= wn[3];
        c_w    <= wn[2:0];
    end
    // A read when the queue has room for a whole line (room: registered
    // from the count's next value).
    // (A read in a restart's cycle is not wanted; inside, the restart
    // wins over it anyway, so the read's own logic does not wait for it.)
    logic room, want;
    assign want      = !pend && c_ok && !c_zero && room;
    assign line_want = !restart && want;
    assign line_row  = rrow;
    logic fire;
    assign fire = want && line_grant;

    // Line and word of a byte offset.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0] at_ci, at_0;
    /* verilator lint_on UNUSEDSIGNAL */
    assign at_ci = restart_base + 32'(slot_off(restart_ci));
    assign at_0  = restart_base + 32'(RING_HEADER_BYTES);

    // The front's next slot: i + 1 wraps at n (i + 1 >= n: a carry
    // chain's compare, i < n).
    logic [15:0] f_inc;
    assign f_inc = f_idx + 16'd1;
    // A new limit's distance from the cursor.
    logic [15:0] tl_new;
    // ((x - rs) mod n, with n - rs = te: one carry chain either way)
    logic [15:0] tl_to;
    assign tl_to  = lim_valid ? lim_head : lim;
    assign tl_new = tl_to >= rs ? tl_to - rs : tl_to + te;
    logic [DW:0] cnt_next;
    assign cnt_next = restart ? '0
                    : cnt + (pend ? (DW + 1)'(pend_c) : '0) - (pop ? (DW + 1)'(1) : '0);

    // The queue takes the line read last cycle (its slots), whatever
    // happens to the cursor (a restart empties the queue by its count).
    always_ff @(posedge clk) begin
        if (pend) begin
            for (int i = 0; i < 4; i++) begin
                if (3'(i) < pend_c) q[wr + DW'(i)] <= line_rdata[64 * ((32'(pend_w) + 2 * i) % 8) +: 64];
            end
        end
    end

    always_ff @(posedge clk) begin
        if (rst) room <= 1'b1;
        else room <= 32'(cnt_next) + 4 <= DEPTH;
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            pend <= 1'b0;
            cnt  <= '0;
            wr   <= '0;
            rd   <= '0;
            rs   <= '0;
            lim  <= '0;
            c_ok <= 1'b0;
            tl_dirty <= 1'b0;
        end else if (restart) begin
            n     <= restart_n;
            lim   <= restart_lim;
            rs    <= restart_ci;
            f_idx <= restart_ci;
            rrow  <= at_ci[ROW_W+5:6];
            rw    <= at_ci[5:3];
            row0  <= at_0[ROW_W+5:6];
            w0    <= at_0[5:3];
            te    <= restart_n - restart_ci;
            tl    <= ring_dist(restart_lim, restart_ci, restart_n);
            c_ok  <= 1'b0;
            tl_dirty <= 1'b0;
            pend  <= 1'b0;
            cnt   <= '0;
            wr    <= '0;
            rd    <= '0;
        end else begin
            c_ok <= !fire && !lim_valid && !tl_dirty;
            if (lim_valid) lim <= lim_head;
            // A new limit: its distance from the cursor (the next cycle if
            // a read moves the cursor now; no read then).
            tl_dirty <= lim_valid && fire;
            // (the read last: the deepest select)
            if (fire) tl <= tl - 16'(c_n);
            else if (tl_dirty || lim_valid) tl <= tl_new;
            pend <= fire;
            if (fire) begin
                pend_w <= rw;
                pend_c <= c_n;
                if (c_wrap) begin
                    // The ring's last slot: slot 0 is next.
                    rs   <= '0;
                    te   <= n;
                    rrow <= row0;
                    rw   <= w0;
                end else begin
                    rs <= rs + 16'(c_n);
                    te <= te - 16'(c_n);
                    if (c_row) rrow <= rrow + ROW_W'(1);
                    rw <= c_w;
                end
            end
            // The line read last cycle: its slots joined the queue.
            if (pend) wr <= wr + DW'(pend_c);
            if (pop) begin
                rd    <= rd + DW'(1);
                f_idx <= f_inc >= n ? 16'd0 : f_inc;
            end
            cnt <= cnt_next;
        end
    end
endmodule
