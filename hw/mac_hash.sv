// netmap's MAC hash (nm_bridge_rthash without the final mask): one round of
// Bob Jenkins' lookup2 mix over the six address bytes. One hash per clock;
// the nine mix steps are split over three registered stages (three steps,
// six 32-bit subtractions each) so the adder chains fit a 250 MHz clock.
// See docs/mac-table.md.
module mac_hash (
    input  logic        clk,
    input  logic        rst,

    // Address in: byte 0 of the MAC in bits 7:0 (netmap's little-endian load).
    input  logic        in_valid,
    input  logic [47:0] in_mac,

    // Hash out, LATENCY (3) cycles later: the full 32-bit c of the mix.
    output logic        out_valid,
    output logic [31:0] out_hash
);
    localparam logic [31:0] GOLDEN_RATIO = 32'h9e37_79b9;

    // The mix state (a, b, c) after steps 1-3 and after steps 4-6.
    logic        valid1, valid2;
    logic [31:0] a1, b1, c1, a2, b2, c2;
    logic [31:0] next_a1, next_b1, next_c1, next_a2, next_b2, next_c2, next_c3;

    always_comb begin
        logic [31:0] a, b, c;
        a = GOLDEN_RATIO + in_mac[31:0];
        b = GOLDEN_RATIO + {16'd0, in_mac[47:32]};
        c = 32'd0;
        a = (a - b - c) ^ (c >> 13);
        b = (b - c - a) ^ (a << 8);
        c = (c - a - b) ^ (b >> 13);
        next_a1 = a;
        next_b1 = b;
        next_c1 = c;
    end

    always_comb begin
        logic [31:0] a, b, c;
        a = (a1 - b1 - c1) ^ (c1 >> 12);
        b = (b1 - c1 - a) ^ (a << 16);
        c = (c1 - a - b) ^ (b >> 5);
        next_a2 = a;
        next_b2 = b;
        next_c2 = c;
    end

    always_comb begin
        logic [31:0] a, b;
        a = (a2 - b2 - c2) ^ (c2 >> 3);
        b = (b2 - c2 - a) ^ (a << 10);
        next_c3 = (c2 - a - b) ^ (b >> 15);
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            valid1    <= 1'b0;
            valid2    <= 1'b0;
            out_valid <= 1'b0;
        end else begin
            valid1    <= in_valid;
            valid2    <= valid1;
            out_valid <= valid2;
        end
        a1 <= next_a1; b1 <= next_b1; c1 <= next_c1;
        a2 <= next_a2; b2 <= next_b2; c2 <= next_c2;
        out_hash <= next_c3;
    end
endmodule
