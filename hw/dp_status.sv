// Status publisher: writes the device's progress into the rings' status
// entries in host memory and raises notifications.
//
// On a request (the end of a TX job: the TX ring and the hwcur and
// hwtail to publish), first every dirty RX ring (dp_rx_rings, lowest
// entry first): its status entry gets hwcur and hwtail (one 8-byte DMA
// write), then its head and need_kick are read back (one 8-byte read,
// ordered after the write): a head within [hwcur, hwtail] refreshes the
// cached hwcur, a nonzero need_kick pulses notify[port]. Then the TX
// ring's entry the same way (its head is not used: the doorbell brings
// it). The read-backs do not wait for each other: each leaves right
// after its entry's write (a read never passes an earlier write) with
// its own tag, up to OUT of them in flight, and their answers are taken
// in any order (the entry, port and published hwcur/hwtail kept per
// tag), so a publication costs one round trip, not one per ring.
// `issued` is high once every write and read-back has left: the engine
// then goes on with the next job while the answers come back (they are
// told from the stages' by their tags, `rsp_own`), and `done` pulses
// when the last answer is in and no new request came.
//
// Publications overlap: a new request is taken (`req_ready`) as soon as
// the last one has issued, while its answers are still in flight; the
// records of both are matched by full tag. An answer refreshes the
// cached hwcur only if nothing wrote that ring's cached hwcur since its
// read left (`o_stale`, a "written since" bit per record, set by any
// write strobe into dp_rx_rings for the ring: the RX doorbell's head,
// dp_deliver's or dp_pipe's re-read, this stage's own answers; by a
// newer read-back of the same ring leaving, which supersedes it; and by
// the port's disable). Its head was checked against the hwcur and
// hwtail the ring had when the read left: with no write since, the ring's
// hwcur is still that one and its hwtail has only moved towards it, so
// the head is within the ring's [hwcur, hwtail] now too and the cached
// hwcur only moves forward. A stale answer still notifies (need_kick is
// about its own publication).
`include "nm_defines.svh"

module dp_status #(
    // Port table entries.
    parameter int NUM_PORTS = 8,
    // Rings per direction per port served.
    parameter int RINGS     = 4
) (
    input  logic        clk,
    input  logic        rst,

    // Port table (bar0_regs): enables and entries.
    input  logic [NUM_PORTS-1:0] port_enable,
    input  logic [NUM_PORTS*`NM_PORT_ENTRY_REGS*32-1:0] port_cfg,

    // Request: publish TX ring (tx_port, tx_ring) at hwcur / hwtail.
    input  logic        req_valid,
    input  logic [7:0]  tx_port,
    input  logic [3:0]  tx_ring,
    input  logic [15:0] tx_hwcur,
    input  logic [15:0] tx_hwtail,
    output logic        req_ready, // a request is taken (the last one has issued)
    output logic        done,
    output logic        issued,    // all writes and read-backs have left

    // RX rings (dp_rx_rings): the dirty ones, and the one published.
    input  logic        dirty_found,
    input  logic [$clog2(NUM_PORTS*RINGS > 1 ? NUM_PORTS*RINGS : 2)-1:0] dirty_pick,
    output logic        dirty_clr,
    output logic [$clog2(NUM_PORTS*RINGS > 1 ? NUM_PORTS*RINGS : 2)-1:0] q_entry,
    input  logic [15:0] q_hwtail,
    input  logic [15:0] q_hwcur,
    output logic        hc_we,     // cached hwcur of hc_entry := hc_value
    output logic [$clog2(NUM_PORTS*RINGS > 1 ? NUM_PORTS*RINGS : 2)-1:0] hc_entry,
    output logic [15:0] hc_value,
    // Every write of a cached hwcur this cycle (this stage's or another's,
    // as dp_rx_rings takes it).
    input  logic        hc_seen,
    input  logic [$clog2(NUM_PORTS*RINGS > 1 ? NUM_PORTS*RINGS : 2)-1:0] hc_seen_entry,

    // DMA read channel (this stage's request register; the responses).
    input  logic         dma_rd_can,
    output logic         dma_rd_req_valid,
    input  logic         dma_rd_req_ready,
    output logic [63:0]  dma_rd_req_addr,
    output logic [12:0]  dma_rd_req_len,
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic [7:0]   dma_rd_req_tag,   // the tag a request leaves with (low bits used)
    input  logic         dma_rd_rsp_valid,
    output logic         dma_rd_rsp_ready,
    input  logic [511:0] dma_rd_rsp_data,
    input  logic [7:0]   dma_rd_rsp_tag,
    /* verilator lint_on UNUSEDSIGNAL */
    output logic         rsp_own,  // this response beat is a read-back's

    // DMA write channel (this stage's request register).
    input  logic         dma_wr_free,
    output logic         dma_wr_req_valid,
    input  logic         dma_wr_req_ready,
    output logic [63:0]  dma_wr_req_addr,
    output logic [6:0]   dma_wr_req_len,
    output logic [511:0] dma_wr_req_data,

    // Notification lines (one-cycle pulses).
    output logic [NUM_PORTS-1:0] notify,

    output logic        busy
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    `include "dp_port_cfg.svh"
    /* verilator lint_on UNUSEDPARAM */

    typedef enum logic [2:0] {
        S_IDLE, S_NEXT, S_WR, S_RD, S_WAIT
    } state_t;
    state_t st;

    // Read-backs in flight, one record each (o_live): its tag (the
    // answer is matched on it, since the next job's stages read while
    // the answers come back), RX or TX, the ring's entry and port, the
    // hwcur and hwtail the ring had when the read left, and whether its
    // cached hwcur was written since (o_stale: the answer must not
    // refresh it).
    localparam int OUT = 8;
    localparam int OW = $clog2(OUT);
    logic [OUT-1:0] o_live, o_rx, o_stale;
    logic [7:0]     o_tag   [OUT];
    logic [QW-1:0]  o_entry [OUT];
    logic [PW-1:0]  o_port  [OUT];
    logic [15:0]    o_cur   [OUT];
    logic [15:0]    o_tail  [OUT];
    logic           rd_out;      // this stage's request not yet accepted
    logic [OW-1:0]  wi;          // the record of the read-back leaving
    logic [OW-1:0]  ri;          // the record of the answer
    logic           hit, free_found;
    logic [OW-1:0]  free_slot;
    always_comb begin
        hit = 1'b0;
        ri  = '0;
        free_found = 1'b0;
        free_slot  = '0;
        for (int i = 0; i < OUT; i++) begin
            if (o_live[i] && o_tag[i] == dma_rd_rsp_tag) begin
                hit = 1'b1;
                ri  = OW'(i);
            end
            if (!free_found && !o_live[i]) begin
                free_found = 1'b1;
                free_slot  = OW'(i);
            end
        end
    end

    logic          rx;        // publishing an RX ring (else the TX ring)
    logic [QW-1:0] entry;     // the RX ring's entry
    logic [PW-1:0] port;
    logic [3:0]    ring;
    logic [15:0]   txcur, txtail;
    logic [PW-1:0] txp;
    logic [3:0]    txr;

    assign busy    = st != S_IDLE;
    assign issued  = st == S_WAIT && !rd_out;
    assign req_ready = st == S_IDLE || issued;
    logic leave;  // a read-back leaves this cycle
    assign leave = rd_out && dma_rd_req_ready;
    logic rsp;
    assign rsp = dma_rd_rsp_valid && hit;
    assign rsp_own = rsp;
    // Only the status entry's head and need_kick are read back; port
    // numbers above NUM_PORTS - 1 do not occur.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [511:0] rsp_unused;
    logic [7:0]   port_unused;
    assign rsp_unused  = dma_rd_rsp_data;
    assign port_unused = tx_port;
    /* verilator lint_on UNUSEDSIGNAL */
    assign q_entry = entry;
    assign dma_rd_rsp_ready = hit;

    // The entry's fields: hwcur, hwtail (device-written), head and
    // need_kick (host-written, read back).
    logic [511:0] st_line;
    always_comb begin
        st_line = '0;
        st_line[8 * ST_HWCUR +: 16]  = rx ? q_hwcur : txcur;
        st_line[8 * ST_HWTAIL +: 16] = rx ? q_hwtail : txtail;
    end
    logic [15:0] beat_head, n_now;
    logic [31:0] beat_kick;
    logic        beat_head_ok;
    always_comb begin
        beat_head    = dma_rd_rsp_data[15:0];
        beat_kick    = dma_rd_rsp_data[8 * (ST_NEED_KICK - ST_HEAD) +: 32];
        n_now        = cfg_rx_slots[o_port[ri]];
        beat_head_ok = dma_rd_rsp_data[31:16] == 16'd0 && beat_head < n_now
                    && ring_dist(beat_head, o_cur[ri], n_now)
                       <= ring_dist(o_tail[ri], o_cur[ri], n_now);
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            st <= S_IDLE;
            entry <= '0;
            done <= 1'b0;
            dirty_clr <= 1'b0;
            hc_we <= 1'b0;
            notify <= '0;
            dma_rd_req_valid <= 1'b0;
            dma_wr_req_valid <= 1'b0;
            o_live <= '0;
            rd_out <= 1'b0;
        end else begin
            done <= 1'b0;
            dirty_clr <= 1'b0;
            hc_we <= 1'b0;
            notify <= '0;
            if (dma_rd_req_valid && dma_rd_req_ready) dma_rd_req_valid <= 1'b0;
            if (dma_wr_req_valid && dma_wr_req_ready) dma_wr_req_valid <= 1'b0;
            // A read-back leaves: its slot is the tag's; an answer comes
            // back: refresh the RX ring's cached hwcur, notify.
            if (leave) begin
                rd_out <= 1'b0;
                o_tag[wi]   <= dma_rd_req_tag;
                o_rx[wi]    <= rx;
                o_entry[wi] <= entry;
                o_port[wi]  <= port;
                o_cur[wi]   <= rx ? q_hwcur : txcur;
                o_tail[wi]  <= rx ? q_hwtail : txtail;
            end
            // (a record is taken when its read leaves, freed by its
            // answer: never both in one cycle)
            for (int i = 0; i < OUT; i++) begin
                if (leave && wi == OW'(i)) o_live[i] <= 1'b1;
                else if (rsp && ri == OW'(i)) o_live[i] <= 1'b0;
            end
            // Written since it left: a strobe seen in the cycle the read
            // leaves or later (q_hwcur, sampled as it leaves, does not
            // show it yet), a newer read-back of the ring, a disable.
            for (int i = 0; i < OUT; i++) begin
                if (leave && wi == OW'(i))
                    o_stale[i] <= (hc_seen && hc_seen_entry == entry) || !port_enable[port];
                else if ((hc_seen && hc_seen_entry == o_entry[i])
                         || (leave && rx && entry == o_entry[i])
                         || !port_enable[o_port[i]])
                    o_stale[i] <= 1'b1;
            end
            if (rsp) begin
                if (o_rx[ri] && !o_stale[ri] && beat_head_ok) begin
                    hc_we    <= 1'b1;
                    hc_entry <= o_entry[ri];
                    hc_value <= beat_head;
                end
                if (beat_kick != 32'd0) notify[o_port[ri]] <= 1'b1;
            end

            case (st)
            S_IDLE: begin
                if (req_valid) begin
                    txp    <= PW'(tx_port);
                    txr    <= tx_ring;
                    txcur  <= tx_hwcur;
                    txtail <= tx_hwtail;
                    st <= S_NEXT;
                end
            end

            S_NEXT: begin
                // (the previous read-back takes its ring's fields as it
                // leaves: wait for that)
                if (!rd_out) begin
                    if (dirty_found) begin
                        rx    <= 1'b1;
                        entry <= dirty_pick;
                        port  <= port_of(dirty_pick);
                        ring  <= ring_of(dirty_pick);
                        dirty_clr <= 1'b1;
                    end else begin
                        rx   <= 1'b0;
                        port <= txp;
                        ring <= txr;
                    end
                    st <= S_WR;
                end
            end

            S_WR: begin
                if (dma_wr_free) begin
                    dma_wr_req_valid <= 1'b1;
                    dma_wr_req_addr  <= cfg_status[port] + st_off(ring, rx, ST_HWCUR);
                    dma_wr_req_len   <= 7'(ST_HWTAIL + 32'd4 - ST_HWCUR);
                    dma_wr_req_data  <= st_line;
                    st <= S_RD;
                end
            end

            S_RD: begin
                // (the entry's state stays on q_* until the read leaves)
                if (dma_rd_can && !rd_out && free_found) begin
                    dma_rd_req_valid <= 1'b1;
                    dma_rd_req_addr  <= cfg_status[port] + st_off(ring, rx, ST_HEAD);
                    dma_rd_req_len   <= 13'(ST_NEED_KICK + 32'd4 - ST_HEAD);
                    rd_out <= 1'b1;
                    wi     <= free_slot;
                    st <= rx ? S_NEXT : S_WAIT;
                end
            end

            S_WAIT: begin
                // The next publication is taken while the answers come
                // back (req_ready); done once they are all in.
                if (!rd_out) begin
                    if (req_valid) begin
                        txp    <= PW'(tx_port);
                        txr    <= tx_ring;
                        txcur  <= tx_hwcur;
                        txtail <= tx_hwtail;
                        st <= S_NEXT;
                    end else if (o_live == '0) begin
                        done <= 1'b1;
                        st <= S_IDLE;
                    end
                end
            end

            default: st <= S_IDLE;
            endcase
        end
    end
endmodule
