// Per-port counters of the data path, in the software engine's
// PortCounter order (hw/README.md, PC_*). Two increment ports, so one
// cycle can count a frame and its bytes (or a drop on both ends); the
// data path never sends both to the same counter in one cycle. Counters wrap at
// 32 bits; a driver reads differences.
`include "nm_defines.svh"

module port_counters #(
    // Port entries.
    parameter int NUM_PORTS = 8,
    // Counters per port (PC_COUNTERS).
    parameter int COUNTERS  = `NM_PC_COUNTERS
) (
    input  logic        clk,
    input  logic        rst,

    // Increment port A.
    input  logic        a_valid,
    input  logic [7:0]  a_port,
    input  logic [3:0]  a_counter,
    input  logic [31:0] a_amount,
    // Increment port B.
    input  logic        b_valid,
    input  logic [7:0]  b_port,
    input  logic [3:0]  b_counter,
    input  logic [31:0] b_amount,

    // Read port (combinational): counter rd_counter of rd_port.
    input  logic [7:0]  rd_port,
    input  logic [3:0]  rd_counter,
    output logic [31:0] rd_data
);
    logic [31:0] count [NUM_PORTS][COUNTERS];

    for (genvar p = 0; p < NUM_PORTS; p++) begin : g_port
        for (genvar c = 0; c < COUNTERS; c++) begin : g_counter
            logic hit_a, hit_b;
            assign hit_a = a_valid && {24'd0, a_port} == 32'(p) && {28'd0, a_counter} == 32'(c);
            assign hit_b = b_valid && {24'd0, b_port} == 32'(p) && {28'd0, b_counter} == 32'(c);
            always_ff @(posedge clk) begin
                if (rst) begin
                    count[p][c] <= '0;
                end else begin
                    count[p][c] <= count[p][c] + (hit_a ? a_amount : 32'd0)
                                 + (hit_b ? b_amount : 32'd0);
                end
            end
        end
    end

    always_comb begin
        rd_data = '0;
        for (int p = 0; p < NUM_PORTS; p++) begin
            for (int c = 0; c < COUNTERS; c++) begin
                if ({24'd0, rd_port} == 32'(p) && {28'd0, rd_counter} == 32'(c)) begin
                    rd_data = count[p][c];
                end
            end
        end
    end
endmodule
