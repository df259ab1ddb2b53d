// netmap's MAC hash (nm_bridge_rthash without the final mask): one round of
// Bob Jenkins' lookup2 mix over the six address bytes. Registered output,
// latency one cycle, one hash per clock. See docs/mac-table.md.
module mac_hash (
    input  logic        clk,
    input  logic        rst,

    // Address in: byte 0 of the MAC in bits 7:0 (netmap's little-endian load).
    input  logic        in_valid,
    input  logic [47:0] in_mac,

    // Hash out, one cycle later: the full 32-bit c of the mix.
    output logic        out_valid,
    output logic [31:0] out_hash
);
    localparam logic [31:0] GOLDEN_RATIO = 32'h9e37_79b9;

    logic [31:0] hash;

    always_comb begin
        logic [31:0] a, b, c;
        a = GOLDEN_RATIO + in_mac[31:0];
        b = GOLDEN_RATIO + {16'd0, in_mac[47:32]};
        c = 32'd0;
        a = (a - b - c) ^ (c >> 13);
        b = (b - c - a) ^ (a << 8);
        c = (c - a - b) ^ (b >> 13);
        a = (a - b - c) ^ (c >> 12);
        b = (b - c - a) ^ (a << 16);
        c = (c - a - b) ^ (b >> 5);
        a = (a - b - c) ^ (c >> 3);
        b = (b - c - a) ^ (a << 10);
        c = (c - a - b) ^ (b >> 15);
        hash = c;
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            out_valid <= 1'b0;
            out_hash  <= 32'd0;
        end else begin
            out_valid <= in_valid;
            out_hash  <= hash;
        end
    end
endmodule
