// The device's state of every RX ring, and its slot prefetch.
//
// Per RX ring (entry p * RINGS + r): hwtail (device-owned: the next slot
// it fills), the cached hwcur (the host's head, slots released up to
// there), a dirty bit (the published hwtail is stale), and the buffer
// indexes of up to PF (256) released slots hwtail .. hwtail + cnt - 1,
// read ahead by DMA (one read covers up to 256 slots; dp_deliver keeps
// up to two reads of a ring in flight, so a ring takes up to 512 frames
// per round trip). The host
// may not change a released slot, so a copy stays good until the device
// fills the slot. The prefetch of each ring is a ring of PF positions:
// slot hwtail + t is at position (head + t) mod PF, so consuming moves a
// pointer, not data. Positions are spread over four banks (position mod
// 4) of distributed RAM, so the four slots of a fill beat go to four
// banks at once, and one position is read at a time (`d_pf_lane`).
// Beside each buffer index the prefetch keeps one bit: the slot's `ptr`
// was 0 when it was read (`d_pf_p0`), so dp_deliver may write the whole
// slot back (buf_idx, len, flags, ptr 0) as part of a gathered line
// (the DMA port has no byte enables); a slot with another ptr has its
// len/flags written alone.
//
// Two read ports: `d_*` for the destination ring of the frame being
// delivered or moved (with its prefetch), `q_*` for RX doorbells and the
// status publisher. Writes come from one stage at a time; each write
// port is a one-cycle strobe. A fill beat may be for another ring than
// d_entry (`fill_entry`: dp_deliver's background fill lands while it
// delivers elsewhere); a fill and slots used on the same ring in one
// cycle both count.
module dp_rx_rings #(
    // Port table entries.
    parameter int NUM_PORTS = 8,
    // Rings per direction per port served (at most 16).
    parameter int RINGS     = 4,
    // Entry index width (from NUM_PORTS * RINGS).
    parameter int QW        = $clog2(NUM_PORTS * RINGS > 1 ? NUM_PORTS * RINGS : 2),
    // Prefetched slots per ring (a power of two, at least 8).
    parameter int PF        = 256,
    // (the width of a position in the prefetch)
    localparam int PFW      = $clog2(PF)
) (
    input  logic        clk,
    input  logic        rst,

    // Port enables: a disabled port's rings start over.
    input  logic [NUM_PORTS-1:0] port_enable,

    // Destination ring: state and prefetch, read combinationally.
    input  logic [QW-1:0] d_entry,
    output logic [15:0]   d_hwtail,
    output logic [15:0]   d_hwcur,
    output logic [PFW:0]  d_pf_cnt,   // prefetched slots from hwtail
    input  logic [PFW-1:0] d_pf_lane, // slot hwtail + d_pf_lane ...
    output logic [31:0]   d_pf_buf,   // ... its buffer index
    output logic          d_pf_p0,    // ... and its ptr was 0

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

    // Prefetch fill of ring fill_entry: a DMA beat holding slots
    // hwtail + fill_k .. + fill_k + fill_n - 1 in its 128-bit lanes
    // 0 .. fill_n - 1 (fill_k < PF, fill_k + fill_n <= PF; a fill of
    // more than four slots takes one beat per four; hwtail and fill_k
    // before this cycle's ht_we).
    input  logic          fill_we,
    input  logic [QW-1:0] fill_entry,
    input  logic [PFW-1:0] fill_k,
    input  logic [2:0]    fill_n,
    input  logic [4*32-1:0] fill_bufs, // buffer index of lane l at 32 * l
    input  logic [3:0]    fill_p0,     // lane l's ptr is 0

    // Dirty rings exist.
    output logic          any_dirty
);
    localparam int NQ = NUM_PORTS * RINGS;

    logic [15:0]   hwtail  [NQ];
    logic [15:0]   hwcur   [NQ];
    logic [NQ-1:0] dirty;
    logic [PFW:0]   pf_cnt  [NQ];
    logic [PFW-1:0] pf_head [NQ];

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

    // Prefetch banks: position p of ring q is word q * PF / 4 + p / 4 of
    // bank p mod 4. A fill beat's lane l goes to position
    // head + fill_k + l, so its lanes land in four different banks.
    logic [PFW-1:0] fill_pos, rd_pos;
    assign fill_pos = pf_head[fill_entry] + fill_k;
    assign rd_pos   = pf_head[d_entry] + d_pf_lane;
    localparam int BW = $clog2(NQ * PF / 4);  // a bank's word index
    logic [32:0] pf_rd [4];  // {ptr == 0, buffer index}
    for (genvar b = 0; b < 4; b++) begin : g_pf
        logic [32:0] bank [NQ * PF / 4];
        logic [1:0]  lane;  // the fill beat's lane for this bank
        /* verilator lint_off UNUSEDSIGNAL */
        logic [PFW-1:0] pos;  // and its position (bits 1..0 are b)
        /* verilator lint_on UNUSEDSIGNAL */
        assign lane = 2'(b) - fill_pos[1:0];
        assign pos  = fill_pos + PFW'(lane);
        always_ff @(posedge clk) begin
            if (fill_we && 3'(lane) < fill_n) begin
                bank[BW'(32'(fill_entry) * (PF / 4) + 32'(pos[PFW-1:2]))]
                    <= {fill_p0[lane], fill_bufs[32 * lane +: 32]};
            end
        end
        assign pf_rd[b] = bank[BW'(32'(d_entry) * (PF / 4) + 32'(rd_pos[PFW-1:2]))];
    end
    assign d_pf_buf = pf_rd[rd_pos[1:0]][31:0];
    assign d_pf_p0  = pf_rd[rd_pos[1:0]][32];

    always_ff @(posedge clk) begin
        if (rst) begin
            dirty <= '0;
            for (int q = 0; q < NQ; q++) begin
                hwtail[q] <= '0; hwcur[q] <= '0; pf_cnt[q] <= '0; pf_head[q] <= '0;
            end
        end else begin
            if (hc_we) hwcur[hc_entry] <= hc_value;
            if (fill_we) pf_cnt[fill_entry] <= (PFW + 1)'(fill_k) + (PFW + 1)'(fill_n);
            if (ht_we) begin
                hwtail[d_entry]  <= ht_value;
                pf_head[d_entry] <= pf_head[d_entry] + ht_used[PFW-1:0];
                if (fill_we && fill_entry == d_entry) begin
                    // The fill counts from the old hwtail.
                    pf_cnt[d_entry] <= (ht_used >= 16'(fill_k) + 16'(fill_n))
                                     ? '0 : (PFW + 1)'(fill_k) + (PFW + 1)'(fill_n)
                                            - (PFW + 1)'(ht_used);
                end else begin
                    pf_cnt[d_entry] <= (ht_used >= 16'(pf_cnt[d_entry]))
                                     ? '0 : pf_cnt[d_entry] - (PFW + 1)'(ht_used);
                end
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
