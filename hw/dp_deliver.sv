// Delivery of one VALE frame into one destination RX ring (a copy).
//
// On `dst_valid` (port, RX ring), for the frame held by dp_tx_fetch:
// 1. room: free slots from the ring's cached hwcur; when short, the
//    host's head is re-read once by DMA from the status entry; still
//    short: CNT_RX_DROP_FULL (destination) and CNT_TX_DROP_FULL (source);
// 2. the destination slots' buffer indexes, from the ring's prefetch
//    (dp_rx_rings, up to PF slots: a frame that finds it dry starts a
//    background fill there and takes the slots as they land; slots past
//    the 64th of a chain one read each); any bad one:
//    CNT_RX_DROP_BAD_BUF, nothing written;
// 3. per fragment: its TX slot from BAR2, the payload by DMA, streamed
//    beat by beat into the destination buffer (a frame of up to 64 bytes
//    from `first_beat`, read for the lookup), lengths clamped to the
//    destination's buffer size; the first fragment of a frame that
//    dp_pay_fetch read ahead streams from the packet buffer instead
//    (`pb_done`: all of it there; `pb_rd_beat` asks for a beat, on
//    `pb_data` the next cycle); then the RX slot's len and flags
//    (NS_MOREFRAG on all but the last, the fragment count at
//    NS_RFRAGS_SHIFT);
// 4. hwtail moves past the frame, the ring is dirty (published later):
//    CNT_RX_PACKETS/BYTES and `ev_forwarded`.
// `dst_done` pulses when the destination is finished, delivered or not.
// The frame's fields are taken with the destination (`dst_valid` and
// `dst_ready` in the same cycle), so dp_vale_fwd and dp_tx_fetch go on
// with the next frame while this one is copied; this stage reads BAR2
// only in cycles dp_tx_fetch does not (`desc_busy`).
// The stream: the ring's state is read the cycle after a destination is
// taken (D_START); a one-fragment frame whose ring has room, whose next
// prefetched slot is good and whose payload is all in the packet buffer
// goes straight to its payload beats. With its last beat the frame is
// delivered (hwtail moves, counters) and the next destination is taken.
// When that destination is the same ring and its frame can stream too
// (one fragment, two free slots, the next prefetched slot good, its
// payload in: the chain test), it streams from the next cycle on, with
// no D_START between: one write beat per 64-byte frame. (`pb_slot` names
// the next frame during the last beat, so its first beat is read then;
// a last beat that waits for the write channel is kept in `pb_q`.)
// RX slot writes are gathered: a streamed frame's slot (buf_idx from the
// prefetch, len, flags, ptr 0: the whole 16 bytes, since the DMA port
// has no byte enables) joins a run of consecutive slots of its ring, which
// leaves as one DMA write when it fills its 64-byte line (or reaches the
// ring's end), before a slot that does not join it (another ring, not the
// next slot) streams, or when the job ends (`flush`, before dp_status
// publishes: `frame_busy` holds the job's end until it has left). Four
// 60-byte frames thus cost five write beats. A slot whose ptr was not 0
// when prefetched (`d_pf_p0`), and every slot the step machine writes,
// gets its len/flags written alone as before.
// The destination prefetch is refilled in the background: while a frame
// streams (or finds the prefetch dry), if its ring has room for 16 more
// prefetched slots and the host released more, one read (its own tag,
// `bg_*`) fetches the next ones, at most 256 a read (4 KiB), up to PF
// prefetched and in flight (dp_engine: 512). Two fills of one ring may
// be in flight: at 1.25 cycles per frame a 300-cycle round trip plus 64
// beats uses (300 + 64) / 1.25 = ~290 slots, more than one read brings,
// so one fill per trip bound a long job at 256 frames per ~420 cycles.
// The second leaves 100 cycles after the first at the earliest (its
// completions then come after the first's) and once the prefetch and
// the first leave room for PF / 4 more (two reads of useful size per
// trip). The beats land at their place behind those still prefetched
// whatever this stage does meanwhile (`fill_entry`); a beat of the newer
// fill that comes before the older has ended is dropped (the prefetch
// counts only slots landed in order), with the rest of that fill, and
// those slots are read again later. A frame that finds the prefetch
// empty waits for a fill in flight rather than issuing another.
// The ring's cached head is re-read in the background too (`hb_*`): while
// a frame streams and its ring's known room is under half the ring (a
// round trip's frames at 1 cycle each for a 1024-slot ring at 300
// cycles), one 4-byte read of the status entry's head leaves with its
// own tag; its answer becomes the
// cached hwcur if that ring is still the one on the d port and the head
// is in [hwcur, hwtail], so a job rarely finds its ring full on a stale
// head. A frame short of room waits for such a re-read in flight rather
// than issuing its own; it still drops only after its own re-read in
// D_REFRESH, as before.
`include "nm_defines.svh"

module dp_deliver #(
    // Port table entries.
    parameter int NUM_PORTS  = 8,
    // Rings per direction per port served.
    parameter int RINGS      = 4,
    // BAR2 size in bytes.
    parameter int BAR2_BYTES = 262144,
    // Prefetched slots per RX ring (dp_rx_rings' PF).
    parameter int PF         = 256,
    // (the width of a ring's entry index, of a prefetch position)
    localparam int QW_D = $clog2(NUM_PORTS*RINGS > 1 ? NUM_PORTS*RINGS : 2),
    localparam int PFW  = $clog2(PF)
) (
    input  logic        clk,
    input  logic        rst,

    // Port table (bar0_regs).
    input  logic [NUM_PORTS*`NM_PORT_ENTRY_REGS*32-1:0] port_cfg,

    // The frame (held while this stage runs): source port, its TX ring's
    // BAR2 base and size, first slot, slots, bytes; the first beat.
    input  logic [7:0]   src_port,
    input  logic [31:0]  src_base,
    input  logic [15:0]  src_n,
    input  logic [15:0]  frm_start,
    input  logic [15:0]  frm_slots,
    input  logic [31:0]  frm_bytes,
    input  logic [511:0] first_beat,
    input  logic [63:0]  frm_first_slot,  // its first TX slot (buf_idx, len, flags)

    // The packet buffer (dp_pay_fetch) for this frame's first fragment
    // (the frame at `pb_slot`): read ahead, all of it in; a beat asked for
    // and its data.
    output logic [15:0]  pb_slot,
    input  logic         pb_alloc,
    input  logic         pb_done,
    output logic [4:0]   pb_rd_beat,
    input  logic [511:0] pb_data,

    // The destination (a one-cycle request) and its end.
    input  logic        dst_valid,
    input  logic [7:0]  dst_port,
    input  logic [3:0]  dst_ring,
    output logic        dst_ready,
    output logic        dst_done,

    // The destination ring's state (dp_rx_rings' d port).
    output logic [QW_D-1:0] d_entry,
    input  logic [15:0]  d_hwtail,
    input  logic [15:0]  d_hwcur,
    input  logic [PFW:0] d_pf_cnt,
    output logic [PFW-1:0] d_pf_lane,  // prefetched slot hwtail + d_pf_lane ...
    input  logic [31:0]  d_pf_buf,   // ... its buffer index
    input  logic         d_pf_p0,    // ... its ptr is 0
    output logic         hc_we,      // cached hwcur of d_entry := hc_value
    output logic [15:0]  hc_value,   // (D_REFRESH's, registered, or a background re-read's)
    output logic         ht_we,      // hwtail := ht_value, ht_used slots used, dirty
    output logic [15:0]  ht_value,
    output logic [15:0]  ht_used,
    output logic         fill_we,    // prefetch fill from the response beat
    output logic [QW_D-1:0] fill_entry,  // ... of this ring
    output logic [PFW-1:0] fill_k,
    output logic [2:0]   fill_n,

    // BAR2 descriptor memory, device read port (64-bit words, latency 1).
    output logic                               desc_rd_en,
    output logic [$clog2(BAR2_BYTES / 8)-1:0]  desc_rd_word,
    input  logic [63:0]                        desc_rd_data,
    input  logic                               desc_busy,  // another stage reads

    // DMA read channel (this stage's request register; the responses).
    input  logic         dma_rd_can,
    output logic         dma_rd_req_valid,
    input  logic         dma_rd_req_ready,
    output logic [63:0]  dma_rd_req_addr,
    output logic [12:0]  dma_rd_req_len,
    input  logic [7:0]   dma_rd_req_tag,   // the tag a request leaves with
    input  logic         dma_rd_rsp_valid,
    input  logic [7:0]   dma_rd_rsp_tag,
    output logic         dma_rd_rsp_ready,
    input  logic [511:0] dma_rd_rsp_data,
    input  logic         dma_rd_rsp_last,

    // DMA write channel (this stage's request register).
    input  logic         dma_wr_free,  // the write register is free this cycle
    output logic         dma_wr_req_valid,
    input  logic         dma_wr_req_ready,
    output logic [63:0]  dma_wr_req_addr,
    output logic [6:0]   dma_wr_req_len,
    output logic [511:0] dma_wr_req_data,

    // Counter events and the forwarded-frame event; ev_room: the event
    // queues can take this frame's events (checked before it starts).
    input  logic        ev_room,
    output logic        ca_valid,
    output logic [7:0]  ca_port,
    output logic [3:0]  ca_counter,
    output logic        cb_valid,
    output logic [7:0]  cb_port,
    output logic [3:0]  cb_counter,
    output logic [31:0] cb_amount,
    output logic        ev_forwarded,

    // A background fill's beat (the other stages leave it alone: a fill
    // may outlive the job that started it).
    output logic        bg_own,
    // The job ends: write the gathered slots out now.
    input  logic        flush,
    // Busy with a frame or its slot write, or with `flush` gathered slots
    // still to write (the job may end when low); `busy` adds a background
    // fill in flight (not the gathered slots: they need no read to wait).
    output logic        frame_busy,
    output logic        busy
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    `include "dp_common.svh"
    `include "dp_port_cfg.svh"
    /* verilator lint_on UNUSEDPARAM */

    localparam int WORD_W = $clog2(BAR2_BYTES / 8);
    // A frame that finds the prefetch dry (slot k < DEMAND of its chain)
    // starts a background fill there and takes its slots as its beats
    // land (the first after one beat); slots past the DEMAND-th of a
    // chain are read one by one.
    localparam int DEMAND = 64;

    typedef enum logic [3:0] {
        D_IDLE, D_START, D_FREE, D_REFRESH, D_SLOTRD, D_SLOTWAIT,
        D_CP_SLOT, D_CP_ISSUE, D_CP_BEAT, D_CP_STREAM, D_CP_PB, D_CP_SLOTWR
    } state_t;
    state_t st;

    logic [PW-1:0] dq, cp;
    logic [3:0]    drr;
    logic [QW-1:0] dqe;
    logic [15:0]   dhw, dhc;   // destination hwtail, cached hwcur
    logic          refreshed, rxvalid;
    logic [15:0]   k, sidx, jidx;
    logic [31:0]   rx_buf [MAX_FRAGS];
    logic [63:0]   slot_q;     // TX slot being copied
    logic [15:0]   copy_left;
    logic [63:0]   copy_dst;
    logic [4:0]    pb_i;       // packet buffer beat on pb_data in D_CP_PB
    // The frame, taken with the destination.
    logic [15:0]   fstart, fslots;
    logic [31:0]   fbytes;
    logic [511:0]  fbeat;
    logic [63:0]   fslot0;
    // The TX slot of fragment k: the first is known from dp_tx_fetch, the
    // others are read from BAR2 (D_CP_SLOT).
    logic [63:0]   cur_slot;
    assign cur_slot = (k == 16'd0) ? fslot0 : desc_rd_data;

    assign cp = PW'(src_port);
    // The RX slot write of a frame delivered by the stream, pending.
    logic          sw_pending;
    logic [1:0]    bg_busy;  // background prefetch fills in flight (below)
    logic [63:0]   sw_addr;
    logic [31:0]   sw_data;
    // The gathered run of RX slots (up to a line): g_cnt slots of ring
    // g_entry from g_addr, the next one to join is g_next; per lane its
    // buffer index and len/flags; g_due: the line is complete.
    localparam int LINE_SLOTS = BEAT_BYTES / SLOT_BYTES;
    logic [2:0]    g_cnt;
    logic [QW-1:0] g_entry;
    logic [15:0]   g_next;
    logic [63:0]   g_addr;
    logic          g_due;
    logic [31:0]   g_buf [LINE_SLOTS];
    logic [31:0]   g_lf  [LINE_SLOTS];
    logic [511:0]  g_line;
    always_comb begin
        g_line = '0;
        for (int l = 0; l < LINE_SLOTS; l++) begin
            g_line[8 * SLOT_BYTES * l +: 64] = slot_word(g_buf[l], g_lf[l][15:0],
                                                         g_lf[l][31:16]);
        end
    end
    logic          cur_p0;  // the streamed frame's RX slot had ptr 0
    // The run leaves now: complete, or the ring just taken will not
    // continue it (in D_START, where the FSM does not write: another
    // ring, as in a flood, or not its next slot), or a slot that does not
    // join it is about to stream, or the job ends while this stage is idle.
    logic g_flush;
    assign g_flush = g_cnt != 3'd0
                  && (g_due || (st == D_START && (g_entry != dqe || g_next != d_hwtail))
                      || (st == D_CP_PB && (g_entry != dqe || g_next != jidx))
                      || (flush && st == D_IDLE));
    assign frame_busy = st != D_IDLE || sw_pending || (flush && g_cnt != 3'd0);
    logic hb_busy;  // a background head re-read is in flight (below)
    assign busy = st != D_IDLE || sw_pending || bg_busy != 2'b00 || hb_busy;
    // The ring taken (read in D_START, written with the frame's end).
    assign d_entry = dqe;
    // This stage's write register is free for the FSM (the pending slot
    // write and a run's write go first); reads wait for the slot write.
    logic wr_ok, rd_ok;
    assign wr_ok = dma_wr_free && !sw_pending && !g_flush;
    assign rd_ok = dma_rd_can && !sw_pending;

    // ---- Derived values --------------------------------------------------
    // (the ring's size, registered with the destination: no port
    // table lookup on the paths through the ring arithmetic)
    logic [15:0] rn, rn_q, dfree, clamp_len;
    logic [15:0] room_q;  // last cycle's room of the ring taken (below)
    logic [15:0] used_q;  // and the slots it used then (ht_we)
    logic [63:0] slot_addr_rx;
    logic [31:0] dst_bs;
    always_comb begin
        rn           = rn_q;
        dst_bs       = cfg_buf_size[dq];
        dfree        = rx_free(dhc, dhw, rn);
        slot_addr_rx = cfg_rx_ring[dq] + 64'(drr) * ring_bytes(rn) + slot_off(jidx);
        clamp_len    = (32'(slot_len(cur_slot)) > dst_bs)
                     ? dst_bs[15:0] : slot_len(cur_slot);
    end

    // The head just read from the status entry: in [hwcur, hwtail].
    logic [15:0] beat_head;
    logic        beat_head_ok;
    always_comb begin
        beat_head    = dma_rd_rsp_data[15:0];
        beat_head_ok = dma_rd_rsp_data[31:16] == 16'd0 && beat_head < rn
                    && ring_dist(beat_head, dhc, rn) <= ring_dist(dhw, dhc, rn);
    end

    // Destination slot jidx = hwtail + k is prefetched.
    logic        pf_hit;
    logic [31:0] pf_value;
    assign pf_hit   = k < 16'(d_pf_cnt);
    assign pf_value = d_pf_buf;
    // (0 in D_START; while a frame streams, the next slot's, for the
    // chain test)
    assign d_pf_lane = (st == D_CP_PB) ? PFW'(1) : k[PFW-1:0];
    // The background fills, up to two in flight, both for ring bg_entry
    // (the second is the same ring's next slots). Per fill i: in flight
    // (bg_busy[i]), its tag once accepted (bg_tagged[i]), the position of
    // its next beat's first slot from that ring's hwtail (bg_off[i]: moves
    // back as the ring's slots are used), the slots still to come
    // (bg_left[i]). bg_end: the position past the newest fill's slots
    // (where the next fill starts). bg_old: the older of the two.
    // The prefetch count only grows over slots that have landed in order:
    // a beat of the newer fill that comes while the older is still in
    // flight (completions of two reads may pass each other) is dropped,
    // with the rest of that fill (bg_bad), and no fill leaves until both
    // have ended (bg_end is then stale); the slots are read again later.
    // The second fill leaves BG_GAP cycles after the first at the
    // earliest, so its first completion is due after the older's last
    // one (a read of 256 slots is 64 beats, and the host model jitters a
    // trip by up to 32 cycles) and never passes it; and only once the
    // prefetch and the fill in flight leave room for BG_MIN2 slots (then
    // the two fills' sizes stay apart instead of one large and one tiny
    // per round trip: two reads of up to 256 slots per trip).
    localparam int BG_GAP  = 100;
    localparam int BG_MIN2 = PF / 4;
    logic [1:0]     bg_tagged, bg_req, bg_bad, bg_hit, bg_drop;
    logic [7:0]     bg_tag [2];
    logic [QW-1:0]  bg_entry;
    logic [PFW-1:0] bg_off [2];
    logic [PFW:0]   bg_left [2];
    logic [PFW:0]   bg_end;
    logic           bg_old, bg_sel, bg_beat, rsp_valid;
    logic [6:0]     bg_gap;
    // The background head re-read: in flight for ring hb_entry, its tag
    // once accepted; its answer (hb_head) applied the next cycle (hb_ans).
    logic           hb_req, hb_tagged, hb_beat, hb_ans, hb_apply;
    logic [7:0]     hb_tag;
    logic [QW-1:0]  hb_entry;
    logic [31:0]    hb_word;
    logic           hc_we_q;
    logic [15:0]    hc_value_q;
    for (genvar i = 0; i < 2; i++) begin : g_bg
        assign bg_hit[i]  = bg_busy[i] && bg_tagged[i] && dma_rd_rsp_valid
                         && dma_rd_rsp_tag == bg_tag[i];
        // (the other fill is older and still in flight: out of order)
        assign bg_drop[i] = bg_hit[i] && (bg_bad[i] || (bg_busy[1 - i] && bg_old == 1'(1 - i)));
    end
    assign bg_beat   = bg_hit != 2'b00;
    assign bg_sel    = bg_hit[1];
    assign hb_beat   = hb_busy && hb_tagged && dma_rd_rsp_valid && dma_rd_rsp_tag == hb_tag;
    assign rsp_valid = dma_rd_rsp_valid && !bg_beat && !hb_beat;  // a beat of the FSM's read
    assign bg_own    = bg_beat || hb_beat;
    // The answer is taken if its ring is the d port's and the head is in
    // [hwcur, hwtail] there (D_REFRESH's write, if any, goes first).
    assign hb_apply  = hb_ans && hb_entry == dqe && !hc_we_q && hb_word[31:16] == 16'd0
                    && hb_word[15:0] < rn
                    && ring_dist(hb_word[15:0], d_hwcur, rn) <= ring_dist(d_hwtail, d_hwcur, rn);
    assign hc_we     = hc_we_q || hb_apply;
    assign hc_value  = hc_we_q ? hc_value_q : hb_word[15:0];
    assign fill_entry = bg_entry;
    assign fill_k  = bg_off[bg_sel];
    assign fill_n  = (bg_left[bg_sel] > (PFW + 1)'(4)) ? 3'd4 : 3'(bg_left[bg_sel]);
    assign fill_we = bg_beat && bg_drop == 2'b00;
    // Start one while a frame streams: the ring's next released slots
    // after those prefetched and in flight (pf_end), up to PF, not past
    // the ring's end.
    logic [15:0] bg_free, bg_j, bg_want;
    logic [PFW:0] pf_end;
    logic         bg_i;  // the fill that leaves (the free one)
    assign pf_end = (bg_busy == 2'b00) ? d_pf_cnt : bg_end;
    assign bg_i   = bg_busy[0];
    always_comb begin
        // (the room from last cycle's, registered, less the slots used
        // then: never more than the host released)
        bg_free = (room_q > 16'(pf_end) + used_q) ? room_q - 16'(pf_end) - used_q : 16'd0;
        bg_j    = d_hwtail + 16'(pf_end);
        if (bg_j >= rn) bg_j = bg_j - rn;
        bg_want = 16'(PF) - 16'(pf_end);
        // (a read of at most 256 slots, 4 KiB: no logic when PF is 256)
        if (PF > 256 && bg_want > 16'd256) bg_want = 16'd256;
        if (rn - bg_j < bg_want) bg_want = rn - bg_j;
        if (bg_free < bg_want) bg_want = bg_free;
    end
    logic bg_go;
    // (It need not wait for this stage's writes: it reads released slots,
    // which no write of the data path touches, and no other stage reads
    // while delivery is busy.)
    // The second only for the ring of the first, neither out of order.
    // (Also for a frame that finds the prefetch dry, in D_SLOTRD.)
    assign bg_go = (st == D_CP_PB || (st == D_SLOTRD && rd_ok && !pf_hit && k < 16'(DEMAND)))
                && !dma_rd_req_valid && bg_want != 16'd0
                && (bg_busy == 2'b00 ? d_pf_cnt <= (PFW + 1)'(PF - 16)
                    : bg_busy != 2'b11 && bg_entry == dqe && bg_bad == 2'b00
                      && bg_gap == 7'd0 && bg_end <= (PFW + 1)'(PF - BG_MIN2));
    // The head re-read, in a cycle the fill does not take (the fill's
    // request, issued after it below, wins the request register: only the
    // re-read's own flags look at bg_go, so it adds no level after it).
    // (Only while a frame streams: the other stages issue reads only in
    // states where this one does not, so two requests never meet in the
    // engine's request mux; an idle re-read collided with dp_status's
    // read-backs.)
    logic hb_go;
    assign hb_go = st == D_CP_PB && !hb_busy && !dma_rd_req_valid
                && room_q < (rn >> 1);

    // BAR2: the TX slot of fragment k, read in D_CP_SLOT.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0] slot_byte;
    assign slot_byte    = src_base + 32'(slot_off(sidx));
    /* verilator lint_on UNUSEDSIGNAL */
    assign desc_rd_en   = st == D_CP_SLOT && !desc_busy;

    // Packet buffer: beat 0 until the stream starts, then the next beat
    // as each one leaves; during a one-fragment frame's last beat, beat 0
    // of the next destination's frame (it may stream next), and the last
    // beat, if it must wait for the write channel, is kept in pb_q.
    logic pb_last, pb_next, use_q;
    logic [511:0] pb_q, pb_beat;
    assign pb_last    = st == D_CP_PB && 32'(copy_left) <= BEAT_BYTES;
    assign pb_next    = pb_last && fslots == 16'd1 && dst_valid;
    assign pb_slot    = pb_next ? frm_start : fstart;
    assign pb_rd_beat = (st != D_CP_PB || pb_last) ? 5'd0 : wr_ok ? pb_i + 5'd1 : pb_i;
    assign pb_beat    = use_q ? pb_q : pb_data;
    // The first fragment is whole in the buffer (or will be: wait for it
    // rather than read it again). dp_vale_fwd then kept only the header,
    // so a short frame comes from the buffer too.
    logic from_pb;
    assign from_pb = k == 16'd0 && pb_alloc && slot_len(cur_slot) != 16'd0;
    assign desc_rd_word = slot_byte[WORD_W+2:3];

    always_comb begin
        case (st)
            D_REFRESH, D_SLOTWAIT: dma_rd_rsp_ready = 1'b1;
            D_CP_STREAM: dma_rd_rsp_ready = wr_ok || bg_beat || hb_beat;
            default: dma_rd_rsp_ready = bg_beat || hb_beat;
        endcase
    end

    // RX slot flags: the fragment count (capped to its field), MOREFRAG
    // on all but the last fragment.
    localparam logic [15:0] RFRAGS_MAX = 16'((32'd1 << (32'd16 - NS_RFRAGS_SHIFT)) - 32'd1);
    logic [15:0] rx_flags;
    assign rx_flags = (((fslots > RFRAGS_MAX) ? RFRAGS_MAX : fslots) << NS_RFRAGS_SHIFT)
                    | ((k + 16'd1 < fslots) ? NS_MOREFRAG : 16'd0);

    // The stream's fast path, decided in D_START from the ring's state:
    // one fragment, room, the next prefetched slot good, the payload in.
    logic fast;
    logic [15:0] d_room;
    assign d_room = rx_free(d_hwcur, d_hwtail, rn);
    assign fast = fslots == 16'd1 && d_room != 16'd0
               && d_pf_cnt != '0 && buf_ok(d_pf_buf, cfg_num_bufs[dq])
               && from_pb && pb_done;
    // The frame's last beat leaves from the packet buffer this cycle: it
    // is delivered now, and the next destination may be taken.
    logic fin_now;
    assign fin_now = st == D_CP_PB && wr_ok && 32'(copy_left) <= BEAT_BYTES
                  && k + 16'd1 == fslots;
    assign dst_ready = st == D_IDLE || fin_now;
    // The chain test: the destination taken with this last beat streams
    // from the next cycle (same ring; one fragment; room for both frames;
    // the slot after this one prefetched (lane 1) and good; its payload
    // whole in the packet buffer: pb_slot names it now; its events fit).
    // The room is last cycle's (room_q, registered: the ring is the same
    // in D_CP_PB), less the frame that may have ended then: at least 3
    // leaves 2 now. (A head is only ever replaced by a newer one the host
    // wrote, or an older answer landing late: the room of a cycle ago is
    // never more than the host released.)
    logic chain;
    assign chain = fin_now && pb_next && dst_port == 8'(dq) && dst_ring == drr
                && frm_slots == 16'd1 && ev_room && room_q >= 16'd3
                && d_pf_cnt >= (PFW + 1)'(2) && buf_ok(d_pf_buf, cfg_num_bufs[dq])
                && pb_alloc && pb_done && slot_len(frm_first_slot) != 16'd0;
    // hwtail moves with the stream's last beat (fin_now), or the cycle
    // after a slot written by D_CP_SLOTWR (ht_q).
    logic        ht_q;
    logic [15:0] ht_value_q, ht_used_q;
    assign ht_we    = ht_q || fin_now;
    assign ht_value = fin_now ? nxt(jidx, rn) : ht_value_q;
    assign ht_used  = fin_now ? fslots : ht_used_q;
    logic [15:0] rx_len;  // the RX slot's len: the fragment's, clamped
    assign rx_len = (32'(slot_len(slot_q)) > dst_bs) ? dst_bs[15:0] : slot_len(slot_q);

    task automatic take_frame();
        fstart <= frm_start;
        fslots <= frm_slots;
        fbytes <= frm_bytes;
        fbeat  <= first_beat;
        fslot0 <= frm_first_slot;
        dq  <= PW'(dst_port);
        rn_q <= cfg_rx_slots[PW'(dst_port)];
        drr <= dst_ring;
        dqe <= entry_of(32'(dst_port), 32'(dst_ring));
        k   <= '0;
    endtask
    task automatic take_dst();
        take_frame();
        st <= D_START;
    endtask

    task automatic rd_issue(input logic [63:0] addr, input logic [12:0] len);
        dma_rd_req_valid <= 1'b1;
        dma_rd_req_addr  <= addr;
        dma_rd_req_len   <= len;
    endtask
    task automatic wr_issue(input logic [63:0] addr, input logic [6:0] len,
                            input logic [511:0] data);
        dma_wr_req_valid <= 1'b1;
        dma_wr_req_addr  <= addr;
        dma_wr_req_len   <= len;
        dma_wr_req_data  <= data;
    endtask
    // Slot k's buffer; after the last, all of them are checked: one bad
    // and nothing is written, else the copy starts with fragment 0.
    task automatic take_buf(input logic [31:0] b);
        rx_buf[k[5:0]] <= b;
        if (k + 16'd1 != fslots) begin
            rxvalid <= rxvalid && buf_ok(b, cfg_num_bufs[dq]);
            k    <= k + 16'd1;
            jidx <= nxt(jidx, rn);
            st   <= D_SLOTRD;
        end else if (!(rxvalid && buf_ok(b, cfg_num_bufs[dq]))) begin
            ca_valid <= 1'b1; ca_port <= 8'(dq); ca_counter <= CNT_RX_DROP_BAD_BUF;
            dst_done <= 1'b1;
            st <= D_IDLE;
        end else begin
            k    <= '0;
            sidx <= fstart;
            jidx <= dhw;
            st   <= D_CP_ISSUE;
        end
    endtask

    always_ff @(posedge clk) begin
        if (rst) begin
            st <= D_IDLE;
            dma_rd_req_valid <= 1'b0;
            dma_wr_req_valid <= 1'b0;
            dst_done <= 1'b0;
            hc_we_q <= 1'b0;
            ht_q <= 1'b0;
            sw_pending <= 1'b0;
            g_cnt <= '0;
            g_due <= 1'b0;
            use_q <= 1'b0;
            bg_busy <= '0;
            bg_req <= '0;
            bg_tagged <= '0;
            bg_bad <= '0;
            bg_gap <= '0;
            hb_busy <= 1'b0;
            hb_req <= 1'b0;
            hb_ans <= 1'b0;
            ca_valid <= 1'b0;
            cb_valid <= 1'b0;
            ev_forwarded <= 1'b0;
        end else begin
            dst_done <= 1'b0;
            hc_we_q <= 1'b0;
            ht_q <= 1'b0;
            ca_valid <= 1'b0;
            cb_valid <= 1'b0;
            ev_forwarded <= 1'b0;
            if (dma_rd_req_valid && dma_rd_req_ready) dma_rd_req_valid <= 1'b0;
            if (dma_wr_req_valid && dma_wr_req_ready) dma_wr_req_valid <= 1'b0;
            // The stream's RX slot write (len and flags) goes first, then
            // the gathered run's.
            if (sw_pending && dma_wr_free) begin
                wr_issue(sw_addr, 7'(SLOT_PTR - SLOT_LEN), 512'(sw_data));
                sw_pending <= 1'b0;
            end else if (g_flush && dma_wr_free) begin
                wr_issue(g_addr, 7'(g_cnt) * 7'(SLOT_BYTES), g_line);
                g_cnt <= '0;
                g_due <= 1'b0;
            end
            room_q <= d_room;
            used_q <= ht_we ? ht_used : 16'd0;
            // A last beat that waits for the write channel is kept.
            use_q <= pb_last && !wr_ok;
            if (!use_q) pb_q <= pb_data;
            // The background fill: its tag when the request leaves, its
            // beats, and its place as the ring's slots are used.
            for (int i = 0; i < 2; i++) begin
                if (bg_req[i] && dma_rd_req_ready) begin
                    bg_req[i]    <= 1'b0;
                    bg_tagged[i] <= 1'b1;
                    bg_tag[i]    <= dma_rd_req_tag;
                end
                if (bg_busy[i]) begin
                    bg_off[i] <= bg_off[i] + (bg_hit[i] ? PFW'(4) : '0)
                               - ((ht_we && dqe == bg_entry) ? PFW'(ht_used) : '0);
                    if (bg_hit[i]) bg_left[i] <= bg_left[i] - (PFW + 1)'(fill_n);
                    if (bg_drop[i]) bg_bad[i] <= 1'b1;
                    if (bg_hit[i] && dma_rd_rsp_last) begin
                        bg_busy[i]   <= 1'b0;
                        bg_tagged[i] <= 1'b0;
                    end
                end
            end
            if (bg_busy == 2'b00) bg_bad <= '0;
            if (bg_gap != 7'd0) bg_gap <= bg_gap - 7'd1;
            if (ht_we && dqe == bg_entry) bg_end <= bg_end - (PFW + 1)'(ht_used);
            // The head re-read: its tag when the request leaves, its answer.
            if (hb_req && dma_rd_req_ready) begin
                hb_req    <= 1'b0;
                hb_tagged <= 1'b1;
                hb_tag    <= dma_rd_req_tag;
            end
            hb_ans <= hb_beat;
            if (hb_beat) begin
                hb_word   <= dma_rd_rsp_data[31:0];
                hb_busy   <= 1'b0;
                hb_tagged <= 1'b0;
            end
            if (hb_go) rd_issue(cfg_status[dq] + st_off(drr, 1'b1, ST_HEAD), 13'd4);
            if (hb_go && !bg_go) begin
                hb_busy   <= 1'b1;
                hb_req    <= 1'b1;
                hb_tagged <= 1'b0;
                hb_entry  <= dqe;
            end
            if (bg_go) begin
                rd_issue(cfg_rx_ring[dq] + 64'(drr) * ring_bytes(rn) + slot_off(bg_j)
                         + 64'(SLOT_BUF_IDX),
                         13'(32'(bg_want) * SLOT_BYTES - SLOT_BUF_IDX));  // (ptr too)
                bg_busy[bg_i]   <= 1'b1;
                bg_req[bg_i]    <= 1'b1;
                bg_tagged[bg_i] <= 1'b0;
                bg_bad[bg_i]    <= 1'b0;
                bg_entry        <= dqe;
                bg_off[bg_i]    <= PFW'(pf_end) - (fin_now ? PFW'(fslots) : '0);
                bg_left[bg_i]   <= (PFW + 1)'(bg_want);
                bg_end          <= pf_end + (PFW + 1)'(bg_want)
                                 - (fin_now ? (PFW + 1)'(fslots) : '0);
                bg_old          <= !bg_i;  // the other, if in flight
                bg_gap          <= 7'(BG_GAP);
            end

            case (st)
            D_IDLE: if (dst_valid) take_dst();

            D_START: begin
                // The ring's state (d_entry = the taken ring); this frame
                // counts at most once per event queue.
                if (ev_room) begin
                    dhw <= d_hwtail;
                    dhc <= d_hwcur;
                    refreshed <= 1'b0;
                    if (fast) begin
                        rx_buf[0] <= d_pf_buf;
                        cur_p0    <= d_pf_p0;
                        rxvalid   <= 1'b1;
                        jidx      <= d_hwtail;
                        sidx      <= fstart;
                        slot_q    <= cur_slot;
                        copy_left <= clamp_len;
                        copy_dst  <= cfg_pool[dq] + 64'(d_pf_buf) * 64'(dst_bs);
                        pb_i      <= '0;
                        st <= D_CP_PB;
                    end else begin
                        cur_p0 <= 1'b0;  // the step machine writes its slots alone
                        st <= D_FREE;
                    end
                end
            end

            D_FREE: begin
                if (fslots > dfree) begin
                    if (!refreshed) begin
                        // A background re-read of this ring in flight: its
                        // answer first (the room it brings is taken here).
                        if (hb_apply) dhc <= hb_word[15:0];
                        if ((hb_busy && hb_entry == dqe) || hb_ans) begin
                            // (wait)
                        end else if (rd_ok) begin
                            rd_issue(cfg_status[dq] + st_off(drr, 1'b1, ST_HEAD),
                                     13'(ST_NEED_KICK + 32'd4 - ST_HEAD));
                            st <= D_REFRESH;
                        end
                    end else begin
                        ca_valid <= 1'b1; ca_port <= 8'(dq); ca_counter <= CNT_RX_DROP_FULL;
                        cb_valid <= 1'b1; cb_port <= src_port;
                        cb_counter <= CNT_TX_DROP_FULL; cb_amount <= 32'd1;
                        dst_done <= 1'b1;
                        st <= D_IDLE;
                    end
                end else begin
                    k <= '0;
                    jidx <= dhw;
                    rxvalid <= 1'b1;
                    st <= D_SLOTRD;
                end
            end

            D_REFRESH: begin
                if (rsp_valid) begin
                    if (beat_head_ok) begin
                        dhc <= beat_head;
                        hc_we_q <= 1'b1;
                        hc_value_q <= beat_head;
                    end
                    refreshed <= 1'b1;
                    st <= D_FREE;
                end
            end

            D_SLOTRD: begin
                if (pf_hit) begin
                    take_buf(pf_value);
                end else if (k >= 16'(DEMAND) && rd_ok && bg_busy == 2'b00) begin
                    // (below DEMAND: a background fill from this slot, bg_go)
                    rd_issue(slot_addr_rx + 64'(SLOT_BUF_IDX),
                             13'(SLOT_LEN - SLOT_BUF_IDX));
                    st <= D_SLOTWAIT;
                end
            end

            D_SLOTWAIT: begin
                if (rsp_valid) take_buf(dma_rd_rsp_data[31:0]);
            end

            D_CP_SLOT: if (!desc_busy) st <= D_CP_ISSUE;  // the slot is read now

            D_CP_ISSUE: begin
                if (from_pb) begin
                    if (pb_done) begin
                        slot_q    <= cur_slot;
                        copy_left <= clamp_len;
                        copy_dst  <= cfg_pool[dq] + 64'(rx_buf[k[5:0]]) * 64'(dst_bs);
                        pb_i      <= '0;
                        st <= D_CP_PB;
                    end
                end else if (rd_ok) begin
                    slot_q    <= cur_slot;
                    copy_left <= clamp_len;
                    copy_dst  <= cfg_pool[dq] + 64'(rx_buf[k[5:0]]) * 64'(dst_bs);
                    if (slot_len(cur_slot) == 16'd0) begin
                        st <= D_CP_SLOTWR;
                    end else if (k == 16'd0 && 32'(slot_len(cur_slot)) <= BEAT_BYTES) begin
                        st <= D_CP_BEAT;  // the first beat already holds it
                    end else begin
                        rd_issue(cfg_pool[cp] + 64'(slot_buf(cur_slot))
                                 * 64'(cfg_buf_size[cp]), 13'(clamp_len));
                        st <= D_CP_STREAM;
                    end
                end
            end

            D_CP_BEAT: begin
                if (wr_ok) begin
                    wr_issue(copy_dst, 7'(copy_left), fbeat);
                    st <= D_CP_SLOTWR;
                end
            end

            D_CP_STREAM: begin
                if (rsp_valid && wr_ok) begin
                    wr_issue(copy_dst, 32'(copy_left) > BEAT_BYTES ? 7'(BEAT_BYTES) : 7'(copy_left),
                             dma_rd_rsp_data);
                    copy_dst  <= copy_dst + 64'(BEAT_BYTES);
                    copy_left <= 32'(copy_left) > BEAT_BYTES ? copy_left - 16'(BEAT_BYTES) : 16'd0;
                    if (dma_rd_rsp_last) st <= D_CP_SLOTWR;
                end
            end

            D_CP_PB: begin
                if (wr_ok) begin
                    wr_issue(copy_dst, 32'(copy_left) > BEAT_BYTES ? 7'(BEAT_BYTES) : 7'(copy_left),
                             pb_beat);
                    copy_dst  <= copy_dst + 64'(BEAT_BYTES);
                    copy_left <= 32'(copy_left) > BEAT_BYTES ? copy_left - 16'(BEAT_BYTES) : 16'd0;
                    pb_i      <= pb_i + 5'd1;
                    if (fin_now) begin
                        // Delivered (hwtail moves now, ht_we); the slot
                        // joins the gathered run (g_flush made room for it
                        // first), or its len/flags follow from sw_*.
                        if (cur_p0) begin
                            if (g_cnt == 3'd0) begin
                                g_addr  <= slot_addr_rx;
                                g_entry <= dqe;
                            end
                            g_buf[g_cnt[1:0]] <= rx_buf[0];
                            g_lf[g_cnt[1:0]]  <= {rx_flags, rx_len};
                            g_cnt  <= g_cnt + 3'd1;
                            g_next <= nxt(jidx, rn);
                            g_due  <= 32'(g_cnt) == LINE_SLOTS - 1
                                   || 32'(slot_addr_rx[5:0]) == BEAT_BYTES - SLOT_BYTES
                                   || nxt(jidx, rn) == 16'd0;
                        end else begin
                            sw_pending <= 1'b1;
                            sw_addr    <= slot_addr_rx + 64'(SLOT_LEN);
                            sw_data    <= {rx_flags, rx_len};
                        end
                        ca_valid <= 1'b1; ca_port <= 8'(dq); ca_counter <= CNT_RX_PACKETS;
                        cb_valid <= 1'b1; cb_port <= 8'(dq);
                        cb_counter <= CNT_RX_BYTES; cb_amount <= fbytes;
                        ev_forwarded <= 1'b1;
                        dst_done <= 1'b1;
                        if (chain) begin
                            // The next frame streams into the next slot
                            // of this ring (D_START's work, from lane 1).
                            take_frame();
                            dhw       <= nxt(jidx, rn);
                            dhc       <= d_hwcur;
                            refreshed <= 1'b0;
                            rx_buf[0] <= d_pf_buf;
                            cur_p0    <= d_pf_p0;
                            rxvalid   <= 1'b1;
                            jidx      <= nxt(jidx, rn);
                            sidx      <= frm_start;
                            slot_q    <= frm_first_slot;
                            copy_left <= (32'(slot_len(frm_first_slot)) > dst_bs)
                                       ? dst_bs[15:0] : slot_len(frm_first_slot);
                            copy_dst  <= cfg_pool[dq] + 64'(d_pf_buf) * 64'(dst_bs);
                            pb_i      <= '0;
                        end else if (dst_valid) take_dst();
                        else st <= D_IDLE;
                    end else if (32'(copy_left) <= BEAT_BYTES) begin
                        st <= D_CP_SLOTWR;
                    end
                end
            end

            D_CP_SLOTWR: begin
                if (wr_ok) begin
                    // len and flags of RX slot jidx.
                    wr_issue(slot_addr_rx + 64'(SLOT_LEN), 7'(SLOT_PTR - SLOT_LEN), '0);
                    dma_wr_req_data[15:0] <= rx_len;
                    dma_wr_req_data[8 * (SLOT_FLAGS - SLOT_LEN) +: 16] <= rx_flags;
                    k    <= k + 16'd1;
                    jidx <= nxt(jidx, rn);
                    sidx <= nxt(sidx, src_n);
                    if (k + 16'd1 == fslots) begin
                        // Delivered: the slots are the receiver's at publish.
                        ht_q       <= 1'b1;
                        ht_value_q <= nxt(jidx, rn);
                        ht_used_q  <= fslots;
                        ca_valid <= 1'b1; ca_port <= 8'(dq); ca_counter <= CNT_RX_PACKETS;
                        cb_valid <= 1'b1; cb_port <= 8'(dq);
                        cb_counter <= CNT_RX_BYTES; cb_amount <= fbytes;
                        ev_forwarded <= 1'b1;
                        dst_done <= 1'b1;
                        st <= D_IDLE;
                    end else begin
                        st <= D_CP_SLOT;
                    end
                end
            end

            default: st <= D_IDLE;
            endcase
        end
    end
endmodule
