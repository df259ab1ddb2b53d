// TX slot fetch: reads the next frame of a TX ring from BAR2.
//
// On a request (the ring's BAR2 base, its size, hwcur and head, the
// source port's buffer limits) it reads slots from hwcur one per cycle
// (descriptor memory answers the next cycle) and gathers one frame: a
// MOREFRAG chain ended by a slot without NS_MOREFRAG. A slot is valid
// when its buffer index is in BUF_FIRST_VALID .. num_bufs - 1 and its
// length at most buf_size; the frame is valid when all its slots are.
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
    input  logic [31:0] req_num_bufs,
    input  logic [31:0] req_buf_size,

    // BAR2 descriptor memory, device read port (64-bit words, latency 1).
    output logic                               desc_rd_en,
    output logic [$clog2(BAR2_BYTES / 8)-1:0]  desc_rd_word,
    input  logic [63:0]                        desc_rd_data,

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
    output logic [15:0] rsp_first_flags
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    /* verilator lint_on UNUSEDPARAM */

    localparam int WORD_W = $clog2(BAR2_BYTES / 8);

    logic        scanning;
    logic [31:0] base, num_bufs, buf_size;
    logic [15:0] n, ci, head;
    logic        pipe;

    // BAR2 word of slot i of the ring.
    /* verilator lint_off UNUSEDSIGNAL */
    function automatic logic [WORD_W-1:0] slot_word_of(input logic [31:0] b,
                                                       input logic [15:0] i);
        logic [31:0] byte_addr;
        byte_addr = b + 32'(slot_off(i));
        slot_word_of = byte_addr[WORD_W+2:3];
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */

    assign req_ready = !scanning;

    // The slot at req_ci is read in the request's cycle; each next slot
    // of a chain in the cycle its predecessor arrives.
    logic more;
    assign more = (slot_flags(desc_rd_data) & NS_MOREFRAG) != 16'd0;
    always_comb begin
        desc_rd_en   = 1'b0;
        desc_rd_word = slot_word_of(req_base, req_ci);
        if (!scanning) begin
            desc_rd_en = req_valid && req_ci != req_head;
        end else begin
            desc_rd_en   = more && nxt(ci, n) != head;
            desc_rd_word = slot_word_of(base, nxt(ci, n));
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            scanning  <= 1'b0;
            rsp_valid <= 1'b0;
            rsp_kind  <= FETCH_END;
        end else begin
            rsp_valid <= 1'b0;
            if (!scanning) begin
                if (req_valid) begin
                    base     <= req_base;
                    n        <= req_n;
                    ci       <= req_ci;
                    head     <= req_head;
                    pipe     <= req_pipe;
                    num_bufs <= req_num_bufs;
                    buf_size <= req_buf_size;
                    rsp_start <= req_ci;
                    rsp_next  <= req_ci;
                    rsp_slots <= '0;
                    rsp_bytes <= '0;
                    rsp_ok    <= 1'b1;
                    if (req_ci == req_head) begin
                        rsp_valid <= 1'b1;
                        rsp_kind  <= FETCH_END;
                    end else begin
                        scanning <= 1'b1;
                    end
                end
            end else begin
                // desc_rd_data: slot ci (buf_idx, len, flags).
                rsp_slots <= rsp_slots + 16'd1;
                rsp_bytes <= rsp_bytes + 32'(slot_len(desc_rd_data));
                rsp_ok    <= rsp_ok && buf_ok(slot_buf(desc_rd_data), num_bufs)
                          && 32'(slot_len(desc_rd_data)) <= buf_size;
                if (rsp_slots == 16'd0) begin
                    rsp_first_buf   <= slot_buf(desc_rd_data);
                    rsp_first_len   <= slot_len(desc_rd_data);
                    rsp_first_flags <= slot_flags(desc_rd_data);
                end
                ci       <= nxt(ci, n);
                rsp_next <= nxt(ci, n);
                if (!more) begin
                    rsp_valid <= 1'b1;
                    rsp_kind  <= FETCH_FRAME;
                    scanning  <= 1'b0;
                end else if (nxt(ci, n) == head) begin
                    rsp_valid <= 1'b1;
                    scanning  <= 1'b0;
                    if (!pipe && 32'(rsp_slots) + 32'd1 > MAX_FRAGS) begin
                        rsp_kind <= FETCH_DROP;
                    end else begin
                        rsp_kind <= FETCH_WAIT;
                        rsp_next <= rsp_start;
                    end
                end
            end
        end
    end
endmodule
