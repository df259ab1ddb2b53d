// BAR2 descriptor memory: the TX netmap rings (256-byte header, 16-byte
// slots) that the host writes over BAR2 and the data path reads and
// writes back (pipe crossover). Stored as sixteen 32-bit columns of
// 64-byte lines (four slots a line), each column a true dual-port RAM:
// the host's port (32-bit accesses, or a write-combined line of up to
// sixteen 32-bit words in one cycle, BAR2 bus) and the device's. The
// device reaches it two ways, never both in one cycle:
// - a 64-bit word (dev_*: a slot's buf_idx, len and flags together), read
//   or written, as the stages that walk one slot at a time use it;
// - a whole line (line_*: four slots), read, or written with one enable
//   per slot, as the pipe crossover moves runs of slots (one line read
//   and one line write per four slots).
// Both read with one cycle of latency; read data is held until the next
// read. Same-slot writes from both ports in one cycle are not ordered
// (the ring protocol never does that: a slot belongs to one side at a
// time).
module desc_mem #(
    // Size in bytes (a power of two, at least 64).
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
    // Host side, a line write (a write-combined 64-byte burst; never in
    // the cycle of a 32-bit access): the words with host_line_mask set of
    // the line at byte offset host_line_addr (64-byte aligned).
    input  logic        host_line_valid,
    input  logic [31:0] host_line_addr,
    input  logic [15:0] host_line_mask,
    input  logic [511:0] host_line_wdata,

    // Device side, a word: one 64-bit word per cycle, read (en) or
    // written (en and we); read data is valid the cycle after the read.
    input  logic                          dev_en,
    input  logic                          dev_we,
    input  logic [$clog2(BYTES / 8)-1:0]  dev_word,
    input  logic [63:0]                   dev_wdata,
    output logic [63:0]                   dev_rdata,

    // Device side, a line (takes the port from dev_* in its cycle): read
    // (line_en), or its slots with line_mask set written (line_en and
    // line_we); read data is valid the cycle after the read.
    input  logic                          line_en,
    input  logic                          line_we,
    input  logic [$clog2(BYTES / 64)-1:0] line_row,
    input  logic [3:0]                    line_mask,
    input  logic [511:0]                  line_wdata,
    output logic [511:0]                  line_rdata
);
    localparam int ROWS  = BYTES / 64;
    localparam int ROW_W = $clog2(ROWS);

    logic [ROW_W-1:0] host_row, dev_row;
    logic [3:0]       host_col;
    logic             host_in_range;
    assign host_row      = host_line_valid ? host_line_addr[ROW_W+5:6] : host_req_addr[ROW_W+5:6];
    assign host_col      = host_req_addr[5:2];
    assign host_in_range = (host_line_valid ? host_line_addr : host_req_addr) < 32'(BYTES);
    assign host_req_ready = 1'b1;
    assign dev_row = line_en ? line_row : dev_word[ROW_W+2:3];

    // A device read (of a word or a line) reads every column.
    logic dev_rd;
    assign dev_rd = line_en ? !line_we : dev_en && !dev_we;

    logic [31:0] host_q [16];
    logic [31:0] dev_q  [16];
    for (genvar c = 0; c < 16; c++) begin : g_col
        logic [31:0] mem [ROWS];
        logic        dev_col_we;
        logic [31:0] dev_col_wdata;
        logic        host_col_we;
        assign host_col_we = host_in_range && (host_line_valid ? host_line_mask[c]
            : host_req_valid && host_req_write && 32'(host_col) == c);
        assign dev_col_we    = line_en ? line_we && line_mask[c / 4]
                             : dev_en && dev_we && 32'(dev_word[2:0]) == c / 2;
        assign dev_col_wdata = line_en ? line_wdata[32 * c +: 32] : dev_wdata[32 * (c % 2) +: 32];
        // Host port.
        always_ff @(posedge clk) begin
            if (host_col_we) begin
                mem[host_row] <= host_line_valid ? host_line_wdata[32 * c +: 32] : host_req_wdata;
            end
            host_q[c] <= mem[host_row];
        end
        // Device port.
        always_ff @(posedge clk) begin
            if (dev_col_we) mem[dev_row] <= dev_col_wdata;
            else if (dev_rd) dev_q[c] <= mem[dev_row];
        end
        assign line_rdata[32 * c +: 32] = dev_q[c];
    end

    // The word a word read asked for.
    logic [2:0] dev_sel_q;
    always_ff @(posedge clk) begin
        if (!line_en && dev_en && !dev_we) dev_sel_q <= dev_word[2:0];
    end
    assign dev_rdata = {dev_q[{dev_sel_q, 1'b1}], dev_q[{dev_sel_q, 1'b0}]};

    logic [3:0] host_col_q;
    logic       host_rd_q, host_range_q;
    always_ff @(posedge clk) begin
        if (rst) begin
            host_rd_q <= 1'b0;
        end else begin
            host_rd_q <= host_req_valid && !host_req_write && !host_line_valid;
        end
        host_col_q   <= host_col;
        host_range_q <= host_in_range;
    end
    assign host_rsp_valid = host_rd_q;
    assign host_rsp_rdata = !host_range_q ? 32'd0 : host_q[host_col_q];
endmodule
