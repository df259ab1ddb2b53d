// BAR2 descriptor memory: the TX netmap rings (256-byte header, 16-byte
// slots) that the host writes over BAR2 and the data path reads and
// writes back (pipe crossover). Stored as 64-bit words, so one device read
// returns a slot's buf_idx, len and flags together. Two ports: the host's
// (32-bit, BAR2 bus) and the device's (64-bit words); both read with one
// cycle of latency. Each port reads or writes one address per cycle, so
// each half maps onto true dual-port block RAM. Same-word writes from both
// ports in one cycle are not ordered (the ring protocol never does that: a
// slot belongs to one side at a time).
module desc_mem #(
    // Size in bytes (a power of two, at least 8).
    parameter int BYTES = 262144
) (
    input  logic        clk,
    input  logic        rst,

    // Host side (BAR2): 32-bit accesses at 4-byte aligned byte offsets,
    // always accepted; a read answers on rsp_* one cycle later.
    input  logic        host_req_valid,
    output logic        host_req_ready,
    input  logic        host_req_write,
    input  logic [31:0] host_req_addr,
    input  logic [31:0] host_req_wdata,
    output logic        host_rsp_valid,
    output logic [31:0] host_rsp_rdata,

    // Device side: one 64-bit word per cycle, read (en) or written (en and
    // we); read data is valid the cycle after the read and held until the
    // next one.
    input  logic                          dev_en,
    input  logic                          dev_we,
    input  logic [$clog2(BYTES / 8)-1:0]  dev_word,
    input  logic [63:0]                   dev_wdata,
    output logic [63:0]                   dev_rdata
);
    localparam int WORDS  = BYTES / 8;
    localparam int WORD_W = $clog2(WORDS);

    // Two 32-bit halves, each a true dual-port RAM (host port, device port).
    logic [31:0] mem_lo [WORDS];
    logic [31:0] mem_hi [WORDS];

    logic [WORD_W-1:0] host_word;
    logic              host_half;
    logic              host_in_range;
    assign host_word     = host_req_addr[WORD_W+2:3];
    assign host_half     = host_req_addr[2];
    assign host_in_range = host_req_addr < 32'(BYTES);
    assign host_req_ready = 1'b1;

    logic [31:0] host_lo_q, host_hi_q;
    logic        host_half_q, host_rd_q, host_range_q;

    // Host port of each half.
    always_ff @(posedge clk) begin
        if (host_req_valid && host_req_write && host_in_range && !host_half) begin
            mem_lo[host_word] <= host_req_wdata;
        end
        host_lo_q <= mem_lo[host_word];
    end
    always_ff @(posedge clk) begin
        if (host_req_valid && host_req_write && host_in_range && host_half) begin
            mem_hi[host_word] <= host_req_wdata;
        end
        host_hi_q <= mem_hi[host_word];
    end

    // Device port of each half.
    logic [31:0] dev_lo_q, dev_hi_q;
    always_ff @(posedge clk) begin
        if (dev_en) begin
            if (dev_we) begin
                mem_lo[dev_word] <= dev_wdata[31:0];
            end else begin
                dev_lo_q <= mem_lo[dev_word];
            end
        end
    end
    always_ff @(posedge clk) begin
        if (dev_en) begin
            if (dev_we) begin
                mem_hi[dev_word] <= dev_wdata[63:32];
            end else begin
                dev_hi_q <= mem_hi[dev_word];
            end
        end
    end
    assign dev_rdata = {dev_hi_q, dev_lo_q};

    always_ff @(posedge clk) begin
        if (rst) begin
            host_rd_q <= 1'b0;
        end else begin
            host_rd_q <= host_req_valid && !host_req_write;
        end
        host_half_q  <= host_half;
        host_range_q <= host_in_range;
    end
    assign host_rsp_valid = host_rd_q;
    assign host_rsp_rdata = !host_range_q ? 32'd0 : host_half_q ? host_hi_q : host_lo_q;
endmodule
