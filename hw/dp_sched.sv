// Doorbell scheduler of the data path: which ring has work.
//
// Holds the doorbells (a pending bit and the last head per TX ring and
// per RX ring) and the device's state of every TX ring (hwcur, and for
// pipes the span hwtail - hwcur it last published). Offers one job at a
// time on `job_*` (valid/ready): an RX doorbell first (lowest entry),
// else the first pending TX ring at or after the round-robin pointer,
// with its head checked against the ring's invariants. A TX doorbell
// for a disabled port or a ring the port does not have is dropped here;
// one whose head is out of range is dropped and counted
// (CNT_BAD_RING_SYNCS on `bad_*`). The job's owner reports the new
// hwcur (and a pipe's span) on `done_*` when it has published it.
//
// Doorbells arriving in the cycle a pending bit is cleared win: the ring
// is served again. A disabled port's rings start over when it is enabled.
`include "nm_defines.svh"

module dp_sched #(
    // Port table entries.
    parameter int NUM_PORTS = 8,
    // Rings per direction per port served (at most 16).
    parameter int RINGS     = 4
) (
    input  logic        clk,
    input  logic        rst,

    // Port table (bar0_regs): enables and entries.
    input  logic [NUM_PORTS-1:0]                   port_enable,
    input  logic [NUM_PORTS*`NM_PORT_ENTRY_REGS*32-1:0] port_cfg,

    // Doorbells from bar0_regs (one-cycle pulses).
    input  logic        db_valid,
    input  logic        db_rx,
    input  logic [7:0]  db_port,
    input  logic [3:0]  db_ring,
    input  logic [15:0] db_head,

    // Wake-up: mark TX entry `wake_entry` pending (a pipe peer released
    // RX slots), as a doorbell with the ring's last head.
    input  logic                  wake_valid,
    input  logic [$clog2(NUM_PORTS*RINGS > 1 ? NUM_PORTS*RINGS : 2)-1:0] wake_entry,

    // The next job. job_rx: an RX doorbell (entry, head released);
    // else a TX ring to walk from job_hwcur to job_head (job_n slots).
    output logic        job_valid,
    input  logic        job_ready,
    output logic        job_rx,
    output logic [$clog2(NUM_PORTS*RINGS > 1 ? NUM_PORTS*RINGS : 2)-1:0] job_entry,
    output logic [15:0] job_head,
    output logic [15:0] job_hwcur,
    output logic [15:0] job_n,

    // A TX job's end: its new hwcur, and for a pipe the published span.
    input  logic        done_valid,
    input  logic [$clog2(NUM_PORTS*RINGS > 1 ? NUM_PORTS*RINGS : 2)-1:0] done_entry,
    input  logic [15:0] done_hwcur,
    input  logic        done_pipe,
    input  logic [15:0] done_span,

    // A refused TX doorbell (count CNT_BAD_RING_SYNCS of bad_port).
    output logic        bad_valid,
    output logic [7:0]  bad_port,

    // Doorbells not yet served.
    output logic        pending
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    `include "dp_port_cfg.svh"
    /* verilator lint_on UNUSEDPARAM */

    logic [15:0]   tx_hwcur [NQ];
    logic [15:0]   tx_span  [NQ];  // pipes: hwtail - hwcur (mod n)
    logic          tx_fresh [NQ];  // no service yet: span is n - 1
    logic [15:0]   tx_head  [NQ];  // last doorbell value
    logic [NQ-1:0] tx_pend;
    logic [15:0]   rx_head  [NQ];
    logic [NQ-1:0] rx_pend;
    logic [QW-1:0] rr_ptr;

    // Picks: first pending TX entry at or after the round-robin pointer;
    // first pending RX entry.
    logic [QW-1:0] pick, rxpick;
    logic          pick_found, rxpick_found;
    always_comb begin
        pick_found = 1'b0;
        pick = '0;
        rxpick_found = 1'b0;
        rxpick = '0;
        for (int n = 0; n < NQ; n++) begin
            int j;
            j = 32'(rr_ptr) + n;
            if (j >= NQ) j = j - NQ;
            if (!pick_found && tx_pend[j]) begin
                pick_found = 1'b1;
                pick = QW'(j);
            end
        end
        for (int n = 0; n < NQ; n++) begin
            if (!rxpick_found && rx_pend[n]) begin
                rxpick_found = 1'b1;
                rxpick = QW'(n);
            end
        end
    end

    // The picked TX ring: served at all, and its head within [hwcur,
    // hwcur + span] (mod n) and below n.
    logic [15:0] pick_n, span_now;
    logic        pick_served, head_ok;
    always_comb begin
        pick_n      = cfg_tx_slots[port_of(pick)];
        pick_served = port_enable[port_of(pick)]
                   && 16'(ring_of(pick)) < cfg_tx_rings[port_of(pick)];
        span_now    = tx_fresh[pick] ? pick_n - 16'd1 : tx_span[pick];
        head_ok     = tx_head[pick] < pick_n
                   && ring_dist(tx_head[pick], tx_hwcur[pick], pick_n) <= span_now;
    end

    assign job_valid = rxpick_found || (pick_found && pick_served && head_ok);
    assign job_rx    = rxpick_found;
    assign job_entry = rxpick_found ? rxpick : pick;
    assign job_head  = rxpick_found ? rx_head[rxpick] : tx_head[pick];
    assign job_hwcur = tx_hwcur[pick];
    assign job_n     = pick_n;
    assign pending   = |tx_pend || |rx_pend;

    // A TX pick leaves when taken, or by itself when it cannot run.
    logic tx_leaves;
    assign tx_leaves = job_ready && !rxpick_found && pick_found;

    always_ff @(posedge clk) begin
        if (rst) begin
            tx_pend   <= '0;
            rx_pend   <= '0;
            rr_ptr    <= '0;
            bad_valid <= 1'b0;
            bad_port  <= '0;
            for (int q = 0; q < NQ; q++) begin
                tx_hwcur[q] <= '0; tx_span[q] <= '0; tx_fresh[q] <= 1'b1;
                tx_head[q] <= '0; rx_head[q] <= '0;
            end
        end else begin
            bad_valid <= 1'b0;
            if (job_ready && rxpick_found) rx_pend[rxpick] <= 1'b0;
            if (tx_leaves) begin
                tx_pend[pick] <= 1'b0;
                rr_ptr <= (32'(pick) + 1 >= NQ) ? '0 : pick + QW'(1);
                if (pick_served && !head_ok) begin
                    bad_valid <= 1'b1;
                    bad_port  <= 8'(port_of(pick));
                end
            end
            if (done_valid) begin
                tx_hwcur[done_entry] <= done_hwcur;
                if (done_pipe) begin
                    tx_span[done_entry]  <= done_span;
                    tx_fresh[done_entry] <= 1'b0;
                end
            end
            if (wake_valid) tx_pend[wake_entry] <= 1'b1;

            // Doorbells arriving now win over the clears above.
            if (db_valid && 32'(db_port) < 32'(NUM_PORTS) && 32'(db_ring) < 32'(RINGS)) begin
                if (db_rx) begin
                    rx_pend[entry_of(32'(db_port), 32'(db_ring))] <= 1'b1;
                    rx_head[entry_of(32'(db_port), 32'(db_ring))] <= db_head;
                end else begin
                    tx_pend[entry_of(32'(db_port), 32'(db_ring))] <= 1'b1;
                    tx_head[entry_of(32'(db_port), 32'(db_ring))] <= db_head;
                end
            end

            // A disabled port's rings start over when it is enabled again.
            for (int q = 0; q < NQ; q++) begin
                if (!port_enable[port_of(QW'(q))]) begin
                    tx_hwcur[q] <= '0; tx_span[q] <= '0; tx_fresh[q] <= 1'b1;
                    tx_head[q] <= '0; tx_pend[q] <= 1'b0; rx_pend[q] <= 1'b0;
                end
            end
        end
    end
endmodule
