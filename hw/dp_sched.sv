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

    // Per TX ring: hwcur, the last doorbell's head, and for a pipe the
    // span it last published (tx_fresh: none yet, span n - 1) kept as
    // its last valid head tx_lim = (hwcur + span) mod n, so the head
    // check is three compares.
    // (Packed: every entry is reset and cleared in loops, which as
    // unpacked arrays Yosys sees as a memory with a write port per entry
    // and per loop, and its proc pass takes time quadratic in them: with
    // 64 ports (256 entries) it did not finish in 20 minutes.)
    logic [NQ-1:0][15:0] tx_hwcur;
    logic [NQ-1:0][15:0] tx_span;   // pipes: hwtail - hwcur (mod n)
    logic [NQ-1:0][15:0] tx_lim;    // (hwcur + span) mod n
    logic [NQ-1:0]       tx_fresh;  // no service yet: span is n - 1
    logic [NQ-1:0][15:0] tx_head;   // last doorbell value
    logic [NQ-1:0]       tx_pend;
    logic [NQ-1:0][15:0] rx_head;
    logic [NQ-1:0]       rx_pend;

    // Timing: the job is registered, two steps after the pending bits (a
    // doorbell is a candidate in its own cycle: an RX doorbell is offered
    // in the next cycle, as a TX doorbell was before the registers; a TX
    // doorbell in the one after):
    //   pick  the first pending TX ring at or after the round-robin
    //         pointer (tp_*), and the first pending RX ring (rj_*);
    //   check the picked ring's head, hwcur and limit read and its head
    //         checked (j_*).
    // Both registers are reloaded every cycle from the state, so they
    // follow it; what they may still show of a ring just taken is masked.
    // A TX ring whose job runs (`act_oh`, until done_valid or the engine
    // is idle again) is not checked: its hwcur is about to change.

    // The lowest set bit of v: {found, index}. A two-level tree: the
    // first set bit in each group of eight (and whether there is one),
    // then the first group with one. The groups' results are kept nets
    // (* keep *): synthesis maps each level on its own instead of
    // merging them into a chain of LUTs.
    localparam int PG  = 8;
    localparam int PNG = (NQ + PG - 1) / PG;
    localparam int PGW = PNG > 1 ? $clog2(PNG) : 1;
    function automatic logic [PNG*4-1:0] groups_of(input logic [NQ-1:0] v);
        logic [PNG*PG-1:0] vp;
        vp = (PNG * PG)'(v);
        for (int gi = 0; gi < PNG; gi++) begin
            groups_of[gi * 4 + 3] = |vp[gi * PG +: PG];
            groups_of[gi * 4 +: 3] = 3'd0;
            for (int i = PG - 1; i >= 0; i--)
                if (vp[gi * PG + i]) groups_of[gi * 4 +: 3] = 3'(i);
        end
    endfunction
    function automatic logic [QW:0] first_in(input logic [PNG*4-1:0] gr);
        logic [PGW-1:0] g;
        logic           any;
        g = '0;
        any = 1'b0;
        for (int gi = PNG - 1; gi >= 0; gi--) begin
            if (gr[gi * 4 + 3]) g = PGW'(gi);
            any = any | gr[gi * 4 + 3];
        end
        first_in = {any, QW'(32'(g) * PG + 32'(gr[32'(g) * 4 +: 3]))};
    endfunction
    function automatic logic [QW:0] first_of(input logic [NQ-1:0] v);
        first_of = first_in(groups_of(v));
    endfunction

    logic          tp_valid, rj_valid, j_valid;
    logic [QW-1:0] tp_entry, rj_entry, j_entry;
    logic [15:0]   j_head, j_hwcur, j_n;
    logic          j_served, j_ok, j_stale;
    logic [NQ-1:0] act_oh;

    // What leaves this cycle: an RX job taken, or the TX job (taken, or
    // dropped when it cannot run).
    // The cycle after an RX job is taken, rj_* may still show it: no RX
    // job then (rj_hold), and no TX job either (RX doorbells go first).
    logic rx_take, tx_leaves, j_enabled, j_runs, rj_hold;
    assign j_enabled = port_enable[port_of(j_entry)];
    assign j_runs    = j_valid && !j_stale && j_served && j_ok && j_enabled;
    assign rx_take   = job_ready && rj_valid && !rj_hold;
    assign tx_leaves = job_ready && !rj_valid && j_valid && !j_stale;

    // The doorbell's entry (port and ring side by side when RINGS is a
    // power of two, as it is by default: no adder on the doorbell path).
    localparam int RW = RINGS > 1 ? $clog2(RINGS) : 1;
    logic          db_ok;
    logic [QW-1:0] db_q;
    assign db_ok = db_valid && 32'(db_port) < 32'(NUM_PORTS) && 32'(db_ring) < 32'(RINGS);
    assign db_q  = (RINGS & (RINGS - 1)) == 0
                 ? QW'((32'(db_port) << RW) | (32'(db_ring) & (RINGS - 1)))
                 : entry_of(32'(db_port), 32'(db_ring));

    // ---- pick ----------------------------------------------------------
    // Among the pending rings (a running one's bit is back in the cycle
    // its job ends), from the round-robin mask (`rr_from`: the entries at
    // or after the pointer) on; beside it, a doorbell or wake-up arriving
    // now (tb_*), which the check step takes when nothing else pends. What
    // was just taken may still be picked: the check step drops it.
    logic [NQ-1:0] tx_base, rr_from;
    logic          db_tx, db_rx_ok;
    always_comb begin
        for (int q = 0; q < NQ; q++)
            tx_base[q] = tx_pend[q] && !(act_oh[q] && !done_valid);
        db_tx    = db_ok && !db_rx;
        db_rx_ok = db_ok && db_rx;
    end
    logic          rj_next_valid;
    logic [QW-1:0] rj_next;
    // (the first pending at or after the pointer, else the first: one
    // lowest bit of either, then its index)
    logic [QW:0]    rx_first, tx_first, tx_first_rr;
    logic [QW-1:0]  tx_pick;
    (* keep *) logic [PNG*4-1:0] tx_groups, tx_groups_rr;
    assign rx_first    = first_of(rx_pend);
    assign tx_groups   = groups_of(tx_base);
    assign tx_groups_rr = groups_of(tx_base & rr_from);
    assign tx_first    = first_in(tx_groups);
    assign tx_first_rr = first_in(tx_groups_rr);
    assign tx_pick     = tx_first_rr[QW] ? tx_first_rr[QW-1:0] : tx_first[QW-1:0];
    assign rj_next_valid = rx_first[QW] || db_rx_ok;
    assign rj_next = rx_first[QW] ? rx_first[QW-1:0] : db_q;
    logic          tb_valid;
    logic [QW-1:0] tb_entry, t_sel;
    assign t_sel = tp_valid ? tp_entry : tb_entry;

    // ---- check ---------------------------------------------------------
    // The picked TX ring: served at all, and its head below n and within
    // [hwcur, lim] (mod n).
    logic [15:0] c_n, c_head, c_hwcur, c_lim;
    logic        c_served, c_ok;
    always_comb begin
        c_n      = cfg_tx_slots[port_of(t_sel)];
        c_head   = tx_head[t_sel];
        c_hwcur  = tx_hwcur[t_sel];
        c_lim    = tx_lim[t_sel];
        c_served = port_enable[port_of(t_sel)]
                && 16'(ring_of(t_sel)) < cfg_tx_rings[port_of(t_sel)];
        c_ok     = c_head < c_n
                && (tx_fresh[t_sel]
                    || (c_hwcur <= c_lim ? c_head >= c_hwcur && c_head <= c_lim
                                         : c_head >= c_hwcur || c_head <= c_lim));
    end

    // The limit a job's end leaves: (hwcur + span) mod n.
    // (the wrap's compare is the sign of the subtraction: one carry chain;
    // a VALE job's span is the one its ring had when the job was taken,
    // run_span: only a job's end changes it, and the job's end is the
    // running job's)
    logic [15:0] run_span;
    logic [15:0] d_span, d_n;
    logic [17:0] d_sum;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [17:0] d_over;  // (bit 16 is never set when 17 is clear)
    /* verilator lint_on UNUSEDSIGNAL */
    always_comb begin
        d_span = done_pipe ? done_span : run_span;
        d_n    = cfg_tx_slots[port_of(done_entry)];
        d_sum  = 18'(done_hwcur) + 18'(d_span);
        d_over = d_sum - 18'(d_n);
    end

    assign job_valid = rj_valid ? !rj_hold : j_runs;
    assign job_rx    = rj_valid;
    assign job_entry = rj_valid ? rj_entry : j_entry;
    assign job_head  = rj_valid ? rx_head[rj_entry] : j_head;
    assign job_hwcur = j_hwcur;
    assign job_n     = j_n;
    assign pending   = |tx_pend || |rx_pend;

    always_ff @(posedge clk) begin
        if (rst) begin
            tx_pend   <= '0;
            rx_pend   <= '0;
            rr_from   <= '1;
            tb_valid  <= 1'b0;
            bad_valid <= 1'b0;
            bad_port  <= '0;
            tp_valid  <= 1'b0;
            rj_valid  <= 1'b0;
            rj_hold   <= 1'b0;
            j_valid   <= 1'b0;
            act_oh    <= '0;
            for (int q = 0; q < NQ; q++) begin
                tx_hwcur[q] <= '0; tx_span[q] <= '0; tx_lim[q] <= '0; tx_fresh[q] <= 1'b1;
                tx_head[q] <= '0; rx_head[q] <= '0;
            end
        end else begin
            bad_valid <= 1'b0;

            // Pick, and check what was picked.
            tp_valid <= tx_first[QW];
            tp_entry <= tx_pick;
            tb_valid <= db_tx || wake_valid;
            tb_entry <= db_tx ? db_q : wake_entry;
            rj_valid <= rj_next_valid;
            rj_entry <= rj_next;
            rj_hold  <= rx_take;
            // (a pick of a ring that is running, or was taken or dropped
            // in the meantime, is dropped here)
            j_valid  <= (tp_valid || tb_valid) && tx_pend[t_sel] && !act_oh[t_sel]
                     && !(tx_leaves && j_entry == t_sel);
            j_entry  <= t_sel;
            j_head   <= c_head;
            j_hwcur  <= c_hwcur;
            j_n      <= c_n;
            j_served <= c_served;
            j_ok     <= c_ok;
            // A doorbell now changes the head read: offered next cycle.
            j_stale  <= db_tx && db_q == t_sel;

            if (rx_take) rx_pend[rj_entry] <= 1'b0;
            if (job_ready) act_oh <= '0;
            if (done_valid) act_oh <= '0;
            if (tx_leaves) begin
                tx_pend[j_entry] <= 1'b0;
                for (int q = 0; q < NQ; q++) rr_from[q] <= QW'(q) > j_entry;
                if (j_runs) act_oh <= NQ'(1) << j_entry;
                run_span <= tx_span[j_entry];
                if (j_served && !j_ok) begin
                    bad_valid <= 1'b1;
                    bad_port  <= 8'(port_of(j_entry));
                end
            end
            if (done_valid) begin
                tx_hwcur[done_entry] <= done_hwcur;
                tx_lim[done_entry]   <= d_over[17] ? 16'(d_sum) : 16'(d_over);
                if (done_pipe) begin
                    tx_span[done_entry]  <= done_span;
                    tx_fresh[done_entry] <= 1'b0;
                end
            end
            if (wake_valid) tx_pend[wake_entry] <= 1'b1;

            // Doorbells arriving now win over the clears above.
            if (db_ok) begin
                if (db_rx) begin
                    rx_pend[db_q] <= 1'b1;
                    rx_head[db_q] <= db_head;
                end else begin
                    tx_pend[db_q] <= 1'b1;
                    tx_head[db_q] <= db_head;
                end
            end

            // A disabled port's rings start over when it is enabled again.
            for (int q = 0; q < NQ; q++) begin
                if (!port_enable[port_of(QW'(q))]) begin
                    tx_hwcur[q] <= '0; tx_span[q] <= '0; tx_lim[q] <= '0; tx_fresh[q] <= 1'b1;
                    tx_head[q] <= '0; tx_pend[q] <= 1'b0; rx_pend[q] <= 1'b0;
                end
            end
        end
    end
endmodule
