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
// every beat of a frame). The data memory is read one cycle ahead into a
// two-entry output queue, so `rd_valid`, `rd_data`, `rd_len`, `rd_first` and
// `rd_last` are registers and a steady `rd_ready` takes a beat per cycle.
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
    // A memory read issued last cycle, and what goes with its beat.
    logic              mv;
    logic [511:0]      m_data;
    logic [LEN_W-1:0]  m_len;
    logic              m_first, m_last;
    // The output queue.
    logic [511:0]      q_data  [2];
    logic [LEN_W-1:0]  q_len   [2];
    logic              q_first [2];
    logic              q_last  [2];
    logic [1:0]        q_n;

    logic pop, issue, take, len_rd;
    assign pop    = rd_valid && rd_ready;
    // Room for the beat read now when it lands next cycle.
    assign issue  = (cur_active || nxt_valid)
                 && ({1'b0, q_n} + {2'b0, mv} <= 3'd1 + {2'b0, pop});
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
            mv         <= 1'b0;
        end else begin
            if (len_rd) begin
                nxt_valid <= 1'b1;
                lq_rd     <= lq_rd + (AW + 1)'(1);
            end else if (take) begin
                nxt_valid <= 1'b0;
            end
            mv <= issue;
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
    end

    // The output queue: entry 0 is the head; a landing beat goes behind
    // what stays.
    logic [1:0] q_stay;
    assign q_stay = q_n - {1'b0, pop};
    always_ff @(posedge clk) begin
        if (rst) begin
            q_n <= '0;
        end else begin
            q_n <= q_stay + {1'b0, mv};
        end
        if (pop) begin
            q_data[0]  <= q_data[1];
            q_len[0]   <= q_len[1];
            q_first[0] <= q_first[1];
            q_last[0]  <= q_last[1];
        end
        if (mv) begin
            q_data[q_stay[0]]  <= m_data;
            q_len[q_stay[0]]   <= m_len;
            q_first[q_stay[0]] <= m_first;
            q_last[q_stay[0]]  <= m_last;
        end
    end

    assign rd_valid = q_n != 2'd0;
    assign rd_data  = q_data[0];
    assign rd_len   = q_len[0];
    assign rd_first = q_first[0];
    assign rd_last  = q_last[0];

    assign busy = wr_ptr != rd_ptr || nxt_valid || lq_wr != lq_rd || mv || q_n != 2'd0;
endmodule
