// Top level of the offload engine: BAR0 registers, BAR2 descriptor
// memory, the VALE switch core and the data path (dp_engine and its
// stages, DMA master, notification lines). Ports are flat and grouped by interface (Verilator
// rejects interface ports on the top module). The lk_* port is a test
// access port into the switch core: it is served in cycles the data path
// leaves the table's request port free.
`include "nm_defines.svh"

module nic_top #(
    // MAC table rows and ways (powers of two); 1024 x 1 is netmap's table.
    parameter int ROWS        = 1024,
    parameter int WAYS        = 1,
    // Learn queue slots in front of the table's write port.
    parameter int QUEUE_DEPTH = 8,
    // Port table entries.
    parameter int NUM_PORTS   = 8,
    // Rings per direction per port the data path serves (at most 16).
    parameter int RINGS       = 4,
    // BAR2 (descriptor memory) size in bytes, a power of two.
    parameter int BAR2_BYTES  = 262144
) (
    input  logic        clk,
    input  logic        rst,

    // BAR0: register requests and read responses.
    input  logic        bar0_req_valid,
    output logic        bar0_req_ready,
    input  logic        bar0_req_write,
    input  logic [15:0] bar0_req_addr,
    input  logic [31:0] bar0_req_wdata,
    output logic        bar0_rsp_valid,
    output logic [31:0] bar0_rsp_rdata,

    // BAR2: 32-bit descriptor memory accesses and read responses.
    input  logic        bar2_req_valid,
    output logic        bar2_req_ready,
    input  logic        bar2_req_write,
    input  logic [31:0] bar2_req_addr,
    input  logic [31:0] bar2_req_wdata,
    output logic        bar2_rsp_valid,
    output logic [31:0] bar2_rsp_rdata,
    // BAR2 write-combined line (desc_mem: never beside a bar2_req access).
    input  logic         bar2_line_valid,
    input  logic [31:0]  bar2_line_addr,
    input  logic [15:0]  bar2_line_mask,
    input  logic [511:0] bar2_line_wdata,

    // DMA read channel (device reads host memory): requests of up to 4096
    // bytes, answered by 64-byte beats in request order (byte k of beat j
    // is host byte addr + 64 * j + k), the last one flagged.
    output logic         dma_rd_req_valid,
    input  logic         dma_rd_req_ready,
    output logic [63:0]  dma_rd_req_addr,
    output logic [12:0]  dma_rd_req_len,
    output logic [7:0]   dma_rd_req_tag,
    input  logic         dma_rd_rsp_valid,
    output logic         dma_rd_rsp_ready,
    input  logic [511:0] dma_rd_rsp_data,
    input  logic [7:0]   dma_rd_rsp_tag,
    input  logic         dma_rd_rsp_last,

    // DMA write channel (device writes host memory): one beat of up to 64
    // bytes per request (bytes 0 .. len - 1 of data), performed in order.
    output logic         dma_wr_req_valid,
    input  logic         dma_wr_req_ready,
    output logic [63:0]  dma_wr_req_addr,
    output logic [6:0]   dma_wr_req_len,
    output logic [511:0] dma_wr_req_data,

    // Notification lines: a one-cycle pulse on bit p asks for port p's
    // interrupt (MSI-X vector p on a board).
    output logic [NUM_PORTS-1:0] notify,
    // The data path has work in progress (simulation runs until it clears).
    output logic        dp_busy,

    // Lookup test port: one frame header per clock into the switch core.
    input  logic        lk_req_valid,
    output logic        lk_req_ready,
    input  logic [47:0] lk_req_src_mac,
    input  logic [47:0] lk_req_dst_mac,
    input  logic [7:0]  lk_req_src_port,
    input  logic        lk_req_learn,
    input  logic [15:0] lk_req_tag,
    output logic        lk_res_valid,
    output logic [7:0]  lk_res_port,
    output logic        lk_res_hit,
    output logic [2:0]  lk_res_learn,
    output logic [15:0] lk_res_tag,

    // Port enables from the port table.
    output logic [NUM_PORTS-1:0] port_enable
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    /* verilator lint_on UNUSEDPARAM */

    localparam int WORD_W = $clog2(BAR2_BYTES / 8);

    logic        sw_flush, sw_learn_enable, sw_flush_busy, sw_queue_busy;
    logic        sw_forget;
    logic [7:0]  sw_forget_port;
    logic        rb_req, rb_valid;
    logic [31:0] rb_index;
    logic [63:0] rb_entry;
    logic        ev_hit, ev_miss, ev_learn, ev_flood, ev_drop, ev_overflow;
    logic        ev_forwarded;
    // Every result leaving the table, counted with the other switch events
    // (one clock after it leaves).
    logic        ev_lookup;
    always_ff @(posedge clk) begin
        if (rst) ev_lookup <= 1'b0;
        else     ev_lookup <= t_res_valid;
    end
    logic [NUM_PORTS*`NM_PORT_ENTRY_REGS*32-1:0] port_cfg;
    logic [7:0]  pc_rd_port;
    logic [3:0]  pc_rd_counter;
    logic [31:0] pc_rd_data;
    logic        db_valid, db_rx;
    logic [7:0]  db_port;
    logic [3:0]  db_ring;
    logic [15:0] db_head;

    bar0_regs #(
        .ROWS(ROWS), .WAYS(WAYS), .QUEUE_DEPTH(QUEUE_DEPTH), .NUM_PORTS(NUM_PORTS),
        .BAR2_BYTES(BAR2_BYTES), .RINGS(RINGS)
    ) regs (
        .clk, .rst,
        .req_valid(bar0_req_valid), .req_ready(bar0_req_ready),
        .req_write(bar0_req_write), .req_addr(bar0_req_addr),
        .req_wdata(bar0_req_wdata),
        .rsp_valid(bar0_rsp_valid), .rsp_rdata(bar0_rsp_rdata),
        .sw_flush, .sw_learn_enable, .sw_forget, .sw_forget_port,
        .sw_flush_busy, .sw_queue_busy,
        .rb_req, .rb_index, .rb_valid, .rb_entry,
        .ev_hit, .ev_miss, .ev_learn, .ev_flood, .ev_drop, .ev_overflow,
        .ev_lookup, .ev_forwarded,
        .port_enable, .port_cfg,
        .pc_rd_port, .pc_rd_counter, .pc_rd_data,
        .notify,
        .db_valid, .db_rx, .db_port, .db_ring, .db_head
    );

    logic                desc_rd_en, desc_wr_en;
    logic [WORD_W-1:0]   desc_rd_word, desc_wr_word;
    logic [63:0]         desc_rd_data, desc_wr_data;
    logic                desc_line_en, desc_line_we;
    logic [WORD_W-4:0]   desc_line_row;
    logic [3:0]          desc_line_mask;
    logic [511:0]        desc_line_wdata, desc_line_rdata;

    desc_mem #(.BYTES(BAR2_BYTES)) bar2 (
        .clk, .rst,
        .host_req_valid(bar2_req_valid), .host_req_ready(bar2_req_ready),
        .host_req_write(bar2_req_write), .host_req_addr(bar2_req_addr),
        .host_req_wdata(bar2_req_wdata),
        .host_rsp_valid(bar2_rsp_valid), .host_rsp_rdata(bar2_rsp_rdata),
        .host_line_valid(bar2_line_valid), .host_line_addr(bar2_line_addr),
        .host_line_mask(bar2_line_mask), .host_line_wdata(bar2_line_wdata),
        // The data path never reads and writes BAR2 in the same cycle.
        .dev_en(desc_rd_en || desc_wr_en), .dev_we(desc_wr_en),
        .dev_word(desc_wr_en ? desc_wr_word : desc_rd_word),
        .dev_wdata(desc_wr_data), .dev_rdata(desc_rd_data),
        .line_en(desc_line_en), .line_we(desc_line_we), .line_row(desc_line_row),
        .line_mask(desc_line_mask), .line_wdata(desc_line_wdata), .line_rdata(desc_line_rdata)
    );

    // The switch core's request port: the data path first, the test port
    // in the other cycles. Tag bit 16 says whose result it is.
    logic        wk_valid, wk_learn;
    logic [47:0] wk_src, wk_dst;
    logic [7:0]  wk_port;
    logic        t_req_valid, t_req_learn, t_req_ready;
    logic [47:0] t_req_src, t_req_dst;
    logic [7:0]  t_req_port;
    logic [16:0] t_req_tag, t_res_tag;
    logic        t_res_valid, t_res_hit;
    logic [7:0]  t_res_port;
    logic [2:0]  t_res_learn;
    always_comb begin
        t_req_valid = wk_valid || lk_req_valid;
        t_req_src   = wk_valid ? wk_src : lk_req_src_mac;
        t_req_dst   = wk_valid ? wk_dst : lk_req_dst_mac;
        t_req_port  = wk_valid ? wk_port : lk_req_src_port;
        t_req_learn = wk_valid ? wk_learn : lk_req_learn;
        t_req_tag   = wk_valid ? 17'h10000 : {1'b0, lk_req_tag};
    end
    assign lk_req_ready = t_req_ready && !wk_valid;
    assign lk_res_valid = t_res_valid && !t_res_tag[16];
    assign lk_res_port  = t_res_port;
    assign lk_res_hit   = t_res_hit;
    assign lk_res_learn = t_res_learn;
    assign lk_res_tag   = t_res_tag[15:0];

    mac_table #(
        .ROWS(ROWS), .WAYS(WAYS), .QUEUE_DEPTH(QUEUE_DEPTH), .NUM_PORTS(NUM_PORTS),
        .TAG_W(17)
    ) table_core (
        .clk, .rst,
        .req_valid(t_req_valid), .req_ready(t_req_ready),
        .req_src_mac(t_req_src), .req_dst_mac(t_req_dst),
        .req_src_port(t_req_port), .req_learn(t_req_learn),
        .req_tag(t_req_tag),
        .res_valid(t_res_valid), .res_port(t_res_port), .res_hit(t_res_hit),
        .res_learn(t_res_learn), .res_tag(t_res_tag),
        .flush(sw_flush), .learn_enable(sw_learn_enable),
        .forget(sw_forget), .forget_port(sw_forget_port),
        .flush_busy(sw_flush_busy), .queue_busy(sw_queue_busy),
        .rb_req, .rb_index, .rb_valid, .rb_entry,
        .ev_hit, .ev_miss, .ev_learn, .ev_flood, .ev_drop, .ev_overflow
    );

    logic        ca_valid, cb_valid;
    logic [7:0]  ca_port, cb_port;
    logic [3:0]  ca_counter, cb_counter;
    logic [31:0] ca_amount, cb_amount;

    port_counters #(.NUM_PORTS(NUM_PORTS), .COUNTERS(PC_COUNTERS)) counters (
        .clk, .rst,
        .a_valid(ca_valid), .a_port(ca_port), .a_counter(ca_counter), .a_amount(ca_amount),
        .b_valid(cb_valid), .b_port(cb_port), .b_counter(cb_counter), .b_amount(cb_amount),
        .rd_port(pc_rd_port), .rd_counter(pc_rd_counter), .rd_data(pc_rd_data)
    );

    dp_engine #(
        .NUM_PORTS(NUM_PORTS), .RINGS(RINGS), .BAR2_BYTES(BAR2_BYTES)
    ) engine (
        .clk, .rst,
        .port_enable, .port_cfg,
        .db_valid, .db_rx, .db_port, .db_ring, .db_head,
        .desc_rd_en, .desc_rd_word, .desc_rd_data,
        .desc_wr_en, .desc_wr_word, .desc_wr_data,
        .desc_line_en, .desc_line_we, .desc_line_row, .desc_line_mask, .desc_line_wdata,
        .desc_line_rdata,
        .lk_valid(wk_valid), .lk_src_mac(wk_src), .lk_dst_mac(wk_dst),
        .lk_src_port(wk_port), .lk_learn(wk_learn),
        .lk_res_valid(t_res_valid && t_res_tag[16]), .lk_res_port(t_res_port),
        .dma_rd_req_valid, .dma_rd_req_ready, .dma_rd_req_addr, .dma_rd_req_len,
        .dma_rd_req_tag, .dma_rd_rsp_valid, .dma_rd_rsp_ready, .dma_rd_rsp_data,
        .dma_rd_rsp_tag, .dma_rd_rsp_last,
        .dma_wr_req_valid, .dma_wr_req_ready, .dma_wr_req_addr, .dma_wr_req_len,
        .dma_wr_req_data,
        .ca_valid, .ca_port, .ca_counter, .ca_amount,
        .cb_valid, .cb_port, .cb_counter, .cb_amount,
        .ev_forwarded,
        .notify, .busy(dp_busy)
    );
endmodule
