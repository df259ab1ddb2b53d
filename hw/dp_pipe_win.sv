// The pipe crossover's window of RX buffers: the buffer indexes of the
// peer's free RX slots, read by DMA ahead of the run mover, deep enough
// to cover the read round trip (512 slots: 300 cycles at 1.7 slots a
// cycle), with up to eight reads of up to 64 slots in flight.
//
// Slots are numbered from the window's start (seq 0: the peer's hwtail
// then; the numbering runs on, modulo 2^16, over the jobs that keep the
// window); dp_pipe asks for reads in seq order (`push`: the next `push_n`
// slots, then `tag_valid` with the tag the request left with), and
// consumes in seq order (`cons`, the next seq it wants). The answers of
// different reads may come back in any order, each read's beats in order
// (four slots a beat, lane l at byte 16 * l); a beat whose tag is one of
// the window's is taken (`rsp_mine`). A slot is there once every read
// before its own is complete and its own beat arrived: `avail` counts
// them from `cons` (at most four), `bufs` holds them (lane j: cons + j).
// The host may not change a free slot, so an entry stays good until the
// mover takes it.
module dp_pipe_win (
    input  logic         clk,
    input  logic         rst,

    // The window starts over, empty (nothing may be in flight).
    input  logic         start,

    // Requests: the next push_n slots (from `issued`), then their tag.
    input  logic         push,
    input  logic [6:0]   push_n,
    input  logic         tag_valid,
    input  logic [7:0]   tag,
    output logic [15:0]  issued,   // the seq the next push starts at
    output logic         full,     // eight reads in flight: no push
    output logic         pending,  // reads in flight

    // Response beats (any stage's): the window's are taken.
    input  logic         rsp_valid,
    input  logic [7:0]   rsp_tag,
    input  logic [511:0] rsp_data,
    output logic         rsp_mine,

    // The mover's side.
    input  logic [15:0]  cons,
    output logic [2:0]   avail,
    output logic [4*32-1:0] bufs
);
    localparam int DEPTH = 512;
    localparam int RQ = 8;

    // Reads in flight, oldest first (a ring of RQ).
    logic [15:0] rq_seq  [RQ];
    logic [6:0]  rq_n    [RQ];
    logic [6:0]  rq_got  [RQ];  // slots arrived
    logic [7:0]  rq_tag  [RQ];
    logic [RQ-1:0] rq_tagged;
    logic [2:0]  rq_head, rq_tail;
    logic [3:0]  rq_cnt;
    assign full    = rq_cnt == 4'(RQ);
    assign pending = rq_cnt != 4'd0;

    // The read a beat answers.
    logic       hit;
    logic [2:0] hit_i;
    always_comb begin
        logic [2:0] age;  // entry i's place from the oldest (mod RQ)
        hit = 1'b0;
        hit_i = '0;
        for (int i = 0; i < RQ; i++) begin
            age = 3'(i) - rq_head;
            if (!hit && rq_tagged[i] && rq_tag[i] == rsp_tag && {1'b0, age} < rq_cnt) begin
                hit = 1'b1;
                hit_i = 3'(i);
            end
        end
    end
    assign rsp_mine = rsp_valid && hit;

    // The beat's slots: seq of its lane 0, how many.
    logic [15:0] beat_seq;
    logic [6:0]  beat_left;
    logic [2:0]  beat_n;
    assign beat_seq  = rq_seq[hit_i] + 16'(rq_got[hit_i]);
    assign beat_left = rq_n[hit_i] - rq_got[hit_i];
    assign beat_n    = (beat_left > 7'd4) ? 3'd4 : 3'(beat_left);

    // Everything before `frontier` is there.
    logic [15:0] frontier, ahead;
    assign frontier = (rq_cnt == 4'd0) ? issued : rq_seq[rq_head] + 16'(rq_got[rq_head]);
    assign ahead    = frontier - cons;
    assign avail    = (frontier == cons || ahead[15]) ? 3'd0
                    : (ahead > 16'd4) ? 3'd4 : 3'(ahead);

    // Four banks (seq mod 4), so a beat's four lanes and the mover's four
    // slots are one access per bank.
    localparam int BW = $clog2(DEPTH / 4);
    logic [31:0] rd [4];
    for (genvar b = 0; b < 4; b++) begin : g_bank
        logic [31:0] bank [DEPTH / 4];
        logic [1:0]  wl, rl;    // the beat's lane and the mover's lane for this bank
        /* verilator lint_off UNUSEDSIGNAL */
        logic [15:0] ws, rs;    // their seqs (bits 1..0 are b)
        /* verilator lint_on UNUSEDSIGNAL */
        assign wl = 2'(b) - beat_seq[1:0];
        assign ws = beat_seq + 16'(wl);
        assign rl = 2'(b) - cons[1:0];
        assign rs = cons + 16'(rl);
        always_ff @(posedge clk) begin
            if (rsp_mine && 3'(wl) < beat_n) bank[ws[BW+1:2]] <= rsp_data[128 * wl +: 32];
        end
        assign rd[b] = bank[rs[BW+1:2]];
    end
    for (genvar l = 0; l < 4; l++) begin : g_lane
        assign bufs[32 * l +: 32] = rd[cons[1:0] + 2'(l)];
    end

    // The newest read, waiting for its tag.
    logic [2:0] newest;
    assign newest = rq_tail - 3'd1;

    always_ff @(posedge clk) begin
        if (rst || start) begin
            rq_head <= '0; rq_tail <= '0; rq_cnt <= '0; rq_tagged <= '0;
            issued <= '0;
        end else begin
            logic pop;
            pop = rq_cnt != 4'd0 && rq_got[rq_head] == rq_n[rq_head];
            if (push) begin
                rq_seq[rq_tail]    <= issued;
                rq_n[rq_tail]      <= push_n;
                rq_got[rq_tail]    <= '0;
                rq_tagged[rq_tail] <= 1'b0;
                rq_tail <= rq_tail + 3'd1;
                issued  <= issued + 16'(push_n);
            end
            if (tag_valid) begin
                rq_tag[newest]    <= tag;
                rq_tagged[newest] <= 1'b1;
            end
            if (rsp_mine) rq_got[hit_i] <= rq_got[hit_i] + 7'(beat_n);
            if (pop) begin
                rq_tagged[rq_head] <= 1'b0;
                rq_head <= rq_head + 3'd1;
            end
            rq_cnt <= rq_cnt + 4'(push) - 4'(pop);
        end
    end
endmodule
