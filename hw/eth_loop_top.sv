// A test top for the Ethernet ports and the simulated wire (sim::wire):
// one port whose received frames go straight back out of it, MAC
// addresses swapped (so a frame sent to any address comes back addressed
// to its sender), through eth_rx_port -> eth_tx_port source 0. Source 1 is
// a host-side stream on this top's ports (`h_*`), standing for frames
// from a host TX ring, so a bench can make the two share the wire.
module eth_loop_top #(
    // FIFO beats of each port side.
    parameter int DEPTH     = 256,
    // Longest frame, bytes without FCS.
    parameter int MAX_LEN   = 1518,
    // Swap destination and source MAC of every looped frame.
    parameter bit SWAP_MACS = 1'b1
) (
    input  logic         clk,
    input  logic         rst,

    // MAC RX user side.
    input  logic         rx_axis_tvalid,
    input  logic [511:0] rx_axis_tdata,
    input  logic [63:0]  rx_axis_tkeep,
    input  logic         rx_axis_tlast,
    input  logic         rx_axis_tuser,

    // MAC TX user side.
    output logic         tx_axis_tvalid,
    input  logic         tx_axis_tready,
    output logic [511:0] tx_axis_tdata,
    output logic [63:0]  tx_axis_tkeep,
    output logic         tx_axis_tlast,
    output logic         tx_axis_tuser,

    // The host-side source (eth_tx_port source 1).
    input  logic         h_valid,
    output logic         h_ready,
    input  logic [511:0] h_data,
    input  logic [15:0]  h_len,
    input  logic         h_last,

    // Counters.
    output logic [31:0]  rx_packets,
    output logic [31:0]  rx_bytes,
    output logic [31:0]  rx_dropped_full,
    output logic [31:0]  rx_errors,
    output logic [31:0]  rx_runts,
    output logic [31:0]  rx_oversize,
    output logic [31:0]  tx_packets,
    output logic [31:0]  tx_bytes,
    output logic [31:0]  tx_dropped,

    output logic         busy
);
    logic         l_valid, l_ready, l_first, l_last, rx_busy, tx_busy;
    logic [511:0] l_data, l_swapped;
    logic [15:0]  l_len;

    eth_rx_port #(
        .DEPTH  (DEPTH),
        .MAX_LEN(MAX_LEN)
    ) rx (
        .clk             (clk),
        .rst             (rst),
        .s_axis_tvalid   (rx_axis_tvalid),
        .s_axis_tdata    (rx_axis_tdata),
        .s_axis_tkeep    (rx_axis_tkeep),
        .s_axis_tlast    (rx_axis_tlast),
        .s_axis_tuser    (rx_axis_tuser),
        .m_valid         (l_valid),
        .m_ready         (l_ready),
        .m_data          (l_data),
        .m_len           (l_len),
        .m_first         (l_first),
        .m_last          (l_last),
        .rx_packets      (rx_packets),
        .rx_bytes        (rx_bytes),
        .rx_dropped_full (rx_dropped_full),
        .rx_errors       (rx_errors),
        .rx_runts        (rx_runts),
        .rx_oversize     (rx_oversize),
        .busy            (rx_busy)
    );

    // Bytes 0-5 are the destination, 6-11 the source.
    assign l_swapped = (SWAP_MACS && l_first)
        ? {l_data[511:96], l_data[47:0], l_data[95:48]} : l_data;

    logic [1:0] s_ready;
    logic [$clog2(DEPTH):0] free_beats;

    eth_tx_port #(
        .NSRC   (2),
        .DEPTH  (DEPTH),
        .MAX_LEN(MAX_LEN)
    ) tx (
        .clk           (clk),
        .rst           (rst),
        .s_valid       ({h_valid, l_valid}),
        .s_ready       (s_ready),
        .s_data        ({h_data, l_swapped}),
        .s_len         ({h_len, l_len}),
        .s_last        ({h_last, l_last}),
        .m_axis_tvalid (tx_axis_tvalid),
        .m_axis_tready (tx_axis_tready),
        .m_axis_tdata  (tx_axis_tdata),
        .m_axis_tkeep  (tx_axis_tkeep),
        .m_axis_tlast  (tx_axis_tlast),
        .m_axis_tuser  (tx_axis_tuser),
        .free_beats    (free_beats),
        .tx_packets    (tx_packets),
        .tx_bytes      (tx_bytes),
        .tx_dropped    (tx_dropped),
        .busy          (tx_busy)
    );
    assign l_ready = s_ready[0];
    assign h_ready = s_ready[1];

    assign busy = rx_busy || tx_busy;

    logic unused;
    assign unused = ^free_beats;
endmodule
