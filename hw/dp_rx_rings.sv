// The device's state of every RX ring, and its slot prefetch.
//
// Per RX ring (entry p * RINGS + r): hwtail (device-owned: the next slot
// it fills), the cached hwcur (the host's head, slots released up to
// there), a dirty bit (the published hwtail is stale), and the buffer
// indexes of up to sixteen released slots hwtail .. hwtail + cnt - 1, read
// ahead by DMA. The host may not change a released slot, so a copy stays
// good until the device fills the slot. The prefetch of each ring is a
// ring of sixteen banks: slot hwtail + t is in bank (head + t) mod 16, so
// consuming moves a pointer, not data, and a fill writes each bank at
// most once.
//
// Two read ports: `d_*` for the destination ring of the frame being
// delivered or moved (with its prefetch), `q_*` for RX doorbells and the
// status publisher. Writes come from one stage at a time (the data path
// is sequential); each write port is a one-cycle strobe.
module dp_rx_rings #(
    // Port table entries.
    parameter int NUM_PORTS = 8,
    // Rings per direction per port served (at most 16).
    parameter int RINGS     = 4,
    // Entry index width (from NUM_PORTS * RINGS).
    parameter int QW        = $clog2(NUM_PORTS * RINGS > 1 ? NUM_PORTS * RINGS : 2)
) (
    input  logic        clk,
    input  logic        rst,

    // Port enables: a disabled port's rings start over.
    input  logic [NUM_PORTS-1:0] port_enable,

    // Destination ring: state and prefetch, read combinationally.
    input  logic [QW-1:0] d_entry,
    output logic [15:0]   d_hwtail,
    output logic [15:0]   d_hwcur,
    output logic [4:0]    d_pf_cnt,   // prefetched slots from hwtail
    output logic [16*32-1:0] d_pf_bufs, // buffer of slot hwtail + t at lane t

    // Query ring: state, read combinationally.
    input  logic [QW-1:0] q_entry,
    output logic [15:0]   q_hwtail,
    output logic [15:0]   q_hwcur,

    // Cached hwcur of ring hc_entry := hc_value.
    input  logic          hc_we,
    input  logic [QW-1:0] hc_entry,
    input  logic [15:0]   hc_value,

    // The destination ring's hwtail := ht_value, and its prefetch drops
    // the ht_used slots just filled; with ht_dirty, mark it dirty.
    input  logic          ht_we,
    input  logic [15:0]   ht_value,
    input  logic [15:0]   ht_used,
    input  logic          ht_dirty,

    // Mark the destination ring dirty.
    input  logic          dirty_set,

    // Dirty rings: the lowest, and clearing one.
    output logic          dirty_found,
    output logic [QW-1:0] dirty_pick,
    input  logic          dirty_clr,
    input  logic [QW-1:0] dirty_clr_entry,

    // Prefetch fill of the destination ring: a DMA beat holding slots
    // hwtail + fill_k .. + fill_k + fill_n - 1 in its 128-bit lanes
    // 0 .. fill_n - 1 (fill_k < 16, fill_k + fill_n <= 16; a fill of
    // more than four slots takes one beat per four).
    input  logic          fill_we,
    input  logic [3:0]    fill_k,
    input  logic [2:0]    fill_n,
    input  logic [4*32-1:0] fill_bufs, // buffer index of lane l at 32 * l

    // Dirty rings exist.
    output logic          any_dirty
);
    localparam int NQ = NUM_PORTS * RINGS;
    localparam int PF = 16;

    logic [15:0]   hwtail  [NQ];
    logic [15:0]   hwcur   [NQ];
    logic [NQ-1:0] dirty;
    logic [4:0]    pf_cnt  [NQ];
    logic [3:0]    pf_head [NQ];

    function automatic logic [NUM_PORTS > 1 ? $clog2(NUM_PORTS) - 1 : 0:0] port_of(
        input int q);
        port_of = (NUM_PORTS > 1 ? $clog2(NUM_PORTS) : 1)'(q / RINGS);
    endfunction

    assign d_hwtail = hwtail[d_entry];
    assign d_hwcur  = hwcur[d_entry];
    assign d_pf_cnt = pf_cnt[d_entry];
    assign q_hwtail = hwtail[q_entry];
    assign q_hwcur  = hwcur[q_entry];
    assign any_dirty = |dirty;

    always_comb begin
        dirty_found = 1'b0;
        dirty_pick  = '0;
        for (int n = 0; n < NQ; n++) begin
            if (!dirty_found && dirty[n]) begin
                dirty_found = 1'b1;
                dirty_pick  = QW'(n);
            end
        end
    end

    // Prefetch banks (distributed RAM, one per lane position).
    logic [31:0] pf_rd [PF];
    logic [3:0]  lane  [PF];  // which lane of the fill beat bank b takes
    for (genvar b = 0; b < PF; b++) begin : g_pf
        logic [31:0] bank [NQ];
        assign lane[b] = 4'(b) - pf_head[d_entry] - fill_k;
        always_ff @(posedge clk) begin
            if (fill_we && lane[b] < 4'(fill_n)) bank[d_entry] <= fill_bufs[32 * lane[b][1:0] +: 32];
        end
        assign pf_rd[b] = bank[d_entry];
    end
    always_comb begin
        for (int t = 0; t < PF; t++) begin
            d_pf_bufs[32 * t +: 32] = pf_rd[4'(pf_head[d_entry] + 4'(t))];
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            dirty <= '0;
            for (int q = 0; q < NQ; q++) begin
                hwtail[q] <= '0; hwcur[q] <= '0; pf_cnt[q] <= '0; pf_head[q] <= '0;
            end
        end else begin
            if (hc_we) hwcur[hc_entry] <= hc_value;
            if (fill_we) pf_cnt[d_entry] <= 5'(fill_k) + 5'(fill_n);
            if (ht_we) begin
                hwtail[d_entry]  <= ht_value;
                pf_head[d_entry] <= pf_head[d_entry] + ht_used[3:0];
                pf_cnt[d_entry]  <= (ht_used >= 16'(pf_cnt[d_entry]))
                                  ? 5'd0 : pf_cnt[d_entry] - 5'(ht_used);
                if (ht_dirty) dirty[d_entry] <= 1'b1;
            end
            if (dirty_set) dirty[d_entry] <= 1'b1;
            if (dirty_clr) dirty[dirty_clr_entry] <= 1'b0;
            for (int q = 0; q < NQ; q++) begin
                if (!port_enable[port_of(q)]) begin
                    hwtail[q] <= '0; hwcur[q] <= '0; dirty[q] <= 1'b0; pf_cnt[q] <= '0;
                end
            end
        end
    end
endmodule
