// A small queue in front of a shared one-event-per-cycle port.
//
// dp_deliver copies a frame while dp_vale_fwd already decides the next,
// so both may count in the same cycle on a port_counters port. The other
// stages keep the port (`blocked`); this stage's events wait here, in
// order, and leave in the next free cycles (an event with none waiting
// leaves at once). An event is a key (port, counter) above an amount
// (the low AMT bits): one whose key is the newest queued event's adds
// its amount to that entry instead of taking one, so a run of frames
// into one ring while the port is busy costs one event, not one per
// frame (two stages counting each frame on the same two ports could
// otherwise move at most a frame every two cycles). dp_deliver counts at
// most once per queue per destination (a drop, or the frame: on ports A
// and B, one queue each) and starts a destination only with `room` (two
// entries free: its own event and the previous destination's, which may
// be entering now), so the queue never overflows however long the
// others keep the port.
module dp_ev_queue #(
    // Bits of one event (key and amount).
    parameter int W     = 44,
    // Bits of its amount (the low ones).
    parameter int AMT   = 32,
    // Entries.
    parameter int DEPTH = 4
) (
    input  logic         clk,
    input  logic         rst,

    input  logic         in_valid,
    input  logic [W-1:0] in_data,
    input  logic         blocked,    // another stage has the port this cycle
    output logic         out_valid,  // an event of this queue has it
    output logic [W-1:0] out_data,
    output logic         room        // at least two entries free
);
    localparam int CW = $clog2(DEPTH + 1);
    localparam int IW = $clog2(DEPTH);

    logic [W-1:0]  q [DEPTH];
    logic [CW-1:0] n;

    assign out_valid = !blocked && (n != '0 || in_valid);
    assign out_data  = (n != '0) ? q[0] : in_data;
    assign room      = 32'(n) + 32'd2 <= 32'(DEPTH);

    // The newest queued event's key and amount, kept beside the queue
    // (it is the last one pushed: a merge keeps its key, pops take the
    // oldest), so no index of n is on the merge's path.
    logic [W-AMT-1:0] t_key;
    logic [AMT-1:0]   t_amt, t_sum;
    assign t_sum = t_amt + in_data[AMT-1:0];

    logic          pop, push, merge;
    logic [CW-1:0] at;  // where a pushed event goes (after the pop)
    assign pop   = out_valid && n != '0;
    assign merge = in_valid && n != '0 && !(pop && n == CW'(1))
                && in_data[W-1:AMT] == t_key;
    assign push  = in_valid && !(out_valid && n == '0) && !merge;
    assign at    = n - (pop ? CW'(1) : CW'(0));

    always_ff @(posedge clk) begin
        if (rst) begin
            n <= '0;
        end else begin
            if (pop) begin
                for (int i = 0; i + 1 < DEPTH; i++) q[i] <= q[i + 1];
            end
            if (merge) begin
                q[IW'(at - CW'(1))] <= {t_key, t_sum};
                t_amt <= t_sum;
            end
            if (push && 32'(at) < 32'(DEPTH)) begin
                q[IW'(at)] <= in_data;
                t_key <= in_data[W-1:AMT];
                t_amt <= in_data[AMT-1:0];
            end
            n <= at + ((push && 32'(at) < 32'(DEPTH)) ? CW'(1) : CW'(0));
        end
    end
endmodule
