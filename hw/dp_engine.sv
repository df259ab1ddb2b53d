// The data path: the job controller and the stages it joins.
//
// On a doorbell, walks a TX ring in BAR2 and either forwards its frames
// through the VALE switch (copying payloads by DMA into the
// destinations' RX buffers in host memory) or moves its slot descriptors
// to the peer's RX ring (pipe crossover); then publishes progress in the
// status blocks (host memory) and raises a port's notification line when
// the host asked for one. docs/datapath.md describes the model; every
// rule is the software engine's (vale-offload forward.rs and pipe.rs),
// which the differential test holds it to.
//
// Stages (one module each; docs/datapath.md, "The data path"):
//   dp_sched     doorbells, round robin over rings with work, TX ring state
//   dp_tx_fetch  the next frame of a TX ring, from BAR2
//   dp_pay_fetch payloads of a VALE job's next frames, read ahead by DMA
//                (many reads in flight) into the packet buffer
//   dp_vale_fwd  drop checks, header read, MAC lookup, destination list
//   dp_deliver   one frame into one RX ring: room, slots, payload copy
//   dp_pipe      pipe crossover: descriptor moves, TX write-back
//   dp_status    status entries (hwcur/hwtail), need_kick, notify
//   dp_rx_rings  RX ring state and slot prefetch, shared by the above
// One job runs at a time, with one DMA read of the stages in flight
// (dp_pipe: its open's two and its window's, told apart by tag): their
// request registers are OR-ed here (only one is ever valid). A
// stage is started by a one-cycle request and answers with a one-cycle
// `done`. Two VALE stages overlap: dp_deliver copies frame N while
// dp_tx_fetch and dp_vale_fwd take frame N + 1 (dp_vale_fwd hands a
// destination over only while delivery is idle, and reads by DMA only
// then too); dp_tx_fetch has the BAR2 port first, and dp_deliver's counter
// events queue behind the others' (dp_ev_queue). Beside them
// dp_pay_fetch reads ahead in the cycles the stages leave the DMA read
// channel and the BAR2 port free; response beats go to it or to the
// stages by tag.
`include "nm_defines.svh"

module dp_engine #(
    // Port table entries.
    parameter int NUM_PORTS = 8,
    // Rings per direction per port served (at most 16).
    parameter int RINGS     = 4,
    // BAR2 size in bytes.
    parameter int BAR2_BYTES = 262144
) (
    input  logic        clk,
    input  logic        rst,

    // Port table (bar0_regs): enables and every entry's registers.
    input  logic [NUM_PORTS-1:0]                        port_enable,
    input  logic [NUM_PORTS*`NM_PORT_ENTRY_REGS*32-1:0] port_cfg,

    // Doorbells from bar0_regs.
    input  logic        db_valid,
    input  logic        db_rx,
    input  logic [7:0]  db_port,
    input  logic [3:0]  db_ring,
    input  logic [15:0] db_head,

    // BAR2 descriptor memory, device port (64-bit words, read latency 1).
    output logic                               desc_rd_en,
    output logic [$clog2(BAR2_BYTES / 8)-1:0]  desc_rd_word,
    input  logic [63:0]                        desc_rd_data,
    output logic                               desc_wr_en,
    output logic [$clog2(BAR2_BYTES / 8)-1:0]  desc_wr_word,
    output logic [63:0]                        desc_wr_data,
    // Its line port (four slots; dp_pipe's runs).
    output logic                               desc_line_en,
    output logic                               desc_line_we,
    output logic [$clog2(BAR2_BYTES / 64)-1:0] desc_line_row,
    output logic [3:0]                         desc_line_mask,
    output logic [511:0]                       desc_line_wdata,
    input  logic [511:0]                       desc_line_rdata,

    // Switch core: lookup requests (accepted when issued) and results.
    output logic        lk_valid,
    output logic [47:0] lk_src_mac,
    output logic [47:0] lk_dst_mac,
    output logic [7:0]  lk_src_port,
    output logic        lk_learn,
    input  logic        lk_res_valid,
    input  logic [7:0]  lk_res_port,

    // DMA read channel: requests, and response beats in order.
    output logic         dma_rd_req_valid,
    input  logic         dma_rd_req_ready,
    output logic [63:0]  dma_rd_req_addr,
    output logic [12:0]  dma_rd_req_len,
    output logic [7:0]   dma_rd_req_tag,
    input  logic         dma_rd_rsp_valid,
    output logic         dma_rd_rsp_ready,
    input  logic [511:0] dma_rd_rsp_data,
    input  logic [7:0]   dma_rd_rsp_tag,
    input  logic         dma_rd_rsp_last,

    // DMA write channel: one beat (up to 64 bytes) per request, in order.
    output logic         dma_wr_req_valid,
    input  logic         dma_wr_req_ready,
    output logic [63:0]  dma_wr_req_addr,
    output logic [6:0]   dma_wr_req_len,
    output logic [511:0] dma_wr_req_data,

    // Per-port counter increments (port_counters). Port A only counts
    // events: its amount is the constant 1, so every counter's adder is an
    // incrementer plus port B's amount (a registered amount that Yosys
    // cannot prove constant costs a 32-bit adder input per counter).
    output logic        ca_valid,
    output logic [7:0]  ca_port,
    output logic [3:0]  ca_counter,
    output logic [31:0] ca_amount,
    output logic        cb_valid,
    output logic [7:0]  cb_port,
    output logic [3:0]  cb_counter,
    output logic [31:0] cb_amount,
    output logic        ev_forwarded,

    // Notification lines (one-cycle pulses) and activity.
    output logic [NUM_PORTS-1:0] notify,
    output logic        busy
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    `include "dp_port_cfg.svh"
    /* verilator lint_on UNUSEDPARAM */

    localparam int WORD_W = $clog2(BAR2_BYTES / 8);

    // ---- Job controller ----------------------------------------------------
    // (J_HOLD: a fetched VALE frame waits for dp_vale_fwd.)
    // (J_RUN: dp_pipe moves a run of one-slot packets; J_PFETCH: the
    // frame it stopped at goes through dp_tx_fetch.)
    typedef enum logic [3:0] {
        J_IDLE, J_RXDB, J_START, J_OPEN, J_FETCH, J_FWAIT, J_HOLD, J_PIPE, J_FIN, J_CLOSE,
        J_PUB, J_PUBWAIT, J_RUNGO, J_RUN, J_PFETCH
    } state_t;
    state_t st;

    logic [QW-1:0] cq;        // the job's entry (TX ring, or RX ring of a doorbell)
    logic [PW-1:0] cp;        // its port
    logic [3:0]    cr;        // its ring
    logic [15:0]   chead, cn, ci, pub_tail;
    logic          cpipe;
    logic [31:0]   tx_base;   // BAR2 offset of the TX ring
    // A pipe job's runs stop PIPE_CAP slots (at most half the ring) from
    // its first slot c0 (run_to): the job closes and publishes there, so
    // the receiver sees its first slots a long job earlier, and the ring
    // wakes itself (capped) for the rest.
    // A VALE job likewise stops taking TX frames once one ends VALE_CAP
    // slots (at most half the ring) or more past c0 (vcut; a MOREFRAG
    // chain is never split): it publishes there (TX hwcur, the
    // destinations' RX hwtail), so the host releases RX slots a long job
    // earlier, and wakes its own ring for the rest (the read ahead goes on
    // across the cut, as across any two jobs of the ring).
    localparam int PIPE_CAP = 256;
    localparam int VALE_CAP = 256;
    logic [15:0]   c0, cap, run_to, vcap, vstop_of;
    logic          capped;
    always_comb begin
        cap    = (cn >> 1) < 16'(PIPE_CAP) ? cn >> 1 : 16'(PIPE_CAP);
        run_to = chead;
        if (ring_dist(chead, c0, cn) > cap && ring_dist(ci, c0, cn) < cap)
            run_to = (32'(c0) + 32'(cap) >= 32'(cn)) ? c0 + cap - cn : c0 + cap;
    end
    assign tx_base = cfg_ring_addr[cp] + 32'(cr) * 32'(ring_bytes(cn));

    // Stage wires (declared with their instances below).
    logic        job_valid, job_ready, job_rx;
    logic [QW-1:0] job_entry;
    logic [15:0] job_head, job_hwcur, job_n;
    // (from dp_sched's registered job: vstop is registered when the job
    // starts)
    always_comb begin
        vcap     = (job_n >> 1) < 16'(VALE_CAP) ? job_n >> 1 : 16'(VALE_CAP);
        vstop_of = (32'(job_hwcur) + 32'(vcap) > 32'(job_n))
                 ? job_hwcur + vcap - job_n - 16'd1 : job_hwcur + vcap - 16'd1;
    end
    logic        sched_bad, sched_pending;
    logic [7:0]  sched_bad_port;
    logic        wake_valid;
    logic [QW-1:0] wake_entry;
    logic        f_valid, f_ok;
    logic [1:0]  f_kind;
    logic [15:0] f_next, f_start, f_slots, f_first_len, f_first_flags;
    logic [31:0] f_bytes, f_first_buf;
    logic        v_done, p_done, p_ok, p_wait, s_done, s_issued, s_rsp_own;
    logic [15:0] p_pub_tail, p_span, p_run_next;
    logic [15:0] q_hwtail, q_hwcur;
    logic        j_ca_valid, j_hc_we;
    logic         dst_valid, dst_done, d_dst_ready, v_frm_ready;
    logic [15:0]  v_look_slot, v_oldest;
    logic         d_ev_room, d_ca_room, d_cb_room;
    logic [7:0]   dst_port;
    logic [3:0]   dst_ring;
    logic [511:0] first_beat;
    logic         v_busy, d_busy, p_busy, s_busy, d_frame_busy, d_bg_own;
    /* verilator lint_off UNUSEDSIGNAL */
    logic         dst_done_unused;  // dp_vale_fwd hands over on dst_ready
    /* verilator lint_on UNUSEDSIGNAL */
    assign dst_done_unused = dst_done;
    /* verilator lint_off UNUSEDSIGNAL */
    logic         v_done_unused;  // the next frame goes in as soon as it is idle
    /* verilator lint_on UNUSEDSIGNAL */
    assign v_done_unused = v_done;
    // The frame dp_vale_fwd holds, for delivery.
    logic [15:0]  v_frm_start, v_frm_slots;
    logic [31:0]  v_frm_bytes;
    logic [63:0]  v_frm_first_slot;
    logic [7:0]  j_ca_port;
    logic [3:0]  j_ca_counter;

    // (dp_pipe: while a pipe's head re-read is in flight past its job's
    // close, only pipe jobs start, so the peer ring stays on d_*.)
    logic p_reread, p_wake, p_wake_pend;
    logic [QW-1:0] p_wake_entry;
    assign job_ready = st == J_IDLE && (!p_reread || is_pipe(cfg_kind[port_of(job_entry)]));
    // The job's end goes to dp_status and dp_sched as soon as dp_status
    // takes a request: idle, or the previous publication issued (its
    // answers may still be in flight; dp_status keeps an older answer
    // from overwriting a cached head written since its read left).
    logic pub_go, s_req_ready;
    assign pub_go = st == J_PUB && s_req_ready;
    /* verilator lint_off UNUSEDSIGNAL */
    logic s_done_unused;  // the next job starts on s_issued; s_busy covers the rest
    /* verilator lint_on UNUSEDSIGNAL */
    assign s_done_unused = s_done;
    logic frame_now;  // a complete frame from dp_tx_fetch, this cycle
    assign frame_now = st == J_FWAIT && f_valid && f_kind == FETCH_FRAME;
    // dp_vale_fwd takes a VALE frame when it is idle (it keeps the
    // frame's fields), and dp_tx_fetch is asked for the next one in that
    // cycle, so the scan overlaps the lookup.
    logic vale_take;
    assign vale_take = !cpipe && v_frm_ready && (frame_now || st == J_HOLD);
    // Ask dp_tx_fetch for the next frame: at a job's start, when
    // dp_vale_fwd takes one, and for a pipe the frame a run stopped at.
    // In dp_tx_fetch's answer cycle ci is not yet past it.
    logic fetch_now;
    logic [15:0] fetch_ci;
    // (not past a VALE job's cap: the job ends with the frame taken now,
    // the one that holds slot vstop = c0 + vcap - 1, unless it ends at
    // head; dp_tx_fetch tells, registered)
    logic vcut, f_stop;
    logic [15:0] vnext, vstop;
    assign vnext     = (st == J_FWAIT) ? f_next : ci;
    assign vcut      = f_stop && vnext != chead;
    assign fetch_now = st == J_FETCH || (vale_take && !vcut) || st == J_PFETCH;
    assign fetch_ci  = (st == J_FWAIT) ? f_next : ci;

    // RX doorbell validation: head in [cached hwcur, hwtail].
    logic [15:0] rxdb_n;
    logic        rxdb_ok;
    always_comb begin
        rxdb_n  = cfg_rx_slots[cp];
        rxdb_ok = chead < rxdb_n
               && ring_dist(chead, q_hwcur, rxdb_n) <= ring_dist(q_hwtail, q_hwcur, rxdb_n);
    end
    assign j_hc_we    = st == J_RXDB && rxdb_ok;
    logic rxdb_wake;
    assign rxdb_wake  = st == J_RXDB && rxdb_ok && is_pipe(cfg_kind[cp])
                     && cfg_peer[cp] < 32'(NUM_PORTS);
    // dp_pipe's wake (a head answer that added room after its job's close)
    // waits a cycle when it meets the RX doorbell's.
    // A capped job (pipe or VALE) wakes its own ring at its publication
    // (never in J_RXDB).
    logic cap_wake;
    assign cap_wake   = pub_go && capped;
    assign wake_valid = rxdb_wake || cap_wake || p_wake_pend;
    assign wake_entry = rxdb_wake ? entry_of(32'(cfg_peer[cp]), 32'(cr))
                      : cap_wake ? cq : p_wake_entry;
    always_ff @(posedge clk) begin
        if (rst) begin
            p_wake_pend <= 1'b0;
        end else begin
            if (!rxdb_wake && !cap_wake) p_wake_pend <= 1'b0;
            if (p_wake) begin
                // The sender's TX ring: the peer ring's port's peer, same ring.
                p_wake_pend  <= 1'b1;
                p_wake_entry <= entry_of(32'(cfg_peer[port_of(d_entry_p)]),
                                         32'(ring_of(d_entry_p)));
            end
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            st <= J_IDLE;
            j_ca_valid <= 1'b0;
        end else begin
            j_ca_valid <= 1'b0;
            case (st)
            J_IDLE: begin
                if (job_valid && job_ready) begin
                    cq    <= job_entry;
                    cp    <= port_of(job_entry);
                    cr    <= ring_of(job_entry);
                    chead <= job_head;
                    cn    <= job_n;
                    ci    <= job_hwcur;
                    c0    <= job_hwcur;
                    vstop <= vstop_of;
                    capped <= 1'b0;
                    cpipe <= is_pipe(cfg_kind[port_of(job_entry)]);
                    if (job_rx) st <= J_RXDB;
                    else if (is_vale(cfg_kind[port_of(job_entry)])) st <= J_FETCH;
                    else if (is_pipe(cfg_kind[port_of(job_entry)])) st <= J_START;
                end
            end

            J_RXDB: begin
                // Slots released: dp_rx_rings takes the head (j_hc_we); a
                // pipe end's peer may now move what waited for room.
                if (!rxdb_ok) begin
                    j_ca_valid <= 1'b1; j_ca_port <= 8'(cp);
                    j_ca_counter <= CNT_BAD_RING_SYNCS;
                end
                st <= J_IDLE;
            end

            J_START: st <= J_OPEN;  // dp_pipe takes the open request now

            J_OPEN: if (p_done) st <= p_ok ? J_RUNGO : J_IDLE;

            J_RUNGO: st <= J_RUN;  // dp_pipe takes the run request now

            J_RUN: begin
                // Up to head, or a frame for dp_tx_fetch and the frame path.
                if (p_done) begin
                    ci <= p_run_next;
                    st <= (p_run_next == run_to) ? J_FIN : J_PFETCH;
                    capped <= p_run_next == run_to && run_to != chead;
                end
            end

            J_PFETCH: st <= J_FWAIT;  // dp_tx_fetch takes the request (fetch_now)

            J_FETCH: st <= J_FWAIT;  // dp_tx_fetch takes the request (fetch_now)

            J_FWAIT: begin
                if (f_valid) begin
                    case (f_kind)
                        FETCH_FRAME: begin
                            st <= cpipe ? J_PIPE : !vale_take ? J_HOLD : vcut ? J_FIN : J_FWAIT;
                            if (!cpipe) capped <= vale_take && vcut;
                        end
                        FETCH_DROP: begin
                            j_ca_valid <= 1'b1; j_ca_port <= 8'(cp);
                            j_ca_counter <= CNT_TX_DROP_CHAIN;
                            st <= J_FIN;
                        end
                        default: st <= J_FIN;  // END, WAIT
                    endcase
                    if (f_kind != FETCH_END) ci <= f_next;
                end
            end

            J_HOLD: begin
                if (vale_take) begin
                    st <= vcut ? J_FIN : J_FWAIT;
                    capped <= vcut;
                end
            end

            J_PIPE: begin
                if (p_done) begin
                    if (p_wait) begin
                        ci <= f_start;  // back-pressure: it waits at hwcur
                        st <= J_FIN;
                    end else begin
                        st <= J_RUNGO;
                    end
                end
            end

            J_FIN: begin
                // VALE hands the ring back whole (once the last frame is
                // delivered); a pipe asks dp_pipe.
                pub_tail <= (ci == 16'd0) ? cn - 16'd1 : ci - 16'd1;
                // (a background prefetch fill may still be in flight: it
                // lands beside the next job)
                if (!v_busy && !d_frame_busy && !dst_valid) st <= cpipe ? J_CLOSE : J_PUB;
            end

            J_CLOSE: begin
                if (p_done) begin
                    pub_tail <= p_pub_tail;
                    st <= J_PUB;
                end
            end

            // dp_status and dp_sched take it once dp_status has issued
            // the previous publication (pub_go; its answers may be out).
            J_PUB: if (s_req_ready) st <= J_PUBWAIT;

            // The next job starts once the status writes and read-backs
            // have left; their answers come back beside it (by tag).
            J_PUBWAIT: if (s_issued) st <= J_IDLE;

            default: st <= J_IDLE;
            endcase
        end
    end

    // ---- Doorbell scheduler ------------------------------------------------
    dp_sched #(.NUM_PORTS(NUM_PORTS), .RINGS(RINGS)) sched (
        .clk, .rst, .port_enable, .port_cfg,
        .db_valid, .db_rx, .db_port, .db_ring, .db_head,
        .wake_valid, .wake_entry,
        .job_valid, .job_ready, .job_rx, .job_entry, .job_head, .job_hwcur, .job_n,
        .done_valid(pub_go), .done_entry(cq), .done_hwcur(ci),
        .done_pipe(cpipe), .done_span(p_span),
        .bad_valid(sched_bad), .bad_port(sched_bad_port),
        .pending(sched_pending)
    );

    // ---- Shared DMA, BAR2 and counter ports ------------------------------------
    // Per stage: v = dp_vale_fwd, d = dp_deliver, p = dp_pipe, s = dp_status.
    logic         v_rd_valid, d_rd_valid, p_rd_valid, s_rd_valid;
    logic [63:0]  v_rd_addr, d_rd_addr, p_rd_addr, s_rd_addr;
    logic [12:0]  v_rd_len, d_rd_len, p_rd_len, s_rd_len;
    logic         v_rsp_ready, d_rsp_ready, p_rsp_ready, s_rsp_ready;
    logic         d_wr_valid, p_wr_valid, s_wr_valid;
    logic [63:0]  d_wr_addr, p_wr_addr, s_wr_addr;
    logic [6:0]   d_wr_len, p_wr_len, s_wr_len;
    logic [511:0] d_wr_data, p_wr_data, s_wr_data;
    logic         dma_rd_can, dma_wr_free;
    // A read waits for earlier writes to leave (reads must not pass them).
    assign dma_wr_free = !dma_wr_req_valid || dma_wr_req_ready;
    // The stages' read (registered, one in flight) goes first; the read
    // ahead is offered in the cycles they have none.
    logic         stage_rd_valid;
    logic [63:0]  stage_rd_addr;
    logic [12:0]  stage_rd_len;
    logic         pf_rd_valid, pf_rd_ready;
    logic [63:0]  pf_rd_addr;
    logic [12:0]  pf_rd_len;
    logic [7:0]   pf_rd_tag;
    assign stage_rd_valid = v_rd_valid | d_rd_valid | p_rd_valid | s_rd_valid;
    assign stage_rd_addr  = ({64{v_rd_valid}} & v_rd_addr) | ({64{d_rd_valid}} & d_rd_addr)
                          | ({64{p_rd_valid}} & p_rd_addr) | ({64{s_rd_valid}} & s_rd_addr);
    assign stage_rd_len   = ({13{v_rd_valid}} & v_rd_len) | ({13{d_rd_valid}} & d_rd_len)
                          | ({13{p_rd_valid}} & p_rd_len) | ({13{s_rd_valid}} & s_rd_len);
    // The host's read tags (256 in flight at most), split here: the
    // stages' reads 0 .. STAGE_TAGS - 1 (a running count; a tag still in
    // flight holds the stages' next request: dp_pipe's window, dp_status's
    // read-backs and dp_deliver's fill may be out together),
    // dp_pay_fetch's reads ahead the other PF_TAGS.
    localparam int STAGE_TAGS = 32;
    localparam int PF_TAGS    = 256 - STAGE_TAGS;
    logic [4:0]            tag_ctr;
    logic [STAGE_TAGS-1:0] stage_tags_out;
    logic                  stage_go, stage_rd_ready;
    assign stage_go       = stage_rd_valid && !stage_tags_out[tag_ctr];
    assign stage_rd_ready = dma_rd_req_ready && !stage_tags_out[tag_ctr];
    assign dma_rd_can  = !dma_wr_req_valid && (!stage_rd_valid || stage_rd_ready);
    assign dma_rd_req_valid = stage_go | pf_rd_valid;
    assign dma_rd_req_addr  = stage_go ? stage_rd_addr : pf_rd_addr;
    assign dma_rd_req_len   = stage_go ? stage_rd_len : pf_rd_len;
    assign pf_rd_ready      = dma_rd_req_ready && !stage_go;
    // Response beats: tags from STAGE_TAGS up are dp_pay_fetch's (always
    // taken).
    logic rsp_pf, stage_rsp_valid;
    assign rsp_pf          = dma_rd_rsp_tag >= 8'(STAGE_TAGS);
    // (dp_pipe's window reads may outlive its job: the beats it claims by
    // tag reach no other stage.)
    logic p_rsp_claim, p_rsp_valid;
    assign p_rsp_valid     = dma_rd_rsp_valid && !rsp_pf;
    assign stage_rsp_valid = p_rsp_valid && !p_rsp_claim;
    // dp_status's read-backs may still be answered while the next job's
    // stages read: their beats go to it alone.
    // dp_deliver's background fill may outlive its job too: its beats
    // are dp_deliver's alone.
    logic other_rsp_valid, vp_rsp_valid;
    assign other_rsp_valid = stage_rsp_valid && !s_rsp_own;
    assign vp_rsp_valid    = other_rsp_valid && !d_bg_own;
    assign dma_rd_rsp_ready = rsp_pf | v_rsp_ready | d_rsp_ready | p_rsp_ready | s_rsp_ready;
    assign dma_wr_req_valid = d_wr_valid | p_wr_valid | s_wr_valid;
    assign dma_wr_req_addr  = ({64{d_wr_valid}} & d_wr_addr) | ({64{p_wr_valid}} & p_wr_addr)
                            | ({64{s_wr_valid}} & s_wr_addr);
    assign dma_wr_req_len   = ({7{d_wr_valid}} & d_wr_len) | ({7{p_wr_valid}} & p_wr_len)
                            | ({7{s_wr_valid}} & s_wr_len);
    assign dma_wr_req_data  = ({512{d_wr_valid}} & d_wr_data) | ({512{p_wr_valid}} & p_wr_data)
                            | ({512{s_wr_valid}} & s_wr_data);
    // The stages' tags number their requests (dp_pipe's, dp_status's
    // and dp_deliver's fill are told apart by tag).
    assign dma_rd_req_tag = stage_go ? 8'(tag_ctr) : pf_rd_tag;
    always_ff @(posedge clk) begin
        if (rst) begin
            tag_ctr <= '0;
            stage_tags_out <= '0;
        end else begin
            if (dma_rd_rsp_valid && dma_rd_rsp_ready && dma_rd_rsp_last && !rsp_pf)
                stage_tags_out[dma_rd_rsp_tag[4:0]] <= 1'b0;
            if (stage_go && dma_rd_req_ready) begin
                tag_ctr <= tag_ctr + 5'd1;
                stage_tags_out[tag_ctr] <= 1'b1;
            end
        end
    end

    // BAR2 device port. Words: dp_deliver and dp_pipe (never in one
    // job). Lines (four slots): dp_pipe's runs, then dp_tx_fetch's slot
    // stream, then dp_pay_fetch's scan, each in a cycle no word access
    // uses (each stream needs a line every four frames at most).
    // A line reader takes its line the cycle after its read;
    // dp_pipe holds a run's line on the port for several cycles, so in a
    // pipe job dp_tx_fetch reads only while the engine waits for its
    // frame (J_FWAIT) and dp_pay_fetch not at all.
    // The word port holds its last read's data, and the stages count on
    // that (a slot read once is used over several cycles): they see the
    // port while their read is its last, else the copy kept here.
    logic              d_rd_en, p_rd_en;
    logic [WORD_W-1:0] d_rd_word, p_rd_word;
    logic              p_line_en, p_line_we;
    logic [WORD_W-4:0] p_line_row, f_line_row, pf_line_row;
    logic              f_line_want, f_line_grant, pf_line_want, pf_line_grant;
    logic              last_rd;  // the last word reader: 0 d, 1 p
    logic              line_rd;  // a line was read since
    logic [63:0]       d_desc, p_desc, d_hold, p_hold;
    assign f_line_grant  = !d_rd_en && !p_rd_en && !desc_wr_en && !p_line_en
                        && (!cpipe || st == J_FWAIT);
    assign pf_line_grant = !d_rd_en && !p_rd_en && !desc_wr_en && !p_line_en && !cpipe
                        && !(f_line_want && f_line_grant);
    assign desc_rd_en     = d_rd_en | p_rd_en;
    assign desc_rd_word   = d_rd_en ? d_rd_word : p_rd_word;
    assign desc_line_en   = p_line_en | (f_line_want && f_line_grant)
                          | (pf_line_want && pf_line_grant);
    assign desc_line_we   = p_line_en && p_line_we;
    assign desc_line_row  = p_line_en ? p_line_row
                          : (f_line_want && f_line_grant) ? f_line_row : pf_line_row;
    assign d_desc = (!line_rd && !last_rd) ? desc_rd_data : d_hold;
    assign p_desc = (!line_rd && last_rd) ? desc_rd_data : p_hold;
    always_ff @(posedge clk) begin
        if (rst) begin
            last_rd <= 1'b0;
            line_rd <= 1'b0;
        end else if (desc_rd_en) begin
            last_rd <= !d_rd_en;
            line_rd <= 1'b0;
        end else if (desc_line_en && !desc_line_we) begin
            line_rd <= 1'b1;
        end
        d_hold <= d_desc;
        p_hold <= p_desc;
    end

    // Counter events: at most one stage reports in a cycle.
    logic       v_ca, d_ca, p_ca, v_cb, d_cb, p_cb, d_ev;
    logic [7:0] v_ca_port, d_ca_port, p_ca_port, v_cb_port, d_cb_port, p_cb_port;
    logic [3:0] v_ca_cnt, d_ca_cnt, p_ca_cnt, v_cb_cnt, d_cb_cnt, p_cb_cnt;
    logic [31:0] v_cb_amt, d_cb_amt, p_cb_amt;
    // (port A counts one, or a run of dp_deliver's events merged while
    // they waited)
    assign ca_amount = dq_ca ? dq_ca_amt : 32'd1;
    // dp_deliver's events wait behind the others' (it overlaps dp_vale_fwd).
    logic        other_ca, other_cb, dq_ca, dq_cb;
    logic [7:0]  dq_ca_port, dq_cb_port;
    logic [3:0]  dq_ca_cnt, dq_cb_cnt;
    logic [31:0] dq_ca_amt, dq_cb_amt;
    assign other_ca = j_ca_valid | sched_bad | v_ca | p_ca;
    assign other_cb = v_cb | p_cb;
    dp_ev_queue #(.W(44), .AMT(32), .DEPTH(8)) d_ca_queue (
        .clk, .rst, .in_valid(d_ca), .in_data({d_ca_port, d_ca_cnt, 32'd1}), .blocked(other_ca),
        .out_valid(dq_ca), .out_data({dq_ca_port, dq_ca_cnt, dq_ca_amt}), .room(d_ca_room)
    );
    dp_ev_queue #(.W(44), .AMT(32), .DEPTH(8)) d_cb_queue (
        .clk, .rst, .in_valid(d_cb), .in_data({d_cb_port, d_cb_cnt, d_cb_amt}),
        .blocked(other_cb), .out_valid(dq_cb), .out_data({dq_cb_port, dq_cb_cnt, dq_cb_amt}),
        .room(d_cb_room)
    );
    assign d_ev_room = d_ca_room && d_cb_room;
    always_comb begin
        ca_valid = other_ca | dq_ca;
        ca_port = j_ca_port; ca_counter = j_ca_counter;
        if (sched_bad) begin ca_port = sched_bad_port; ca_counter = CNT_BAD_RING_SYNCS; end
        if (v_ca) begin ca_port = v_ca_port; ca_counter = v_ca_cnt; end
        if (dq_ca) begin ca_port = dq_ca_port; ca_counter = dq_ca_cnt; end
        if (p_ca) begin ca_port = p_ca_port; ca_counter = p_ca_cnt; end
        cb_valid = other_cb | dq_cb;
        cb_port = v_cb_port; cb_counter = v_cb_cnt; cb_amount = v_cb_amt;
        if (dq_cb) begin cb_port = dq_cb_port; cb_counter = dq_cb_cnt; cb_amount = dq_cb_amt; end
        if (p_cb) begin cb_port = p_cb_port; cb_counter = p_cb_cnt; cb_amount = p_cb_amt; end
    end
    assign ev_forwarded = d_ev;

    // ---- RX ring state ---------------------------------------------------------
    logic [QW-1:0]  d_entry_d, d_entry_p, s_q_entry, s_hc_entry, dirty_pick;
    logic [15:0]    d_hwtail, d_hwcur;
    // The RX prefetch holds PF slots per ring (dp_deliver's background
    // fill tops VALE rings up to PF); dp_pipe's rings never hold more
    // than its 64, and it sees at most 64.
    localparam int PF = 512;
    localparam int PFW = $clog2(PF);
    logic [PFW:0]   d_pf_cnt;
    logic [6:0]     p_pf_cnt;
    logic [PFW-1:0] d_pf_lane, d_pf_lane_d;
    logic [5:0]     d_pf_lane_p;
    logic [PFW-1:0] d_fill_k;
    logic [31:0]    d_pf_buf;
    logic           d_pf_p0;
    logic [4*32-1:0] fill_bufs;
    logic [3:0]     fill_p0;
    logic           d_hc_we, p_hc_we, s_hc_we, d_ht_we, p_ht_we, d_fill_we, p_fill_we;
    logic [15:0]    d_hc_value, p_hc_value, s_hc_value, d_ht_value, p_ht_value;
    logic [15:0]    d_ht_used, p_ht_used;
    logic [5:0]     p_fill_k;
    logic [QW-1:0]  d_fill_entry;
    logic [2:0]     d_fill_n, p_fill_n;
    logic           p_dirty_set, s_dirty_clr, dirty_found, any_dirty;
    logic [QW-1:0]  d_entry;
    assign d_entry   = cpipe ? d_entry_p : d_entry_d;
    assign d_pf_lane = cpipe ? PFW'(d_pf_lane_p) : d_pf_lane_d;
    assign p_pf_cnt  = (d_pf_cnt > (PFW + 1)'(64)) ? 7'd64 : 7'(d_pf_cnt);
    // A fill beat holds slot l's buffer index at byte l * SLOT_BYTES (and
    // its ptr at + SLOT_PTR: dp_deliver gathers slot writes where it is 0).
    for (genvar l = 0; l < 4; l++) begin : g_fill
        assign fill_bufs[32 * l +: 32] = dma_rd_rsp_data[8 * SLOT_BYTES * l +: 32];
        assign fill_p0[l] = dma_rd_rsp_data[8 * (SLOT_BYTES * l + SLOT_PTR) +: 64] == 64'd0;
    end
    // (dp_tx_fetch is always ready when asked: it answered before.)
    /* verilator lint_off UNUSEDSIGNAL */
    logic f_ready;
    logic dirty_unused;
    assign dirty_unused = any_dirty;
    /* verilator lint_on UNUSEDSIGNAL */

    // Cached hwcur writes: the RX doorbell, dp_deliver's and dp_pipe's
    // re-reads (never two of them in one cycle), then dp_status's
    // read-back answer, which may land in the same cycle as one of them
    // and then gives way (a refresh left out only keeps an older head;
    // dp_status sees the write that won and treats its own as stale).
    logic          hc_all_we;
    logic [QW-1:0] hc_all_entry;
    logic [15:0]   hc_all_value;
    assign hc_all_we    = j_hc_we | d_hc_we | p_hc_we | s_hc_we;
    assign hc_all_entry = j_hc_we ? cq : (d_hc_we || p_hc_we) ? d_entry : s_hc_entry;
    assign hc_all_value = j_hc_we ? chead : d_hc_we ? d_hc_value : p_hc_we ? p_hc_value
                        : s_hc_value;

    dp_rx_rings #(.NUM_PORTS(NUM_PORTS), .RINGS(RINGS), .QW(QW), .PF(PF)) rx_rings (
        .clk, .rst, .port_enable,
        .d_entry, .d_hwtail, .d_hwcur, .d_pf_cnt, .d_pf_lane, .d_pf_buf, .d_pf_p0,
        .q_entry(st == J_RXDB ? cq : s_q_entry), .q_hwtail, .q_hwcur,
        .hc_we(hc_all_we), .hc_entry(hc_all_entry), .hc_value(hc_all_value),
        .ht_we(d_ht_we | p_ht_we),
        .ht_value(d_ht_we ? d_ht_value : p_ht_value),
        .ht_used(d_ht_we ? d_ht_used : p_ht_used),
        .ht_dirty(d_ht_we),
        .dirty_set(p_dirty_set),
        .dirty_found, .dirty_pick, .dirty_clr(s_dirty_clr), .dirty_clr_entry(s_q_entry),
        .fill_we(d_fill_we | p_fill_we), .fill_entry(d_fill_we ? d_fill_entry : d_entry),
        .fill_k(d_fill_we ? d_fill_k : PFW'(p_fill_k)),
        .fill_n(d_fill_we ? d_fill_n : p_fill_n),
        .fill_bufs, .fill_p0, .any_dirty
    );

    // ---- TX slot fetch -----------------------------------------------------------
    dp_tx_fetch #(.NUM_PORTS(NUM_PORTS), .RINGS(RINGS), .BAR2_BYTES(BAR2_BYTES)) tx_fetch (
        .clk, .rst,
        .req_valid(fetch_now), .req_ready(f_ready),
        .req_base(tx_base), .req_n(cn), .req_ci(fetch_ci), .req_head(chead), .req_pipe(cpipe),
        .req_num_bufs(cfg_num_bufs[cp]), .req_buf_size(cfg_buf_size[cp]),
        .req_fresh(st == J_FETCH || st == J_PFETCH), .req_stop(vstop),
        .line_want(f_line_want), .line_grant(f_line_grant), .line_row(f_line_row),
        .line_rdata(desc_line_rdata),
        .rsp_valid(f_valid), .rsp_kind(f_kind), .rsp_next(f_next), .rsp_start(f_start),
        .rsp_slots(f_slots), .rsp_bytes(f_bytes), .rsp_ok(f_ok),
        .rsp_first_buf(f_first_buf), .rsp_first_len(f_first_len),
        .rsp_first_flags(f_first_flags), .rsp_stop(f_stop)
    );

    // ---- Payload fetch ahead (VALE jobs) -----------------------------------------
    // The oldest frame the stages are at: the one being copied, else the
    // one being forwarded, else the next.
    logic         pb_alloc, pb_b0, d_pb_alloc, pb_done, pf_busy;
    logic [95:0]  pb_hdr;
    logic [15:0]  d_pb_slot;
    logic [4:0]   pb_rd_beat;
    logic [511:0] pb_data;
    dp_pay_fetch #(.NUM_PORTS(NUM_PORTS), .RINGS(RINGS), .BAR2_BYTES(BAR2_BYTES),
                   .NT(PF_TAGS), .TAG_BASE(STAGE_TAGS)) pay_fetch (
        .clk, .rst,
        .start(st == J_FETCH), .start_base(tx_base), .start_n(cn), .start_ci(ci),
        .start_head(chead), .start_pool(cfg_pool[cp]), .start_buf_size(cfg_buf_size[cp]),
        .start_num_bufs(cfg_num_bufs[cp]), .stop(st == J_PUB),
        // (it reads ahead across jobs of a ring, up to its newest doorbell)
        .start_port(8'(cp)), .start_ring(cr), .port_enable,
        .db_valid, .db_rx, .db_port, .db_ring, .db_head,
        .cons(d_frame_busy ? d_pb_slot : v_busy ? v_oldest : st == J_HOLD ? f_start : ci),
        .line_want(pf_line_want), .line_grant(pf_line_grant), .line_row(pf_line_row),
        .line_rdata(desc_line_rdata),
        .rd_req_valid(pf_rd_valid), .rd_req_ready(pf_rd_ready), .rd_req_addr(pf_rd_addr),
        .rd_req_len(pf_rd_len), .rd_req_tag(pf_rd_tag),
        .rsp_valid(dma_rd_rsp_valid && rsp_pf), .rsp_data(dma_rd_rsp_data),
        .rsp_tag(dma_rd_rsp_tag), .rsp_last(dma_rd_rsp_last),
        .look_slot(v_look_slot), .look_alloc(pb_alloc), .look_b0(pb_b0), .look_hdr(pb_hdr),
        .dlv_slot(d_pb_slot), .dlv_alloc(d_pb_alloc), .dlv_done(pb_done),
        .rd_beat(pb_rd_beat), .rd_data(pb_data),
        .busy(pf_busy)
    );

    // ---- VALE: decision and delivery -------------------------------------------

    dp_vale_fwd #(.NUM_PORTS(NUM_PORTS), .RINGS(RINGS)) vale_fwd (
        .clk, .rst, .port_enable, .port_cfg,
        .frm_valid(vale_take), .frm_ready(v_frm_ready), .frm_start(f_start), .frm_slots(f_slots), .frm_bytes(f_bytes),
        .frm_ok(f_ok), .frm_first_buf(f_first_buf), .frm_first_len(f_first_len),
        .frm_first_flags(f_first_flags), .src_port(8'(cp)), .src_ring(cr), .done(v_done),
        .dma_rd_can(dma_rd_can && !d_busy), .dma_rd_req_valid(v_rd_valid),
        .dma_rd_req_ready(stage_rd_ready),
        .dma_rd_req_addr(v_rd_addr), .dma_rd_req_len(v_rd_len),
        .dma_rd_rsp_valid(vp_rsp_valid), .dma_rd_rsp_ready(v_rsp_ready), .dma_rd_rsp_data,
        .lk_valid, .lk_src_mac, .lk_dst_mac, .lk_src_port, .lk_learn,
        .lk_res_valid, .lk_res_port,
        .dst_valid, .dst_port, .dst_ring, .dst_ready(d_dst_ready), .first_beat,
        .dst_frm_start(v_frm_start), .dst_frm_slots(v_frm_slots), .dst_frm_bytes(v_frm_bytes),
        .dst_frm_first_slot(v_frm_first_slot),
        .look_slot(v_look_slot), .pb_alloc, .pb_b0, .pb_hdr, .oldest_start(v_oldest),
        .ca_valid(v_ca), .ca_port(v_ca_port), .ca_counter(v_ca_cnt),
        .cb_valid(v_cb), .cb_port(v_cb_port), .cb_counter(v_cb_cnt), .cb_amount(v_cb_amt),
        .busy(v_busy)
    );

    dp_deliver #(.NUM_PORTS(NUM_PORTS), .RINGS(RINGS), .BAR2_BYTES(BAR2_BYTES), .PF(PF)) deliver (
        .clk, .rst, .port_cfg,
        .src_port(8'(cp)), .src_base(tx_base), .src_n(cn),
        .frm_start(v_frm_start), .frm_slots(v_frm_slots), .frm_bytes(v_frm_bytes), .first_beat,
        .frm_first_slot(v_frm_first_slot),
        .pb_slot(d_pb_slot), .pb_alloc(d_pb_alloc), .pb_done, .pb_rd_beat, .pb_data,
        .dst_valid, .dst_port, .dst_ring, .dst_ready(d_dst_ready), .dst_done,
        .d_entry(d_entry_d), .d_hwtail, .d_hwcur, .d_pf_cnt, .d_pf_lane(d_pf_lane_d),
        .d_pf_buf, .d_pf_p0,
        .hc_we(d_hc_we), .hc_value(d_hc_value),
        .ht_we(d_ht_we), .ht_value(d_ht_value), .ht_used(d_ht_used),
        .fill_we(d_fill_we), .fill_entry(d_fill_entry), .fill_k(d_fill_k), .fill_n(d_fill_n),
        .desc_rd_en(d_rd_en), .desc_rd_word(d_rd_word), .desc_rd_data(d_desc),
        .desc_busy(1'b0),  // (the line readers wait for it)
        .dma_rd_can, .dma_rd_req_valid(d_rd_valid),
        .dma_rd_req_ready(stage_rd_ready),
        .dma_rd_req_addr(d_rd_addr), .dma_rd_req_len(d_rd_len), .dma_rd_req_tag,
        .dma_rd_rsp_valid(other_rsp_valid), .dma_rd_rsp_tag, .dma_rd_rsp_ready(d_rsp_ready),
        .dma_rd_rsp_data, .dma_rd_rsp_last,
        .dma_wr_free, .dma_wr_req_valid(d_wr_valid), .dma_wr_req_ready,
        .dma_wr_req_addr(d_wr_addr), .dma_wr_req_len(d_wr_len), .dma_wr_req_data(d_wr_data),
        .ev_room(d_ev_room), .ca_valid(d_ca), .ca_port(d_ca_port), .ca_counter(d_ca_cnt),
        .cb_valid(d_cb), .cb_port(d_cb_port), .cb_counter(d_cb_cnt), .cb_amount(d_cb_amt),
        .ev_forwarded(d_ev), .bg_own(d_bg_own),
        .flush(st == J_FIN),  // the job ends: gathered RX slot writes leave
        .frame_busy(d_frame_busy), .busy(d_busy)
    );

    // ---- Pipe crossover ------------------------------------------------------------
    dp_pipe #(.NUM_PORTS(NUM_PORTS), .RINGS(RINGS), .BAR2_BYTES(BAR2_BYTES)) pipe (
        .clk, .rst, .port_enable, .port_cfg,
        .src_port(8'(cp)), .src_ring(cr), .src_base(tx_base), .src_n(cn), .hwcur(ci),
        .open_valid(st == J_START), .run_valid(st == J_RUNGO), .run_ci(ci), .run_head(run_to),
        .run_next(p_run_next),
        .frm_valid(frame_now && cpipe), .close_valid(st == J_FIN && cpipe),
        .done(p_done), .ok(p_ok), .wait_room(p_wait), .pub_tail(p_pub_tail), .span(p_span),
        .frm_start(f_start), .frm_slots(f_slots), .frm_bytes(f_bytes), .frm_ok(f_ok),
        .frm_first_buf(f_first_buf), .frm_first_len(f_first_len),
        .frm_first_flags(f_first_flags),
        .d_entry(d_entry_p), .d_hwtail, .d_hwcur, .d_pf_cnt(p_pf_cnt), .d_pf_lane(d_pf_lane_p),
        .d_pf_buf,
        .hc_we(p_hc_we), .hc_value(p_hc_value),
        .ht_we(p_ht_we), .ht_value(p_ht_value), .ht_used(p_ht_used),
        .fill_we(p_fill_we), .fill_k(p_fill_k), .fill_n(p_fill_n), .dirty_set(p_dirty_set),
        .desc_rd_en(p_rd_en), .desc_rd_word(p_rd_word), .desc_rd_data(p_desc),
        .desc_wr_en, .desc_wr_word, .desc_wr_data,
        .desc_line_en(p_line_en), .desc_line_we(p_line_we), .desc_line_row(p_line_row),
        .desc_line_mask, .desc_line_wdata, .desc_line_rdata,
        .dma_rd_can, .dma_rd_req_valid(p_rd_valid),
        .dma_rd_req_ready(stage_rd_ready),
        .dma_rd_req_addr(p_rd_addr), .dma_rd_req_len(p_rd_len), .dma_rd_req_tag,
        .dma_rd_rsp_valid(p_rsp_valid), .dma_rd_rsp_tag, .dma_rd_rsp_ready(p_rsp_ready),
        .dma_rd_rsp_data, .rsp_claim(p_rsp_claim),
        .dma_wr_free, .dma_wr_req_valid(p_wr_valid), .dma_wr_req_ready,
        .dma_wr_req_addr(p_wr_addr), .dma_wr_req_len(p_wr_len), .dma_wr_req_data(p_wr_data),
        .ca_valid(p_ca), .ca_port(p_ca_port), .ca_counter(p_ca_cnt),
        .cb_valid(p_cb), .cb_port(p_cb_port), .cb_counter(p_cb_cnt), .cb_amount(p_cb_amt),
        .busy(p_busy), .reread_due(p_reread), .wake(p_wake)
    );

    // ---- Status publisher ------------------------------------------------------------
    dp_status #(.NUM_PORTS(NUM_PORTS), .RINGS(RINGS)) status (
        .clk, .rst, .port_enable, .port_cfg,
        .req_valid(pub_go), .tx_port(8'(cp)), .tx_ring(cr),
        .tx_hwcur(ci), .tx_hwtail(pub_tail), .req_ready(s_req_ready), .done(s_done),
        .issued(s_issued),
        .dirty_found, .dirty_pick, .dirty_clr(s_dirty_clr), .q_entry(s_q_entry),
        .q_hwtail, .q_hwcur, .hc_we(s_hc_we), .hc_entry(s_hc_entry), .hc_value(s_hc_value),
        .hc_seen(hc_all_we), .hc_seen_entry(hc_all_entry),
        .dma_rd_can, .dma_rd_req_valid(s_rd_valid),
        .dma_rd_req_ready(stage_rd_ready),
        .dma_rd_req_addr(s_rd_addr), .dma_rd_req_len(s_rd_len), .dma_rd_req_tag,
        .dma_rd_rsp_valid(stage_rsp_valid), .dma_rd_rsp_ready(s_rsp_ready), .dma_rd_rsp_data,
        .dma_rd_rsp_tag, .rsp_own(s_rsp_own),
        .dma_wr_free, .dma_wr_req_valid(s_wr_valid), .dma_wr_req_ready,
        .dma_wr_req_addr(s_wr_addr), .dma_wr_req_len(s_wr_len), .dma_wr_req_data(s_wr_data),
        .notify, .busy(s_busy)
    );

    // Busy until the last counter increment and notification are out.
    assign busy = st != J_IDLE || sched_pending || dma_wr_req_valid || dma_rd_req_valid
               || ca_valid || cb_valid || ev_forwarded || |notify
               || v_busy || d_busy || p_busy || p_wake_pend || s_busy || pf_busy;
endmodule
