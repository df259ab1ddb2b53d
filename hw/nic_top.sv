// Top level of the offload engine: BAR0 registers and the VALE switch core.
// Ports are flat and grouped by interface (Verilator rejects interface ports
// on the top module). The data path (BAR2 rings, DMA, doorbells,
// notifications) will add its port groups here and feed the switch core
// from the tx rings instead of the lk_* stand-in.
module nic_top #(
    // MAC table rows and ways (powers of two); 1024 x 1 is netmap's table.
    parameter int ROWS        = 1024,
    parameter int WAYS        = 1,
    // Learn queue slots in front of the table's write port.
    parameter int QUEUE_DEPTH = 8,
    // Port table entries.
    parameter int NUM_PORTS   = 8
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

    // Lookup: one frame header per clock into the switch core.
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

    // Port enables from the port table (for the data path).
    output logic [NUM_PORTS-1:0] port_enable
);
    logic        sw_flush, sw_learn_enable, sw_flush_busy, sw_queue_busy;
    logic        rb_req, rb_valid;
    logic [31:0] rb_index;
    logic [63:0] rb_entry;
    logic        ev_hit, ev_miss, ev_learn, ev_flood, ev_drop, ev_overflow;

    bar0_regs #(
        .ROWS(ROWS), .WAYS(WAYS), .QUEUE_DEPTH(QUEUE_DEPTH), .NUM_PORTS(NUM_PORTS)
    ) regs (
        .clk, .rst,
        .req_valid(bar0_req_valid), .req_ready(bar0_req_ready),
        .req_write(bar0_req_write), .req_addr(bar0_req_addr),
        .req_wdata(bar0_req_wdata),
        .rsp_valid(bar0_rsp_valid), .rsp_rdata(bar0_rsp_rdata),
        .sw_flush, .sw_learn_enable, .sw_flush_busy, .sw_queue_busy,
        .rb_req, .rb_index, .rb_valid, .rb_entry,
        .ev_hit, .ev_miss, .ev_learn, .ev_flood, .ev_drop, .ev_overflow,
        .port_enable
    );

    mac_table #(
        .ROWS(ROWS), .WAYS(WAYS), .QUEUE_DEPTH(QUEUE_DEPTH), .TAG_W(16)
    ) table_core (
        .clk, .rst,
        .req_valid(lk_req_valid), .req_ready(lk_req_ready),
        .req_src_mac(lk_req_src_mac), .req_dst_mac(lk_req_dst_mac),
        .req_src_port(lk_req_src_port), .req_learn(lk_req_learn),
        .req_tag(lk_req_tag),
        .res_valid(lk_res_valid), .res_port(lk_res_port), .res_hit(lk_res_hit),
        .res_learn(lk_res_learn), .res_tag(lk_res_tag),
        .flush(sw_flush), .learn_enable(sw_learn_enable),
        .flush_busy(sw_flush_busy), .queue_busy(sw_queue_busy),
        .rb_req, .rb_index, .rb_valid, .rb_entry,
        .ev_hit, .ev_miss, .ev_learn, .ev_flood, .ev_drop, .ev_overflow
    );
endmodule
