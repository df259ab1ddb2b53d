// Queue of resolved learn writes (row, way, entry) in front of the MAC
// table's single write port. Writes drain whenever the port is free; a
// write to a (row, way) already queued replaces the queued data (merge);
// a write that finds the queue full is dropped and reported (overflow).
// Every slot, and the write retired in the previous cycle, are visible to
// the table's bypass, so lookups see learns that are not in memory yet.
module learn_queue #(
    // Row index width: log2(rows).
    parameter int ROW_W   = 10,
    // Way index width: max(1, log2(ways)).
    parameter int WAY_W   = 1,
    // Stored entry width: valid + port + MAC.
    parameter int ENTRY_W = 57,
    // Number of slots (a power of two).
    parameter int DEPTH   = 8
) (
    input  logic                       clk,
    input  logic                       rst,
    // Drops every queued write and the history (a flush starts).
    input  logic                       clear,

    // Enqueue side: one resolved write per cycle, no back-pressure.
    input  logic                       enq_valid,
    input  logic [ROW_W-1:0]           enq_row,
    input  logic [WAY_W-1:0]           enq_way,
    input  logic [ENTRY_W-1:0]         enq_entry,
    // Pulses when an enqueue found the queue full and was dropped.
    output logic                       overflow,

    // Write port side: the head, taken when wr_ready is high.
    output logic                       wr_valid,
    input  logic                       wr_ready,
    output logic [ROW_W-1:0]           wr_row,
    output logic [WAY_W-1:0]           wr_way,
    output logic [ENTRY_W-1:0]         wr_entry,

    // Bypass view: every slot, and the write retired last cycle.
    output logic [DEPTH-1:0]           slot_valid,
    output logic [DEPTH*ROW_W-1:0]     slot_row,
    output logic [DEPTH*WAY_W-1:0]     slot_way,
    output logic [DEPTH*ENTRY_W-1:0]   slot_entry,
    output logic                       hist_valid,
    output logic [ROW_W-1:0]           hist_row,
    output logic [WAY_W-1:0]           hist_way,
    output logic [ENTRY_W-1:0]         hist_entry,
    // Number of occupied slots.
    output logic [$clog2(DEPTH+1)-1:0] count
);
    localparam int PTR_W = $clog2(DEPTH);

    logic [ROW_W-1:0]   rows    [DEPTH];
    logic [WAY_W-1:0]   ways    [DEPTH];
    logic [ENTRY_W-1:0] entries [DEPTH];
    logic [DEPTH-1:0]   occupied;
    logic [PTR_W-1:0]   head, tail;

    logic             pop;
    logic             merge_hit;
    logic [PTR_W-1:0] merge_slot;

    assign pop      = wr_valid && wr_ready;
    assign wr_valid = occupied[head];
    assign wr_row   = rows[head];
    assign wr_way   = ways[head];
    assign wr_entry = entries[head];

    // A queued write to the same (row, way) takes the new data, unless it is
    // the head leaving this cycle (its old data is being written).
    always_comb begin
        merge_hit  = 1'b0;
        merge_slot = '0;
        for (int i = 0; i < DEPTH; i++) begin
            if (occupied[i] && rows[i] == enq_row && ways[i] == enq_way
                && !(pop && PTR_W'(i) == head)) begin
                merge_hit  = 1'b1;
                merge_slot = PTR_W'(i);
            end
        end
    end

    always_comb begin
        for (int i = 0; i < DEPTH; i++) begin
            slot_row[i*ROW_W +: ROW_W]         = rows[i];
            slot_way[i*WAY_W +: WAY_W]         = ways[i];
            slot_entry[i*ENTRY_W +: ENTRY_W]   = entries[i];
        end
        slot_valid = occupied;
        count = '0;
        for (int i = 0; i < DEPTH; i++) begin
            count = count + {{($clog2(DEPTH+1)-1){1'b0}}, occupied[i]};
        end
    end

    logic full_after_pop;
    assign full_after_pop = occupied[tail] && !(pop && tail == head);

    always_ff @(posedge clk) begin
        if (rst || clear) begin
            occupied   <= '0;
            head       <= '0;
            tail       <= '0;
            overflow   <= 1'b0;
            hist_valid <= 1'b0;
            hist_row   <= '0;
            hist_way   <= '0;
            hist_entry <= '0;
        end else begin
            overflow   <= 1'b0;
            hist_valid <= pop;
            hist_row   <= wr_row;
            hist_way   <= wr_way;
            hist_entry <= wr_entry;
            if (pop) begin
                occupied[head] <= 1'b0;
                head <= head + 1'b1;
            end
            if (enq_valid) begin
                if (merge_hit) begin
                    entries[merge_slot] <= enq_entry;
                end else if (full_after_pop) begin
                    overflow <= 1'b1;
                end else begin
                    occupied[tail] <= 1'b1;
                    rows[tail]     <= enq_row;
                    ways[tail]     <= enq_way;
                    entries[tail]  <= enq_entry;
                    tail <= tail + 1'b1;
                end
            end
        end
    end
endmodule
