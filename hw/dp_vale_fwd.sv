// VALE forwarding decision of one frame: drop checks, the header read,
// the MAC lookup, and the destination list handed to delivery.
//
// On `frm_valid` (a complete frame from dp_tx_fetch, from port src_port
// ring src_ring), in the software engine's order: a chain over
// MAX_FRAGS slots is CNT_TX_DROP_CHAIN, a bad slot CNT_TX_DROP_BAD_SLOT,
// a first slot under ETH_HEADER_LEN bytes CNT_TX_DROP_SHORT. Otherwise
// the first beat of the first buffer (up to 64 bytes: the header, and a
// short frame's whole payload, kept on `first_beat` for delivery) is
// read by DMA and the MAC table asked (learn the source unless
// NS_NO_LEARN). PORT_DROP is CNT_TX_DROP_SAME_PORT; else the frame
// counts CNT_TX_PACKETS/BYTES and goes, one destination at a time on
// `dst_*` (a one-cycle `dst_valid` in a cycle after `dst_ready`: delivery
// takes it over, and this stage goes on), to the unicast port (if
// enabled, VALE and not the source; RX ring = source ring mod its RX
// rings) or, on PORT_FLOOD, to RX ring 0 of every other enabled VALE
// port in port order (none: CNT_TX_DROP_NO_DEST). `done` pulses when the
// frame is handed over whole, so the next frame's lookup runs while
// delivery copies this one. The frame's fields are taken with
// `frm_valid` (dp_tx_fetch goes on with the next frame at once) and
// passed to delivery on `dst_frm_*`. When dp_pay_fetch read the frame ahead
// (`pb_alloc`), the MAC addresses come from the packet buffer (`pb_hdr`,
// once `pb_b0`) instead of a DMA read; the DMA read is issued only while
// delivery is idle (`dst_ready`), so the two never share the channel.
`include "nm_defines.svh"

module dp_vale_fwd #(
    // Port table entries.
    parameter int NUM_PORTS = 8,
    // Rings per direction per port served (sizes the shared helpers).
    parameter int RINGS     = 4
) (
    input  logic        clk,
    input  logic        rst,

    // Port table (bar0_regs).
    input  logic [NUM_PORTS-1:0]                    port_enable,
    input  logic [NUM_PORTS*`NM_PORT_ENTRY_REGS*32-1:0] port_cfg,

    // The frame (held by dp_tx_fetch while this stage runs) and its source.
    input  logic        frm_valid,
    input  logic [15:0] frm_start,
    input  logic [15:0] frm_slots,
    input  logic [31:0] frm_bytes,
    input  logic        frm_ok,
    input  logic [31:0] frm_first_buf,
    input  logic [15:0] frm_first_len,
    input  logic [15:0] frm_first_flags,
    input  logic [7:0]  src_port,
    input  logic [3:0]  src_ring,
    output logic        done,

    // DMA read channel (this stage's request register; the responses).
    input  logic         dma_rd_can,   // no write queued, read register free
    output logic         dma_rd_req_valid,
    input  logic         dma_rd_req_ready,
    output logic [63:0]  dma_rd_req_addr,
    output logic [12:0]  dma_rd_req_len,
    input  logic         dma_rd_rsp_valid,
    output logic         dma_rd_rsp_ready,
    input  logic [511:0] dma_rd_rsp_data,

    // Switch core: lookup request (one-cycle pulse) and result.
    output logic        lk_valid,
    output logic [47:0] lk_src_mac,
    output logic [47:0] lk_dst_mac,
    output logic [7:0]  lk_src_port,
    output logic        lk_learn,
    input  logic        lk_res_valid,
    input  logic [7:0]  lk_res_port,

    // Delivery: one destination (port, RX ring) at a time.
    output logic        dst_valid,
    output logic [7:0]  dst_port,
    output logic [3:0]  dst_ring,
    input  logic        dst_ready,
    output logic [511:0] first_beat,
    // The frame, for delivery: first slot, slots, bytes, the first TX slot.
    output logic [15:0]  dst_frm_start,
    output logic [15:0]  dst_frm_slots,
    output logic [31:0]  dst_frm_bytes,
    output logic [63:0]  dst_frm_first_slot,

    // The packet buffer (dp_pay_fetch) for this frame: read ahead, its
    // first beat in, and its first 12 bytes.
    input  logic         pb_alloc,
    input  logic         pb_b0,
    input  logic [95:0]  pb_hdr,

    // Counter events: port A counts one, port B adds an amount.
    output logic        ca_valid,
    output logic [7:0]  ca_port,
    output logic [3:0]  ca_counter,
    output logic        cb_valid,
    output logic [7:0]  cb_port,
    output logic [3:0]  cb_counter,
    output logic [31:0] cb_amount,

    output logic        busy
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    `include "dp_port_cfg.svh"
    /* verilator lint_on UNUSEDPARAM */

    typedef enum logic [2:0] {
        V_IDLE, V_HDR_RD, V_HDR, V_PB_WAIT, V_LK_WAIT, V_FLOOD_NEXT, V_DLV
    } state_t;
    state_t st;

    logic [PW-1:0] cp;
    logic          flood, flood_any;
    logic [8:0]    fq;        // next flood candidate
    logic [31:0]   bytes, first_buf;
    logic [15:0]   first_flags, first_len, fstart, fslots;
    assign dst_frm_start = fstart;
    assign dst_frm_slots = fslots;
    assign dst_frm_bytes = bytes;
    assign dst_frm_first_slot = slot_word(first_buf, first_len, first_flags);
    // The first beat: the header, and the whole payload of a frame up to
    // 64 bytes (copied from there, not re-read). The frame's fields hold.
    // (From the inputs in the frame's cycle, from the copies later.)
    logic [63:0]   hdr_addr, hdr_addr_q;
    logic [12:0]   hdr_len, hdr_len_q;
    assign hdr_addr   = cfg_pool[cp] + 64'(frm_first_buf) * 64'(cfg_buf_size[cp]);
    assign hdr_len    = 32'(frm_first_len) > BEAT_BYTES ? 13'(BEAT_BYTES) : 13'(frm_first_len);
    assign hdr_addr_q = cfg_pool[cp] + 64'(first_buf) * 64'(cfg_buf_size[cp]);
    assign hdr_len_q  = 32'(first_len) > BEAT_BYTES ? 13'(BEAT_BYTES) : 13'(first_len);

    assign cp = PW'(src_port);
    assign busy = st != V_IDLE;
    assign dma_rd_rsp_ready = st == V_HDR;

    // Unicast destination ring: source ring mod the destination's RX rings.
    logic [3:0]  uni_ring;
    logic [15:0] uni_rings;
    always_comb begin
        uni_rings = cfg_rx_rings[PW'(lk_res_port)];
        if (uni_rings == 16'd0) uni_rings = 16'd1;
        uni_ring = 4'(16'(src_ring) % uni_rings);
    end

    // Next flood destination at or after fq: enabled VALE port, not cp.
    logic          flood_found;
    logic [PW-1:0] flood_pick;
    always_comb begin
        flood_found = 1'b0;
        flood_pick  = '0;
        for (int p = 0; p < NUM_PORTS; p++) begin
            if (!flood_found && 9'(p) >= fq && PW'(p) != cp && port_enable[p]
                    && is_vale(cfg_kind[p])) begin
                flood_found = 1'b1;
                flood_pick  = PW'(p);
            end
        end
    end

    // The first beat is here: ask the MAC table (`flags`: the first slot's).
    task automatic header(input logic [511:0] beat, input logic [15:0] flags);
        first_beat  <= beat;
        lk_dst_mac  <= beat[47:0];
        lk_src_mac  <= beat[95:48];
        lk_src_port <= src_port;
        lk_learn    <= (flags & NS_NO_LEARN) == 16'd0;
        lk_valid    <= 1'b1;
        st <= V_LK_WAIT;
    endtask

    task automatic count_a(input logic [7:0] port, input logic [3:0] counter);
        ca_valid <= 1'b1; ca_port <= port; ca_counter <= counter;
    endtask
    // The next flood destination (handed over in V_DLV), or the frame's
    // end.
    task automatic flood_step();
        if (flood_found) begin
            flood_any <= 1'b1;
            fq        <= 9'(flood_pick) + 9'd1;
            dst_port  <= 8'(flood_pick);
            dst_ring  <= 4'd0;
            st <= V_DLV;
        end else begin
            if (!flood_any) count_a(src_port, CNT_TX_DROP_NO_DEST);
            done <= 1'b1;
            st <= V_IDLE;
        end
    endtask

    always_ff @(posedge clk) begin
        if (rst) begin
            st <= V_IDLE;
            dma_rd_req_valid <= 1'b0;
            lk_valid  <= 1'b0;
            dst_valid <= 1'b0;
            done      <= 1'b0;
            ca_valid  <= 1'b0;
            cb_valid  <= 1'b0;
        end else begin
            lk_valid  <= 1'b0;
            dst_valid <= 1'b0;
            done      <= 1'b0;
            ca_valid  <= 1'b0;
            cb_valid  <= 1'b0;
            if (dma_rd_req_valid && dma_rd_req_ready) dma_rd_req_valid <= 1'b0;

            case (st)
            V_IDLE: begin
                if (frm_valid) begin
                    bytes       <= frm_bytes;
                    first_flags <= frm_first_flags;
                    first_buf   <= frm_first_buf;
                    first_len   <= frm_first_len;
                    fstart      <= frm_start;
                    fslots      <= frm_slots;
                    if (32'(frm_slots) > MAX_FRAGS) begin
                        count_a(src_port, CNT_TX_DROP_CHAIN);
                        done <= 1'b1;
                    end else if (!frm_ok) begin
                        count_a(src_port, CNT_TX_DROP_BAD_SLOT);
                        done <= 1'b1;
                    end else if (32'(frm_first_len) < ETH_HEADER_LEN) begin
                        count_a(src_port, CNT_TX_DROP_SHORT);
                        done <= 1'b1;
                    end else if (pb_alloc) begin
                        if (pb_b0) header(512'(pb_hdr), frm_first_flags);
                        else st <= V_PB_WAIT;
                    end else if (dma_rd_can && dst_ready) begin
                        dma_rd_req_valid <= 1'b1;
                        dma_rd_req_addr  <= hdr_addr;
                        dma_rd_req_len   <= hdr_len;
                        st <= V_HDR;
                    end else begin
                        st <= V_HDR_RD;
                    end
                end
            end

            V_HDR_RD: begin
                if (dma_rd_can && dst_ready) begin
                    dma_rd_req_valid <= 1'b1;
                    dma_rd_req_addr  <= hdr_addr_q;
                    dma_rd_req_len   <= hdr_len_q;
                    st <= V_HDR;
                end
            end

            V_HDR: if (dma_rd_rsp_valid) header(dma_rd_rsp_data, first_flags);

            V_PB_WAIT: if (pb_b0) header(512'(pb_hdr), first_flags);

            V_LK_WAIT: begin
                if (lk_res_valid) begin
                    if (lk_res_port == PORT_DROP) begin
                        count_a(src_port, CNT_TX_DROP_SAME_PORT);
                        done <= 1'b1;
                        st <= V_IDLE;
                    end else begin
                        count_a(src_port, CNT_TX_PACKETS);
                        cb_valid <= 1'b1; cb_port <= src_port;
                        cb_counter <= CNT_TX_BYTES; cb_amount <= bytes;
                        if (lk_res_port == PORT_FLOOD) begin
                            flood     <= 1'b1;
                            flood_any <= 1'b0;
                            fq        <= '0;
                            st <= V_FLOOD_NEXT;
                        end else if (32'(lk_res_port) < 32'(NUM_PORTS)
                                     && PW'(lk_res_port) != cp
                                     && port_enable[PW'(lk_res_port)]
                                     && is_vale(cfg_kind[PW'(lk_res_port)])) begin
                            flood     <= 1'b0;
                            dst_port  <= lk_res_port;
                            dst_ring  <= uni_ring;
                            if (dst_ready) begin
                                dst_valid <= 1'b1;
                                done <= 1'b1;
                                st <= V_IDLE;
                            end else begin
                                st <= V_DLV;
                            end
                        end else begin
                            done <= 1'b1;  // destination gone: nothing to do
                            st <= V_IDLE;
                        end
                    end
                end
            end

            V_FLOOD_NEXT: flood_step();

            // Hand the destination over when delivery can take it.
            V_DLV: begin
                if (dst_ready) begin
                    dst_valid <= 1'b1;
                    if (flood) begin
                        st <= V_FLOOD_NEXT;
                    end else begin
                        done <= 1'b1;
                        st <= V_IDLE;
                    end
                end
            end

            default: st <= V_IDLE;
            endcase
        end
    end
endmodule
