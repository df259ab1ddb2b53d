// The VALE learning table and its lookup pipeline.
//
// One frame per clock: learn the source, then look up the destination,
// decided exactly as vale-offload's LearningTable::forward (the golden
// model). Fixed latency of LATENCY cycles from req to res. Learning never
// stalls lookups: resolved writes go through learn_queue and a bypass makes
// them visible at once (docs/mac-table.md).
//
// Forgetting a port (its entries miss from the next frame on, the other
// ports' stay) is one cycle: every entry carries the generation of its port
// at learn time and counts only while that equals the port's current one;
// forget increments the port's generation. A generation that wraps starts a
// full flush, so an entry 256 forgets old cannot revive.
//
// Pipeline (LATENCY = 6 clock edges from request to result):
//   edges 0-2  the two hash units (source, destination), three stages each
//   edge 3     row addresses to both memory read ports
//   cycle 4    learn stage: memory rows + bypass -> learn write (queued)
//   cycle 5    lookup stage: destination row + own learn -> decision
//   edge 5     result registered on res_*
module mac_table #(
    // Number of rows, a power of two (netmap: 1024).
    parameter int ROWS        = 1024,
    // Ways per row, a power of two (netmap: 1).
    parameter int WAYS        = 1,
    // Learn queue slots, a power of two.
    parameter int QUEUE_DEPTH = 8,
    // Ports with a generation (forgettable one by one), at most 254; a
    // forget of a higher port flushes the whole table.
    parameter int NUM_PORTS   = 8,
    // Width of the request tag carried to the result untouched.
    parameter int TAG_W       = 16
) (
    input  logic             clk,
    input  logic             rst,

    // Lookup requests: one per clock, never back-pressured (req_ready = 1).
    input  logic             req_valid,
    output logic             req_ready,
    input  logic [47:0]      req_src_mac,
    input  logic [47:0]      req_dst_mac,
    input  logic [7:0]       req_src_port,
    // Learn the source of this frame (netmap's NS_NO_LEARN clear).
    input  logic             req_learn,
    input  logic [TAG_W-1:0] req_tag,

    // Results, in request order, LATENCY cycles after the request.
    output logic             res_valid,
    // Destination port, 254 = flood, 255 = drop.
    output logic [7:0]       res_port,
    output logic             res_hit,
    // Learn code: 0 skipped, 1 refreshed, 2 inserted, 3 moved, 4 evicted.
    output logic [2:0]       res_learn,
    output logic [TAG_W-1:0] res_tag,

    // Control: start a flush (one-cycle pulse); learning on/off.
    input  logic             flush,
    input  logic             learn_enable,
    // Forget every entry of forget_port (one-cycle pulse).
    input  logic             forget,
    input  logic [7:0]       forget_port,
    // A flush sweep is running.
    output logic             flush_busy,
    // Learn writes are waiting in the queue.
    output logic             queue_busy,

    // Table readback: raw entry at index row * WAYS + way.
    input  logic             rb_req,
    input  logic [31:0]      rb_index,
    output logic             rb_valid,
    output logic [63:0]      rb_entry,

    // Event pulses for the switch counters.
    output logic             ev_hit,
    output logic             ev_miss,
    output logic             ev_learn,
    output logic             ev_flood,
    output logic             ev_drop,
    output logic             ev_overflow
);
    localparam int ROW_W   = $clog2(ROWS);
    localparam int WAY_W   = (WAYS > 1) ? $clog2(WAYS) : 1;
    localparam int GEN_W   = 8;
    // {valid, port[7:0], mac[47:0]}: an entry once its generation is checked.
    localparam int LIVE_W  = 57;
    // As stored: {generation, valid, port[7:0], mac[47:0]}.
    localparam int ENTRY_W = LIVE_W + GEN_W;
    localparam int GENS_W  = NUM_PORTS * GEN_W;
    // PORT_FLOOD, PORT_DROP, MAX_PORTS, the readback entry's layout.
    /* verilator lint_off UNUSEDPARAM */
    `include "contract.svh"
    /* verilator lint_on UNUSEDPARAM */
    localparam logic [2:0] LEARN_SKIPPED   = 3'd0;
    localparam logic [2:0] LEARN_REFRESHED = 3'd1;
    localparam logic [2:0] LEARN_INSERTED  = 3'd2;
    localparam logic [2:0] LEARN_MOVED     = 3'd3;
    localparam logic [2:0] LEARN_EVICTED   = 3'd4;

    assign req_ready = 1'b1;

    // ---- per-port generations ----
    // gens[p] is port p's generation; ports >= NUM_PORTS have none (0).
    logic [GENS_W-1:0] gens;

    function automatic logic [GEN_W-1:0] gen_of(
        input logic [7:0]        port,
        input logic [GENS_W-1:0] all
    );
        gen_of = '0;
        for (int p = 0; p < NUM_PORTS; p++) begin
            if (port == 8'(p)) begin
                gen_of = all[p*GEN_W +: GEN_W];
            end
        end
    endfunction

    // An entry counts if valid and learned in its port's current
    // generation; else it reads as empty.
    function automatic logic [LIVE_W-1:0] live(
        input logic [ENTRY_W-1:0] entry,
        input logic [GENS_W-1:0]  all
    );
        live = (entry[56] && entry[ENTRY_W-1 -: GEN_W] == gen_of(entry[55:48], all))
             ? entry[LIVE_W-1:0] : '0;
    endfunction

    // A forget that wraps its port's generation, or names a port without
    // one, flushes instead (docs/mac-table.md); 254 and 255 are never in
    // the table, so forgetting them does nothing.
    logic forget_flush, flush_now;
    always_comb begin
        forget_flush = 1'b0;
        if (forget && forget_port < MAX_PORTS) begin
            forget_flush = forget_port >= 8'(NUM_PORTS)
                        || gen_of(forget_port, gens) == '1;
        end
        flush_now = flush || forget_flush;
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            gens <= '0;
        end else if (forget) begin
            for (int p = 0; p < NUM_PORTS; p++) begin
                if (forget_port == 8'(p)) begin
                    gens[p*GEN_W +: GEN_W] <= gens[p*GEN_W +: GEN_W] + 1'b1;
                end
            end
        end
    end

    // ---- cycles 0-2: hashes, request fields delayed alongside ----
    localparam int HASH_LATENCY = 3;  // mac_hash's registered stages
    localparam int FIELDS_W = 1 + 8 + 48 + 48 + TAG_W;

    logic             h_valid, h_dst_valid;
    logic [31:0]      h_src_hash;
    // The destination needs only its row bits.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0]      h_dst_hash;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [47:0]      h_src_mac, h_dst_mac;
    logic [7:0]       h_src_port;
    logic             h_learn;
    logic [TAG_W-1:0] h_tag;
    logic [HASH_LATENCY*FIELDS_W-1:0] fields_delay;

    mac_hash src_hash (
        .clk, .rst,
        .in_valid(req_valid), .in_mac(req_src_mac),
        .out_valid(h_valid), .out_hash(h_src_hash)
    );
    mac_hash dst_hash (
        .clk, .rst,
        .in_valid(req_valid), .in_mac(req_dst_mac),
        .out_valid(h_dst_valid), .out_hash(h_dst_hash)
    );

    always_ff @(posedge clk) begin
        fields_delay <= {
            fields_delay[(HASH_LATENCY-1)*FIELDS_W-1:0],
            req_learn && learn_enable, req_src_port, req_dst_mac, req_src_mac, req_tag
        };
    end
    assign {h_learn, h_src_port, h_dst_mac, h_src_mac, h_tag} =
        fields_delay[HASH_LATENCY*FIELDS_W-1 -: FIELDS_W];

    // ---- cycle 1 -> 2: memory read, request fields delayed ----
    logic             m_valid;
    logic [31:0]      m_src_hash;
    logic [ROW_W-1:0] m_src_row, m_dst_row;
    logic [47:0]      m_src_mac, m_dst_mac;
    logic [7:0]       m_src_port;
    logic             m_learn;
    logic [TAG_W-1:0] m_tag;
    // The rows read are logically empty (a flush started or is sweeping).
    logic             m_empty;

    logic             sweep_active;
    logic [ROW_W-1:0] sweep_row;

    // The source read port also serves readback when no frame needs it.
    logic             rb_pending;
    // Indexes beyond the table wrap (the upper bits are ignored).
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0]      rb_index_q;
    /* verilator lint_on UNUSEDSIGNAL */
    logic             rb_issue, rb_issued;
    assign rb_issue = rb_pending && !h_valid;

    logic [ROW_W-1:0] src_read_row;
    assign src_read_row = !rb_issue ? h_src_hash[ROW_W-1:0]
                        : (WAYS > 1) ? rb_index_q[WAY_W +: ROW_W] : rb_index_q[ROW_W-1:0];

    always_ff @(posedge clk) begin
        if (rst) begin
            m_valid <= 1'b0;
        end else begin
            m_valid <= h_valid && h_dst_valid;
        end
        m_src_hash <= h_src_hash;
        m_src_row  <= h_src_hash[ROW_W-1:0];
        m_dst_row  <= h_dst_hash[ROW_W-1:0];
        m_src_mac  <= h_src_mac;
        m_dst_mac  <= h_dst_mac;
        m_src_port <= h_src_port;
        m_learn    <= h_learn;
        m_tag      <= h_tag;
        m_empty    <= sweep_active || flush_now;
    end

    // ---- table memory: one array per way, two read ports, one write port ----
    logic [ENTRY_W-1:0] src_read [WAYS];
    logic [ENTRY_W-1:0] dst_read [WAYS];
    logic               mem_we;
    logic [ROW_W-1:0]   mem_wrow;
    logic [WAYS-1:0]    mem_wway;
    logic [ENTRY_W-1:0] mem_wdata;

    for (genvar w = 0; w < WAYS; w++) begin : g_way
        logic [ENTRY_W-1:0] mem [ROWS];
        always_ff @(posedge clk) begin
            if (mem_we && mem_wway[w]) begin
                mem[mem_wrow] <= mem_wdata;
            end
            src_read[w] <= mem[src_read_row];
            dst_read[w] <= mem[h_dst_hash[ROW_W-1:0]];
        end
    end

    // ---- learn queue and write-port arbitration (the sweep goes first) ----
    logic                     q_enq_valid;
    logic [ROW_W-1:0]         q_enq_row;
    logic [WAY_W-1:0]         q_enq_way;
    logic [ENTRY_W-1:0]       q_enq_entry;
    logic                     q_overflow;
    logic                     q_wr_valid;
    logic [ROW_W-1:0]         q_wr_row;
    logic [WAY_W-1:0]         q_wr_way;
    logic [ENTRY_W-1:0]       q_wr_entry;
    logic [QUEUE_DEPTH-1:0]   q_slot_valid;
    logic [QUEUE_DEPTH*ROW_W-1:0]   q_slot_row;
    logic [QUEUE_DEPTH*WAY_W-1:0]   q_slot_way;
    logic [QUEUE_DEPTH*ENTRY_W-1:0] q_slot_entry;
    logic                     q_hist_valid;
    logic [ROW_W-1:0]         q_hist_row;
    logic [WAY_W-1:0]         q_hist_way;
    logic [ENTRY_W-1:0]       q_hist_entry;
    logic [$clog2(QUEUE_DEPTH+1)-1:0] q_count;

    learn_queue #(
        .ROW_W(ROW_W), .WAY_W(WAY_W), .ENTRY_W(ENTRY_W), .DEPTH(QUEUE_DEPTH)
    ) queue (
        .clk, .rst,
        .clear(flush_now),
        .enq_valid(q_enq_valid), .enq_row(q_enq_row), .enq_way(q_enq_way),
        .enq_entry(q_enq_entry), .overflow(q_overflow),
        .wr_valid(q_wr_valid), .wr_ready(!sweep_active),
        .wr_row(q_wr_row), .wr_way(q_wr_way), .wr_entry(q_wr_entry),
        .slot_valid(q_slot_valid), .slot_row(q_slot_row), .slot_way(q_slot_way),
        .slot_entry(q_slot_entry),
        .hist_valid(q_hist_valid), .hist_row(q_hist_row), .hist_way(q_hist_way),
        .hist_entry(q_hist_entry),
        .count(q_count)
    );

    always_comb begin
        if (sweep_active) begin
            mem_we    = 1'b1;
            mem_wrow  = sweep_row;
            mem_wway  = '1;
            mem_wdata = '0;
        end else begin
            mem_we    = q_wr_valid;
            mem_wrow  = q_wr_row;
            mem_wway  = WAYS'(1) << q_wr_way;
            mem_wdata = q_wr_entry;
        end
    end

    // Flush: a sweep clears one row per cycle; reset starts one too.
    always_ff @(posedge clk) begin
        if (rst || flush_now) begin
            sweep_active <= 1'b1;
            sweep_row    <= '0;
        end else if (sweep_active) begin
            sweep_row <= sweep_row + 1'b1;
            if (sweep_row == ROW_W'(ROWS - 1)) begin
                sweep_active <= 1'b0;
            end
        end
    end
    assign flush_busy = sweep_active;
    assign queue_busy = q_count != 0;

    // ---- cycle 4: the learn stage ----
    // Overlays queued and just-written learns on a row read from memory.
    function automatic logic [ENTRY_W-1:0] overlay(
        input logic [ENTRY_W-1:0] from_memory,
        input logic               empty,
        input logic [ROW_W-1:0]   row,
        input logic [WAY_W-1:0]   way,
        input logic                     hist_valid,
        input logic [ROW_W-1:0]         hist_row,
        input logic [WAY_W-1:0]         hist_way,
        input logic [ENTRY_W-1:0]       hist_entry,
        input logic [QUEUE_DEPTH-1:0]   slot_valid,
        input logic [QUEUE_DEPTH*ROW_W-1:0]   slot_row,
        input logic [QUEUE_DEPTH*WAY_W-1:0]   slot_way,
        input logic [QUEUE_DEPTH*ENTRY_W-1:0] slot_entry
    );
        logic [ENTRY_W-1:0] entry;
        entry = empty ? '0 : from_memory;
        if (hist_valid && hist_row == row && hist_way == way) begin
            entry = hist_entry;
        end
        // Queued (row, way) pairs are unique (merged), so order is moot.
        for (int i = 0; i < QUEUE_DEPTH; i++) begin
            if (slot_valid[i] && slot_row[i*ROW_W +: ROW_W] == row
                && slot_way[i*WAY_W +: WAY_W] == way) begin
                entry = slot_entry[i*ENTRY_W +: ENTRY_W];
            end
        end
        overlay = entry;
    endfunction

    logic [LIVE_W-1:0]  src_row_now [WAYS];
    logic [LIVE_W-1:0]  dst_row_now [WAYS];
    logic               learn_write;
    logic [WAY_W-1:0]   learn_way;
    logic [ENTRY_W-1:0] learn_entry;
    logic [2:0]         learn_code;
    logic [7:0]         decided_port;
    logic               decided_hit;

    always_comb begin
        logic             found, has_empty;
        logic [WAY_W-1:0] found_way, empty_way;
        logic [7:0]       found_port;

        // Entries of a forgotten generation read as empty, wherever they
        // are (memory, queue, last write): the generations now decide.
        for (int w = 0; w < WAYS; w++) begin
            src_row_now[w] = live(overlay(src_read[w], m_empty, m_src_row, WAY_W'(w),
                q_hist_valid, q_hist_row, q_hist_way, q_hist_entry,
                q_slot_valid, q_slot_row, q_slot_way, q_slot_entry), gens);
            dst_row_now[w] = live(overlay(dst_read[w], m_empty, m_dst_row, WAY_W'(w),
                q_hist_valid, q_hist_row, q_hist_way, q_hist_entry,
                q_slot_valid, q_slot_row, q_slot_way, q_slot_entry), gens);
        end

        // Learn the source: same MAC, else the lowest empty way, else victim.
        found = 1'b0;
        found_way = '0;
        found_port = '0;
        has_empty = 1'b0;
        empty_way = '0;
        for (int w = WAYS - 1; w >= 0; w--) begin
            if (src_row_now[w][56] && src_row_now[w][47:0] == m_src_mac) begin
                found = 1'b1;
                found_way = WAY_W'(w);
                found_port = src_row_now[w][55:48];
            end
            if (!src_row_now[w][56]) begin
                has_empty = 1'b1;
                empty_way = WAY_W'(w);
            end
        end
        // Stamped with the port's generation now: a forget in this very
        // cycle comes after this frame, so it forgets this learn too.
        learn_entry = {gen_of(m_src_port, gens), 1'b1, m_src_port, m_src_mac};
        learn_write = 1'b0;
        learn_way = '0;
        if (!m_learn || m_src_mac[0] || m_src_port >= MAX_PORTS) begin
            learn_code = LEARN_SKIPPED;
        end else if (found && found_port == m_src_port) begin
            learn_code = LEARN_REFRESHED;
        end else if (found) begin
            learn_code = LEARN_MOVED;
            learn_write = 1'b1;
            learn_way = found_way;
        end else if (has_empty) begin
            learn_code = LEARN_INSERTED;
            learn_write = 1'b1;
            learn_way = empty_way;
        end else begin
            learn_code = LEARN_EVICTED;
            learn_write = 1'b1;
            learn_way = (WAYS > 1) ? WAY_W'(m_src_hash >> ROW_W) : '0;
        end

    end

    // The learn enters the queue at once: the next frame's learn stage
    // sees it through the bypass.
    assign q_enq_valid = m_valid && learn_write;
    assign q_enq_row   = m_src_row;
    assign q_enq_way   = learn_way;
    assign q_enq_entry = learn_entry;

    // ---- edge 4 -> cycle 5: the lookup stage ----
    // The destination row as the learn stage saw it, plus this frame's own
    // learn (the only write the queue gained since).
    logic               l_valid;
    logic [LIVE_W-1:0]  l_dst_row [WAYS];
    logic               l_own_write;
    logic [WAY_W-1:0]   l_own_way;
    logic [LIVE_W-1:0]  l_own_entry;
    logic [2:0]         l_learn_code;
    logic [47:0]        l_dst_mac;
    logic [7:0]         l_src_port;
    logic [TAG_W-1:0]   l_tag;

    always_ff @(posedge clk) begin
        if (rst) begin
            l_valid <= 1'b0;
        end else begin
            l_valid <= m_valid;
        end
        for (int w = 0; w < WAYS; w++) begin
            l_dst_row[w] <= dst_row_now[w];
        end
        l_own_write  <= learn_write && m_dst_row == m_src_row;
        l_own_way    <= learn_way;
        l_own_entry  <= learn_entry[LIVE_W-1:0];
        l_learn_code <= learn_code;
        l_dst_mac    <= m_dst_mac;
        l_src_port   <= m_src_port;
        l_tag        <= m_tag;
    end

    always_comb begin
        logic [LIVE_W-1:0] entry;
        decided_hit = 1'b0;
        decided_port = PORT_FLOOD;
        for (int w = WAYS - 1; w >= 0; w--) begin
            entry = (l_own_write && l_own_way == WAY_W'(w)) ? l_own_entry : l_dst_row[w];
            if (!l_dst_mac[0] && entry[56] && entry[47:0] == l_dst_mac) begin
                decided_hit = 1'b1;
                decided_port = entry[55:48];
            end
        end
        if (decided_hit && decided_port == l_src_port) begin
            decided_port = PORT_DROP;
        end
    end

    // ---- edge 5: registered results and events ----
    always_ff @(posedge clk) begin
        if (rst) begin
            res_valid   <= 1'b0;
            ev_hit      <= 1'b0;
            ev_miss     <= 1'b0;
            ev_learn    <= 1'b0;
            ev_flood    <= 1'b0;
            ev_drop     <= 1'b0;
        end else begin
            res_valid   <= l_valid;
            ev_hit      <= l_valid && decided_hit;
            ev_miss     <= l_valid && !decided_hit && !l_dst_mac[0];
            ev_learn    <= l_valid && l_learn_code >= LEARN_INSERTED;
            ev_flood    <= l_valid && decided_port == PORT_FLOOD;
            ev_drop     <= l_valid && decided_port == PORT_DROP;
        end
        res_port  <= decided_port;
        res_hit   <= decided_hit;
        res_learn <= l_learn_code;
        res_tag   <= l_tag;
    end
    assign ev_overflow = q_overflow;

    // ---- readback: memory word, zero if flushing or of a forgotten generation ----
    logic [ENTRY_W-1:0] rb_stored;
    logic [LIVE_W-1:0]  rb_word;
    always_comb begin
        rb_stored = src_read[0];
        for (int w = 1; w < WAYS; w++) begin
            if (WAY_W'(w) == rb_index_q[WAY_W-1:0]) begin
                rb_stored = src_read[w];
            end
        end
        rb_word = live(rb_stored, gens);
        if (m_empty) begin
            rb_word = '0;
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            rb_pending <= 1'b0;
            rb_issued  <= 1'b0;
            rb_valid   <= 1'b0;
            rb_index_q <= '0;
            rb_entry   <= '0;
        end else begin
            rb_issued <= rb_issue;
            rb_valid  <= rb_issued;
            if (rb_req) begin
                rb_pending <= 1'b1;
                rb_index_q <= rb_index;
            end else if (rb_issue) begin
                rb_pending <= 1'b0;
            end
            if (rb_issued) begin
                rb_entry <= '0;
                rb_entry[ENTRY_VALID_BIT]       <= rb_word[56];
                rb_entry[ENTRY_PORT_SHIFT +: 8] <= rb_word[55:48];
                rb_entry[47:0]                  <= rb_word[47:0];
            end
        end
    end
endmodule
