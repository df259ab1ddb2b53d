// Pipe crossover of one BAR2 line: which of its four TX slots move, and
// every word they become (combinational; dp_pipe's run mover).
//
// From lane `first` on, the slots that are one-slot packets (no
// NS_MOREFRAG) with a valid buffer index and length move, at most `limit`
// of them and none after the first that is not (a chain or a bad slot
// ends the run: the frame path takes it). Each moved TX slot gets the
// receiver's buffer (`pf_bufs`, lane j for the j-th moved slot), len 0,
// NS_BUF_CHANGED and ptr 0; its descriptor goes into the j-th RX slot
// with NS_BUF_CHANGED and ptr 0 (the rules of vale-soft/src/pipe.rs).
`include "nm_defines.svh"

module dp_pipe_line #(
    // (Sizes the shared helpers only.)
    parameter int NUM_PORTS = 8,
    parameter int RINGS     = 4
) (
    input  logic [511:0]   line,      // four TX slots, slot l at 128 * l
    input  logic [1:0]     first,     // the run's slot in this line
    input  logic [2:0]     limit,     // at most this many move (0..4)
    input  logic [31:0]    pool_bufs, // the source port's buffers
    input  logic [31:0]    pool_buf_size,
    input  logic [4*32-1:0] pf_bufs,  // the receiver's buffers, in order

    output logic [2:0]     moved,     // slots moved: first .. first + moved - 1
    output logic [31:0]    bytes,     // their lengths' sum
    output logic [3:0]     mask,      // the TX slots rewritten ...
    output logic [511:0]   tx_line,   // ... with these words (at their lanes)
    output logic [511:0]   rx_slots,  // the moved slots' RX slots, from lane 0
    output logic [511:0]   tx_slots   // their new TX slots, from lane 0
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    /* verilator lint_on UNUSEDPARAM */

    // Lane l's slot word and whether it may move.
    logic [63:0] w [4];
    logic [3:0]  plain;
    for (genvar l = 0; l < 4; l++) begin : g_lane
        assign w[l]     = line[128 * l +: 64];
        assign plain[l] = (slot_flags(w[l]) & NS_MOREFRAG) == 16'd0
                       && buf_ok(slot_buf(w[l]), pool_bufs)
                       && 32'(slot_len(w[l])) <= pool_buf_size;
    end
    /* verilator lint_off UNUSEDSIGNAL */
    logic [511:0] ptr_unused;  // ptr words: always written 0
    assign ptr_unused = line;
    /* verilator lint_on UNUSEDSIGNAL */

    always_comb begin
        logic run;
        logic [1:0] l;
        run   = 1'b1;
        moved = '0;
        bytes = '0;
        mask  = '0;
        tx_line  = '0;
        rx_slots = '0;
        tx_slots = '0;
        for (int j = 0; j < 4; j++) begin
            l = first + 2'(j);
            run = run && 32'(first) + j < 4 && 3'(j) < limit && plain[l];
            if (run) begin
                moved = 3'(j + 1);
                bytes = bytes + 32'(slot_len(w[l]));
                mask[l] = 1'b1;
            end
            tx_line[128 * l +: 64] = slot_word(pf_bufs[32 * j +: 32], 16'd0, NS_BUF_CHANGED);
            tx_slots[128 * j +: 64] = slot_word(pf_bufs[32 * j +: 32], 16'd0, NS_BUF_CHANGED);
            rx_slots[128 * j +: 64] = slot_word(slot_buf(w[l]), slot_len(w[l]), NS_BUF_CHANGED);
        end
    end
endmodule
