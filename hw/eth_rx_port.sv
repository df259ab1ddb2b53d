// An Ethernet port's receive side: the MAC's RX user interface in, whole
// frames out towards the switch.
//
// The MAC side is a 512-bit AXI-Stream as a 100G MAC's user side presents
// it (Xilinx CMAC, Corundum's interface): `tdata` byte k in lane k, `tkeep`
// contiguous from lane 0 (only a frame's last beat may be partial), `tlast`,
// `tuser` high at `tlast` for a bad frame (FCS error, or any other error
// the MAC found), and no `tready`: the MAC never waits, so this port never
// back-pressures the wire. The MAC strips the FCS (CMAC's
// `ctl_rx_delete_fcs`), so lengths here exclude it: the shortest good frame
// is 60 bytes, a 1518-byte frame on the wire is 1514 here.
//
// Every frame goes whole into a store-and-forward FIFO in block RAM
// (eth_frame_fifo) or is dropped whole and counted, in this order (one
// counter per frame):
//   - `tuser` at `tlast`                     -> rx_errors
//   - shorter than MIN_LEN bytes (a runt)    -> rx_runts
//   - longer than MAX_LEN bytes              -> rx_oversize
//   - a beat found the FIFO full             -> rx_dropped_full
//   - otherwise accepted                     -> rx_packets, rx_bytes
// The accepted frames leave on a valid/ready stream with their length on
// every beat, the first included: the switch's lookup takes the MACs from
// the first beat and the length with them (store and forward).
//
// Pipeline: the MAC's beat is registered with its byte count, decoded from
// `tkeep` (s1), then written into the FIFO with the frame's running
// length, the checks made at the last beat. Counters are 32 bits
// and wrap (a driver reads differences), as port_counters'.
module eth_rx_port #(
    // FIFO beats of 64 bytes (a power of two); at least MAX_LEN / 64 + 1.
    parameter int DEPTH   = 512,
    // Longest frame accepted, bytes without FCS (1514 + an 802.1Q tag).
    parameter int MAX_LEN = 1518,
    // Shortest frame accepted, bytes without FCS (1 .. 64).
    parameter int MIN_LEN = 60
) (
    input  logic         clk,
    input  logic         rst,

    // MAC RX user side (no tready).
    input  logic         s_axis_tvalid,
    input  logic [511:0] s_axis_tdata,
    input  logic [63:0]  s_axis_tkeep,
    input  logic         s_axis_tlast,
    input  logic         s_axis_tuser,

    // Accepted frames, towards the switch.
    output logic         m_valid,
    input  logic         m_ready,
    output logic [511:0] m_data,
    output logic [15:0]  m_len,     // the frame's bytes, on every beat
    output logic         m_first,
    output logic         m_last,

    // Counters (wrap at 32 bits).
    output logic [31:0]  rx_packets,
    output logic [31:0]  rx_bytes,
    output logic [31:0]  rx_dropped_full,
    output logic [31:0]  rx_errors,
    output logic [31:0]  rx_runts,
    output logic [31:0]  rx_oversize,

    // A frame is inside (the wire's simulation clocks while this is high).
    output logic         busy
);
    // The MAC's beat's bytes: tkeep is contiguous from lane 0, so the
    // count is one past the lane where the ones end (a one-hot edge,
    // OR-encoded). The MAC's outputs are registers: this decode is all
    // the logic before s1.
    logic [6:0] in_bytes;
    always_comb begin
        in_bytes = '0;
        for (int i = 0; i < 64; i++) begin
            if (s_axis_tkeep[i] && (i == 63 || !s_axis_tkeep[(i + 1) % 64])) begin
                in_bytes = in_bytes | 7'(i + 1);
            end
        end
    end

    // s1: the MAC's beat and its byte count, registered.
    logic         s1_valid, s1_last, s1_user;
    logic [511:0] s1_data;
    logic [6:0]   s1_bytes;
    always_ff @(posedge clk) begin
        s1_valid <= !rst && s_axis_tvalid;
        s1_data  <= s_axis_tdata;
        s1_bytes <= in_bytes;
        s1_last  <= s_axis_tlast;
        s1_user  <= s_axis_tuser;
    end

    // The frame being written: bytes before this beat, first beat or not,
    // over MAX_LEN already.
    logic [15:0] acc;
    logic        first, over;
    // The frame's length up to this beat (saturated by `over`).
    logic [16:0] len;
    assign len = {1'b0, acc} + {10'd0, s1_bytes};

    logic is_err, is_runt, is_over, drop;
    assign is_err  = s1_user;
    assign is_runt = first && {25'd0, s1_bytes} < 32'(MIN_LEN);
    assign is_over = over || 32'(len) > 32'(MAX_LEN);
    assign drop    = is_err || is_runt || is_over;

    logic fifo_lost, fifo_commit, fifo_full, fifo_busy;
    logic [$clog2(DEPTH):0] fifo_free;

    eth_frame_fifo #(
        .DEPTH(DEPTH),
        .LEN_W(16)
    ) fifo (
        .clk        (clk),
        .rst        (rst),
        .wr_valid   (s1_valid),
        .wr_data    (s1_data),
        .wr_last    (s1_last),
        .wr_drop    (drop),
        .wr_len     (len[15:0]),
        .wr_full    (fifo_full),
        .wr_lost    (fifo_lost),
        .wr_commit  (fifo_commit),
        .free_beats (fifo_free),
        .rd_valid   (m_valid),
        .rd_ready   (m_ready),
        .rd_data    (m_data),
        .rd_len     (m_len),
        .rd_first   (m_first),
        .rd_last    (m_last),
        .busy       (fifo_busy)
    );

    always_ff @(posedge clk) begin
        if (rst) begin
            acc             <= '0;
            first           <= 1'b1;
            over            <= 1'b0;
            rx_packets      <= '0;
            rx_bytes        <= '0;
            rx_dropped_full <= '0;
            rx_errors       <= '0;
            rx_runts        <= '0;
            rx_oversize     <= '0;
        end else if (s1_valid) begin
            if (s1_last) begin
                acc   <= '0;
                first <= 1'b1;
                over  <= 1'b0;
                if (is_err) begin
                    rx_errors <= rx_errors + 32'd1;
                end else if (is_runt) begin
                    rx_runts <= rx_runts + 32'd1;
                end else if (is_over) begin
                    rx_oversize <= rx_oversize + 32'd1;
                end else if (fifo_lost) begin
                    rx_dropped_full <= rx_dropped_full + 32'd1;
                end
                if (fifo_commit) begin
                    rx_packets <= rx_packets + 32'd1;
                    rx_bytes   <= rx_bytes + 32'(len);
                end
            end else begin
                acc   <= len[15:0];
                first <= 1'b0;
                over  <= is_over;
            end
        end
    end

    assign busy = s1_valid || !first || fifo_busy;

    // fifo_full and fifo_free are for a writer that checks room first;
    // this one learns at the last beat (fifo_lost).
    logic unused;
    assign unused = ^{fifo_full, fifo_free};
endmodule
