// Shared by the data path's stage modules (dp_*.sv): entry indexes,
// ring arithmetic, the addresses of rings, slots and status entries, the
// slot's fields. Included inside a module after regmap.svh and
// contract.svh, with parameters NUM_PORTS and RINGS in scope. Hand-written:
// every contract value comes from the two generated includes.

    localparam int NQ = NUM_PORTS * RINGS;  // (port, ring) entries
    localparam int QW = (NQ > 1) ? $clog2(NQ) : 1;
    localparam int PW = (NUM_PORTS > 1) ? $clog2(NUM_PORTS) : 1;
    // Bytes of one DMA data beat (the 512-bit data path).
    localparam int BEAT_BYTES = 64;

    /* verilator lint_off UNUSEDSIGNAL */
    function automatic logic is_vale(input logic [31:0] kind);
        is_vale = kind == PORT_KIND_VALE;
    endfunction
    function automatic logic is_pipe(input logic [31:0] kind);
        is_pipe = kind == PORT_KIND_PIPE_MASTER || kind == PORT_KIND_PIPE_SLAVE;
    endfunction
    // Next slot index in a ring of n slots.
    function automatic logic [15:0] nxt(input logic [15:0] i, input logic [15:0] n);
        nxt = (i + 16'd1 == n) ? 16'd0 : i + 16'd1;
    endfunction
    // (a - b) mod n for a, b < n.
    function automatic logic [15:0] ring_dist(input logic [15:0] a, input logic [15:0] b,
                                              input logic [15:0] n);
        ring_dist = (a >= b) ? a - b : a + n - b;
    endfunction
    // Free slots of an RX ring: from hwtail up to (not including) hwcur - 1.
    function automatic logic [15:0] rx_free(input logic [15:0] cur, input logic [15:0] tail,
                                            input logic [15:0] n);
        rx_free = ring_dist(cur + n - 16'd1 >= n ? cur - 16'd1 : cur + n - 16'd1, tail, n);
    endfunction
    // Entry index of (port, ring), and back.
    function automatic logic [QW-1:0] entry_of(input int p, input int r);
        entry_of = QW'(p * RINGS + r);
    endfunction
    function automatic logic [PW-1:0] port_of(input logic [QW-1:0] q);
        port_of = PW'(32'(q) / RINGS);
    endfunction
    function automatic logic [3:0] ring_of(input logic [QW-1:0] q);
        ring_of = 4'(32'(q) % RINGS);
    endfunction
    // Byte offset of a ring's status entry (plus field) in a port's blocks.
    function automatic logic [63:0] st_off(input logic [3:0] ring, input logic rx,
                                           input logic [31:0] field);
        logic [31:0] index;
        index = {28'd0, ring} + (rx ? ST_RX_FIRST : 32'd0);
        st_off = {32'd0, index * ST_SIZE + field};
    endfunction
    // Bytes of one netmap ring of n slots (header and slots).
    function automatic logic [63:0] ring_bytes(input logic [15:0] n);
        ring_bytes = 64'(RING_HEADER_BYTES) + 64'(n) * 64'(SLOT_BYTES);
    endfunction
    // Byte offset of slot i inside a ring.
    function automatic logic [63:0] slot_off(input logic [15:0] i);
        slot_off = 64'(RING_HEADER_BYTES) + 64'(i) * 64'(SLOT_BYTES);
    endfunction
    // A slot's first 64 bits (buf_idx, len, flags), and their fields.
    function automatic logic [63:0] slot_word(input logic [31:0] buf_idx,
                                              input logic [15:0] len,
                                              input logic [15:0] flags);
        slot_word = '0;
        slot_word[8 * SLOT_BUF_IDX +: 32] = buf_idx;
        slot_word[8 * SLOT_LEN +: 16]     = len;
        slot_word[8 * SLOT_FLAGS +: 16]   = flags;
    endfunction
    function automatic logic [31:0] slot_buf(input logic [63:0] w);
        slot_buf = w[8 * SLOT_BUF_IDX +: 32];
    endfunction
    function automatic logic [15:0] slot_len(input logic [63:0] w);
        slot_len = w[8 * SLOT_LEN +: 16];
    endfunction
    function automatic logic [15:0] slot_flags(input logic [63:0] w);
        slot_flags = w[8 * SLOT_FLAGS +: 16];
    endfunction
    // Buffer index in the pool's valid range.
    function automatic logic buf_ok(input logic [31:0] b, input logic [31:0] num_bufs);
        buf_ok = b >= BUF_FIRST_VALID && b < num_bufs;
    endfunction
    // What dp_tx_fetch found at the ring's hwcur.
    localparam logic [1:0] FETCH_FRAME = 2'd0;  // a complete frame
    localparam logic [1:0] FETCH_END   = 2'd1;  // nothing: hwcur is head
    localparam logic [1:0] FETCH_WAIT  = 2'd2;  // an unfinished chain: it waits
    localparam logic [1:0] FETCH_DROP  = 2'd3;  // an unfinished chain too long to wait
    /* verilator lint_on UNUSEDSIGNAL */
