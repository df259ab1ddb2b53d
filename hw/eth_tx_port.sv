// An Ethernet port's transmit side: frames from several sources (frames
// the switch sends out of this wire, frames from the port's host TX
// rings, ...) through a round-robin arbiter, a store-and-forward FIFO in
// block RAM, and out to the MAC's TX user interface.
//
// Sources: valid/ready streams of 64-byte beats with the frame's length on
// every beat (eth_rx_port's output format). The arbiter takes one whole
// frame at a time, never interleaving two; at a frame's start it picks the
// next source after the last one served that has a frame, and starts it
// only when the whole frame fits in the FIFO (len <= 64 x free beats), so
// a source, once started, is never stalled inside a frame, and a slow MAC
// back-pressures the sources at frame starts, not the MAC. A source that
// needs to know before it offers (the switch, which drops rather than
// waits, as VALE does) reads `free_beats`. A frame of length 0 or over
// MAX_LEN could never be sent: it is taken and dropped (tx_dropped).
//
// MAC side: a 512-bit AXI-Stream with tready, which the MAC may drop at
// any beat; a frame starts only when it is whole in the FIFO, so no beat of
// it is ever missing once it started (a 100G MAC aborts a frame whose next
// beat is late). Frames shorter than MIN_LEN are padded with zeros to
// MIN_LEN (a 100G MAC such as CMAC adds the FCS but does not pad). The
// counters count frames and bytes as the sources gave them (before
// padding), at the MAC's acceptance of the last beat, wrapping at 32 bits.
module eth_tx_port #(
    // Sources (at least 1).
    parameter int NSRC    = 2,
    // FIFO beats of 64 bytes (a power of two); at least MAX_LEN / 64 + 1.
    parameter int DEPTH   = 512,
    // Longest frame sent, bytes without FCS.
    parameter int MAX_LEN = 1518,
    // Frames shorter than this are padded to it (60: the minimum frame
    // without FCS; 1 turns padding off; at most 64).
    parameter int MIN_LEN = 60
) (
    input  logic                  clk,
    input  logic                  rst,

    // Sources: source i's beat in bits [512 i +: 512], its length in
    // [16 i +: 16].
    input  logic [NSRC-1:0]       s_valid,
    output logic [NSRC-1:0]       s_ready,
    input  logic [NSRC*512-1:0]   s_data,
    input  logic [NSRC*16-1:0]    s_len,
    input  logic [NSRC-1:0]       s_last,

    // MAC TX user side.
    output logic                  m_axis_tvalid,
    input  logic                  m_axis_tready,
    output logic [511:0]          m_axis_tdata,
    output logic [63:0]           m_axis_tkeep,
    output logic                  m_axis_tlast,
    output logic                  m_axis_tuser,

    // Beats a new frame may take now (registered: the FIFO's free beats
    // of the last cycle, less the one beat that cycle may have written).
    output logic [$clog2(DEPTH):0] free_beats,

    // Counters (wrap at 32 bits).
    output logic [31:0]           tx_packets,
    output logic [31:0]           tx_bytes,
    output logic [31:0]           tx_dropped,

    // A frame is inside (the wire's simulation clocks while this is high).
    output logic                  busy
);
    localparam int SW = NSRC > 1 ? $clog2(NSRC) : 1;

    // ---- arbiter ----
    logic          active;   // a frame of source `cur` is being taken
    logic [SW-1:0] cur;
    logic          dropping; // ... and dropped
    logic [SW-1:0] last_src; // the source served last

    // The next source after last_src with a frame.
    logic          pick_v;
    logic [SW-1:0] pick;
    always_comb begin
        pick_v = 1'b0;
        pick   = '0;
        for (int k = 1; k <= NSRC; k++) begin
            if (!pick_v && s_valid[(32'(last_src) + k) % NSRC]) begin
                pick_v = 1'b1;
                pick   = SW'((32'(last_src) + k) % NSRC);
            end
        end
    end

    logic [SW-1:0] src;
    assign src = active ? cur : pick;
    logic [15:0] len;
    assign len = s_len[16 * 32'(src) +: 16];

    // Per source, in parallel (the pick only selects a bit): its frame
    // can be sent at all, and fits now.
    logic [NSRC-1:0] src_ok, src_fits;
    always_comb begin
        for (int i = 0; i < NSRC; i++) begin
            src_ok[i]   = s_len[16 * i +: 16] != 16'd0
                       && 32'(s_len[16 * i +: 16]) <= 32'(MAX_LEN);
            src_fits[i] = 32'(s_len[16 * i +: 16]) <= 32'({free_beats, 6'd0});
        end
    end

    logic len_ok, fits, start, take;
    assign len_ok = src_ok[src];
    assign fits   = src_fits[src];

    // free_beats is registered, so the FIFO's pointer arithmetic is off
    // the arbiter's path. It lags a cycle: the beat written in the last
    // cycle (at most one) is not in it, so it counts one beat less; the
    // beats read meanwhile only make it smaller than the truth.
    logic [$clog2(DEPTH):0] f_free;
    always_ff @(posedge clk) begin
        if (rst) begin
            free_beats <= '0;
        end else begin
            free_beats <= f_free == '0 ? '0 : f_free - 1'b1;
        end
    end
    assign start  = !active && pick_v && (fits || !len_ok);
    // A beat of `src` is taken this cycle.
    assign take   = active ? s_valid[cur] : start;

    always_comb begin
        s_ready = '0;
        if (active || start) s_ready[src] = 1'b1;
    end

    logic beat_drop;
    assign beat_drop = active ? dropping : !len_ok;
    logic s_last_src;
    assign s_last_src = s_last[src];

    always_ff @(posedge clk) begin
        if (rst) begin
            active     <= 1'b0;
            cur        <= '0;
            dropping   <= 1'b0;
            last_src   <= SW'(NSRC - 1);
            tx_dropped <= '0;
        end else if (take) begin
            if (s_last_src) begin
                active   <= 1'b0;
                last_src <= src;
                if (beat_drop) tx_dropped <= tx_dropped + 32'd1;
            end else begin
                active   <= 1'b1;
                cur      <= src;
                dropping <= beat_drop;
            end
        end
    end

    // ---- FIFO ----
    logic         f_valid, f_ready, f_first, f_last, f_full, f_lost, f_commit, f_busy;
    logic [511:0] f_data;
    logic [15:0]  f_len;

    eth_frame_fifo #(
        .DEPTH(DEPTH),
        .LEN_W(16)
    ) fifo (
        .clk        (clk),
        .rst        (rst),
        .wr_valid   (take && !beat_drop),
        .wr_data    (s_data[512 * 32'(src) +: 512]),
        .wr_last    (s_last_src),
        .wr_drop    (1'b0),
        .wr_len     (len),
        .wr_full    (f_full),
        .wr_lost    (f_lost),
        .wr_commit  (f_commit),
        .free_beats (f_free),
        .rd_valid   (f_valid),
        .rd_ready   (f_ready),
        .rd_data    (f_data),
        .rd_len     (f_len),
        .rd_first   (f_first),
        .rd_last    (f_last),
        .busy       (f_busy)
    );

    // ---- MAC output register ----
    // Padding: a frame under MIN_LEN is one beat; its bytes from len on
    // become zeros and tkeep covers MIN_LEN.
    // (Each lane decides from a few shared bits: lane k is below the
    // last beat's byte count, the beat is partial, the frame is padded.)
    logic        pad, partial;
    logic [63:0] below, keep, byte_on;
    assign pad     = 32'(f_len) < 32'(MIN_LEN);
    assign partial = f_last && f_len[5:0] != 6'd0;
    always_comb begin
        for (int k = 0; k < 64; k++) begin
            below[k]   = 6'(k) < f_len[5:0];
            keep[k]    = pad ? 32'(k) < 32'(MIN_LEN) : (!partial || below[k]);
            byte_on[k] = !pad || below[k];
        end
    end

    logic [15:0] out_len;
    assign f_ready = !m_axis_tvalid || m_axis_tready;

    always_ff @(posedge clk) begin
        if (rst) begin
            m_axis_tvalid <= 1'b0;
            tx_packets    <= '0;
            tx_bytes      <= '0;
        end else begin
            if (f_ready) m_axis_tvalid <= f_valid;
            if (m_axis_tvalid && m_axis_tready && m_axis_tlast) begin
                tx_packets <= tx_packets + 32'd1;
                tx_bytes   <= tx_bytes + {16'd0, out_len};
            end
        end
        if (f_ready && f_valid) begin
            for (int k = 0; k < 64; k++) begin
                m_axis_tdata[8 * k +: 8] <= byte_on[k] ? f_data[8 * k +: 8] : 8'd0;
            end
            m_axis_tkeep <= keep;
            m_axis_tlast <= f_last;
            out_len      <= f_len;
        end
    end
    assign m_axis_tuser = 1'b0;

    assign busy = active || f_busy || m_axis_tvalid;

    // The arbiter checks room before it starts a frame: the FIFO never
    // loses one. f_first is implied by the arbiter's order.
    logic unused;
    assign unused = ^{f_full, f_lost, f_commit, f_first};
endmodule
