// A store-and-forward frame FIFO in block RAM, shared by the Ethernet
// ports (eth_rx_port, eth_tx_port).
//
// Write side: the beats of one frame at a time (64 bytes each). A frame
// becomes visible to the read side only at its last beat, and only if the
// writer did not drop it (`wr_drop`) and every one of its beats found room;
// otherwise every beat written since the last commit is forgotten (the
// write pointer goes back), so the read side never sees part of a frame.
// A beat that finds the FIFO full is not written and the frame is marked
// lost; `wr_lost` tells the writer at the last beat that the frame went for
// want of room.
//
// Read side: valid/ready, one beat per cycle, the frame's length (bytes)
// and its beat count known from the first beat on (`rd_len` is the same on
// every beat of a frame). The block RAM's own output register holds the
// beat read ahead, and one fabric register the beat offered, so
// `rd_valid`, `rd_data`, `rd_len`, `rd_first` and `rd_last` are registers
// and a steady `rd_ready` takes a beat per cycle; two beats wait outside
// the memory.
// The lengths wait in a queue of their own (as many entries as beats: a
// frame takes at least one beat), prefetched one frame ahead.
module eth_frame_fifo #(
    // Beats of 64 bytes the data memory holds (a power of two, >= 2).
    parameter int DEPTH = 512,
    // Bits of a frame length in bytes.
    parameter int LEN_W = 16
) (
    input  logic             clk,
    input  logic             rst,

    // Write side: one beat per cycle, no back-pressure (the writer checks
    // `wr_full` or `free_beats`).
    input  logic             wr_valid,
    input  logic [511:0]     wr_data,
    input  logic             wr_last,
    // At the last beat: forget the frame instead of committing it.
    input  logic             wr_drop,
    // At the last beat: the frame's length in bytes (1 .. 64 x its beats).
    input  logic [LEN_W-1:0] wr_len,
    // No room for a beat in this cycle.
    output logic             wr_full,
    // At a last beat: the frame is forgotten because a beat found no room
    // (whatever `wr_drop` says).
    output logic             wr_lost,
    // At a last beat: the frame is committed (readable from the next cycle).
    output logic             wr_commit,
    // Beats free now (registered pointers): a frame of L bytes fits
    // whole when L <= 64 x free_beats.
    output logic [$clog2(DEPTH):0] free_beats,

    // Read side.
    output logic             rd_valid,
    input  logic             rd_ready,
    output logic [511:0]     rd_data,
    output logic [LEN_W-1:0] rd_len,
    output logic             rd_first,
    output logic             rd_last,

    // A beat is inside (written, committed or not, queued, or on its way out).
    output logic             busy
);
    localparam int AW = $clog2(DEPTH);
    // A queued length: the frame's bytes and its beats.
    localparam int QW = LEN_W + AW + 1;

    logic [511:0] mem  [DEPTH];
    logic [QW-1:0] lmem [DEPTH];

    // Beats: written (wr_ptr), committed (cm_ptr), read out of memory (rd_ptr).
    logic [AW:0] wr_ptr, cm_ptr, rd_ptr;
    // Lengths: committed frames (lq_wr), prefetched (lq_rd).
    logic [AW:0] lq_wr, lq_rd;
    // The frame being written lost a beat.
    logic        lost;

    logic [AW:0] used;
    assign used       = wr_ptr - rd_ptr;
    assign free_beats = (AW + 1)'(DEPTH) - used;
    assign wr_full    = used[AW];

    logic we, last_beat;
    assign we        = wr_valid && !wr_full && !lost;
    assign last_beat = wr_valid && wr_last;
    assign wr_lost   = last_beat && (lost || wr_full);
    assign wr_commit = last_beat && !wr_drop && !lost && !wr_full;

    // Beats of the frame being written, this beat included.
    logic [AW:0] wr_beats;
    assign wr_beats = wr_ptr - cm_ptr + (AW + 1)'(1);

    always_ff @(posedge clk) begin
        if (we) mem[wr_ptr[AW-1:0]] <= wr_data;
        if (wr_commit) lmem[lq_wr[AW-1:0]] <= {wr_beats, wr_len};
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            wr_ptr <= '0;
            cm_ptr <= '0;
            lq_wr  <= '0;
            lost   <= 1'b0;
        end else if (last_beat) begin
            if (wr_commit) begin
                wr_ptr <= wr_ptr + (AW + 1)'(1);
                cm_ptr <= wr_ptr + (AW + 1)'(1);
                lq_wr  <= lq_wr + (AW + 1)'(1);
            end else begin
                wr_ptr <= cm_ptr;
            end
            lost <= 1'b0;
        end else if (wr_valid) begin
            if (we) wr_ptr <= wr_ptr + (AW + 1)'(1);
            if (wr_full) lost <= 1'b1;
        end
    end

    // ---- read side ----
    // The next frame's length, prefetched (the length memory's output register).
    logic              nxt_valid;
    logic [LEN_W-1:0]  nxt_len;
    logic [AW:0]       nxt_beats;
    // The frame being read out of memory: beats still to read.
    logic              cur_active;
    logic [AW:0]       cur_left;
    logic [LEN_W-1:0]  cur_len;
    // The data memory's output register (block RAM's own): a beat read out
    // of memory (lv), and what goes with it.
    logic              lv;
    logic [511:0]      m_data;
    logic [LEN_W-1:0]  m_len;
    logic              m_first, m_last;
    // The output register.
    logic              qv;
    logic [511:0]      q_data;
    logic [LEN_W-1:0]  q_len;
    logic              q_first, q_last;

    logic pop, move, issue, take, len_rd;
    assign pop    = qv && rd_ready;
    // The memory's output moves to the output register when that is free
    // or being read; a new beat is read when the memory's output is free
    // or moving.
    assign move   = lv && (!qv || pop);
    assign issue  = (cur_active || nxt_valid) && (!lv || move);
    assign take   = issue && !cur_active;
    assign len_rd = lq_wr != lq_rd && (!nxt_valid || take);

    always_ff @(posedge clk) begin
        if (len_rd) {nxt_beats, nxt_len} <= lmem[lq_rd[AW-1:0]];
        if (issue) m_data <= mem[rd_ptr[AW-1:0]];
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            nxt_valid  <= 1'b0;
            lq_rd      <= '0;
            cur_active <= 1'b0;
            rd_ptr     <= '0;
            lv         <= 1'b0;
            qv         <= 1'b0;
        end else begin
            if (len_rd) begin
                nxt_valid <= 1'b1;
                lq_rd     <= lq_rd + (AW + 1)'(1);
            end else if (take) begin
                nxt_valid <= 1'b0;
            end
            if (issue) begin
                lv <= 1'b1;
            end else if (move) begin
                lv <= 1'b0;
            end
            if (move) begin
                qv <= 1'b1;
            end else if (pop) begin
                qv <= 1'b0;
            end
            if (issue) begin
                rd_ptr <= rd_ptr + (AW + 1)'(1);
                if (take) begin
                    cur_active <= nxt_beats != (AW + 1)'(1);
                    cur_left   <= nxt_beats - (AW + 1)'(1);
                    cur_len    <= nxt_len;
                    m_len      <= nxt_len;
                    m_first    <= 1'b1;
                    m_last     <= nxt_beats == (AW + 1)'(1);
                end else begin
                    cur_active <= cur_left != (AW + 1)'(1);
                    cur_left   <= cur_left - (AW + 1)'(1);
                    m_len      <= cur_len;
                    m_first    <= 1'b0;
                    m_last     <= cur_left == (AW + 1)'(1);
                end
            end
        end
        if (move) begin
            q_data  <= m_data;
            q_len   <= m_len;
            q_first <= m_first;
            q_last  <= m_last;
        end
    end

    assign rd_valid = qv;
    assign rd_data  = q_data;
    assign rd_len   = q_len;
    assign rd_first = q_first;
    assign rd_last  = q_last;

    assign busy = wr_ptr != rd_ptr || nxt_valid || lq_wr != lq_rd || lv || qv;
endmodule
