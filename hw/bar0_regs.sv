// BAR0 register file: a linked list of register blocks (device, switch,
// port table, per-port counters, notifications, doorbells), laid out as
// hw/README.md specifies (constants generated into regmap.svh). Reads
// answer one cycle after they are accepted.
`include "nm_defines.svh"

module bar0_regs #(
    // Table geometry and learn queue depth, reported in the switch block.
    parameter int ROWS        = 1024,
    parameter int WAYS        = 1,
    parameter int QUEUE_DEPTH = 8,
    // Port table entries (at most 254).
    parameter int NUM_PORTS   = 8,
    // BAR2 size in bytes and rings per direction served (reported only).
    parameter int BAR2_BYTES  = 262144,
    parameter int RINGS       = 4
) (
    input  logic        clk,
    input  logic        rst,

    // BAR0 requests (always accepted) and read responses.
    input  logic        req_valid,
    output logic        req_ready,
    input  logic        req_write,
    input  logic [15:0] req_addr,
    input  logic [31:0] req_wdata,
    output logic        rsp_valid,
    output logic [31:0] rsp_rdata,

    // Switch control and status.
    output logic        sw_flush,
    output logic        sw_learn_enable,
    // Forget one port's entries (one-cycle pulse, port alongside).
    output logic        sw_forget,
    output logic [7:0]  sw_forget_port,
    input  logic        sw_flush_busy,
    input  logic        sw_queue_busy,
    // Table readback.
    output logic        rb_req,
    output logic [31:0] rb_index,
    input  logic        rb_valid,
    input  logic [63:0] rb_entry,
    // Switch events, one pulse each, counted here.
    input  logic        ev_hit,
    input  logic        ev_miss,
    input  logic        ev_learn,
    input  logic        ev_flood,
    input  logic        ev_drop,
    input  logic        ev_overflow,

    input  logic        ev_lookup,
    input  logic        ev_forwarded,

    // Port table, for the data path: one enable bit per port, and every
    // entry's PORT_ENTRY_REGS (16) registers (entry p, register r at bits
    // (p * 16 + r) * 32).
    output logic [NUM_PORTS-1:0] port_enable,
    output logic [NUM_PORTS*`NM_PORT_ENTRY_REGS*32-1:0] port_cfg,

    // Per-port counters (held by port_counters), read combinationally.
    output logic [7:0]  pc_rd_port,
    output logic [3:0]  pc_rd_counter,
    input  logic [31:0] pc_rd_data,

    // Notification lines, counted per port.
    input  logic [NUM_PORTS-1:0] notify,

    // Doorbells: one pulse per accepted doorbell write. db_rx: an RX
    // doorbell (slots released); head 0xffff marks a value out of range.
    output logic        db_valid,
    output logic        db_rx,
    output logic [7:0]  db_port,
    output logic [3:0]  db_ring,
    output logic [15:0] db_head
);
    /* verilator lint_off UNUSEDPARAM */
    `include "regmap.svh"
    `include "contract.svh"
    /* verilator lint_on UNUSEDPARAM */

    localparam int PORT_REG_W = $clog2(PORT_ENTRY_REGS);
    localparam int PORT_IDX_W = (NUM_PORTS > 1) ? $clog2(NUM_PORTS) : 1;

    assign req_ready = 1'b1;

    logic        rd, wr;
    assign rd = req_valid && !req_write;
    assign wr = req_valid && req_write;

    logic [31:0] scratch;
    logic [31:0] cnt_hit, cnt_miss, cnt_learn, cnt_flood, cnt_drop, cnt_overflow;
    logic [31:0] cnt_lookups, cnt_forwarded;
    logic [31:0] cnt_notify [NUM_PORTS];
    logic        rb_busy;
    logic [63:0] rb_data;
    logic [31:0] port_regs [NUM_PORTS][PORT_ENTRY_REGS];

    // Which port entry and register an address falls in, if any.
    logic                 addr_in_ports;
    // Only the entry and register fields of the offset matter.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [15:0]          port_offset;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [7:0]           port_index;
    logic [PORT_REG_W-1:0] port_reg;
    always_comb begin
        port_offset   = req_addr - PORT_ENTRY_BASE[15:0];
        port_index    = 8'(port_offset / PORT_ENTRY_STRIDE[15:0]);
        port_reg      = PORT_REG_W'((port_offset % PORT_ENTRY_STRIDE[15:0]) / 16'd4);
        addr_in_ports = req_addr >= PORT_ENTRY_BASE[15:0]
                     && req_addr < PORT_COUNTERS_BASE[15:0]
                     && {8'd0, port_index} < NUM_PORTS[15:0]
                     && (port_offset % PORT_ENTRY_STRIDE[15:0]) / 16'd4 < PORT_ENTRY_REGS[15:0];
    end

    // Per-port counters: port = offset / PC_ENTRY_STRIDE, then 4 bytes each.
    logic        addr_in_counters;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [15:0] pc_offset, nt_offset, db_offset, dbrx_offset;
    /* verilator lint_on UNUSEDSIGNAL */
    always_comb begin
        pc_offset        = req_addr - PC_ENTRY_BASE[15:0];
        pc_rd_port       = 8'(pc_offset / PC_ENTRY_STRIDE[15:0]);
        pc_rd_counter    = 4'((pc_offset % PC_ENTRY_STRIDE[15:0]) / 16'd4);
        addr_in_counters = req_addr >= PC_ENTRY_BASE[15:0]
                        && req_addr < NOTIFY_BASE[15:0]
                        && {8'd0, pc_rd_port} < NUM_PORTS[15:0]
                        && {12'd0, pc_rd_counter} < PC_COUNTERS[15:0];
    end

    // Notification counts: one register per port.
    logic       addr_in_notify;
    logic [7:0] nt_port;
    always_comb begin
        nt_offset      = req_addr - NT_RAISED_BASE[15:0];
        nt_port        = nt_offset[9:2];
        addr_in_notify = req_addr >= NT_RAISED_BASE[15:0]
                      && req_addr < DOORBELL_BASE[15:0]
                      && nt_offset[15:10] == 6'd0
                      && {8'd0, nt_port} < NUM_PORTS[15:0];
    end

    // Doorbells (write only): TX ones by address, RX ones by port with
    // the ring in the value.
    always_comb begin
        db_offset   = req_addr - DB_TX_BASE[15:0];
        dbrx_offset = req_addr - DB_RX_BASE[15:0];
    end
    always_ff @(posedge clk) begin
        if (rst) begin
            db_valid <= 1'b0;
            db_rx    <= 1'b0;
            db_port  <= '0;
            db_ring  <= '0;
            db_head  <= '0;
        end else begin
            db_valid <= 1'b0;
            if (wr && req_addr >= DB_TX_BASE[15:0] && req_addr < DB_RX_BASE[15:0]
                    && db_offset / DB_TX_STRIDE[15:0] < NUM_PORTS[15:0]) begin
                db_valid <= 1'b1;
                db_rx    <= 1'b0;
                db_port  <= 8'(db_offset / DB_TX_STRIDE[15:0]);
                db_ring  <= 4'((db_offset % DB_TX_STRIDE[15:0]) / 16'd4);
                db_head  <= req_wdata[31:16] == 16'd0 ? req_wdata[15:0] : 16'hffff;
            end
            if (wr && req_addr >= DB_RX_BASE[15:0] && dbrx_offset[15:10] == 6'd0
                    && {8'd0, dbrx_offset[9:2]} < NUM_PORTS[15:0]
                    && req_wdata >> (DB_RX_RING_SHIFT + 32'd4) == 32'd0) begin
                db_valid <= 1'b1;
                db_rx    <= 1'b1;
                db_port  <= dbrx_offset[9:2];
                db_ring  <= req_wdata[DB_RX_RING_SHIFT +: 4];
                db_head  <= req_wdata[15:0];
            end
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            scratch         <= '0;
            sw_flush        <= 1'b0;
            sw_learn_enable <= 1'b1;
            sw_forget       <= 1'b0;
            sw_forget_port  <= '0;
            rb_req          <= 1'b0;
            rb_index        <= '0;
            rb_busy         <= 1'b0;
            rb_data         <= '0;
        end else begin
            sw_flush  <= 1'b0;
            sw_forget <= 1'b0;
            rb_req    <= 1'b0;
            if (rb_valid) begin
                rb_busy <= 1'b0;
                rb_data <= rb_entry;
            end
            if (wr) begin
                case (32'(req_addr))
                    DEV_SCRATCH: scratch <= req_wdata;
                    SW_CONTROL: begin
                        sw_flush        <= req_wdata[0];
                        sw_learn_enable <= req_wdata[1];
                    end
                    SW_FORGET_PORT: begin
                        // A value above 255 names no port: ignored.
                        sw_forget      <= req_wdata[31:8] == 24'd0;
                        sw_forget_port <= req_wdata[7:0];
                    end
                    SW_TABLE_INDEX: begin
                        rb_index <= req_wdata;
                        rb_req   <= 1'b1;
                        rb_busy  <= 1'b1;
                    end
                    default: ;
                endcase
            end
        end
    end

    // Port table entries: one register each, written by address.
    for (genvar p = 0; p < NUM_PORTS; p++) begin : g_port
        for (genvar r = 0; r < PORT_ENTRY_REGS; r++) begin : g_reg
            always_ff @(posedge clk) begin
                if (rst) begin
                    port_regs[p][r] <= '0;
                end else if (wr && addr_in_ports
                             && port_index[PORT_IDX_W-1:0] == PORT_IDX_W'(p)
                             && port_reg == PORT_REG_W'(r)) begin
                    port_regs[p][r] <= req_wdata;
                end
            end
        end
    end

    // Counters wrap; a driver reads differences.
    always_ff @(posedge clk) begin
        if (rst) begin
            cnt_hit <= '0; cnt_miss <= '0; cnt_learn <= '0;
            cnt_flood <= '0; cnt_drop <= '0; cnt_overflow <= '0;
            cnt_lookups <= '0; cnt_forwarded <= '0;
        end else begin
            cnt_hit      <= cnt_hit + 32'(ev_hit);
            cnt_miss     <= cnt_miss + 32'(ev_miss);
            cnt_learn    <= cnt_learn + 32'(ev_learn);
            cnt_flood    <= cnt_flood + 32'(ev_flood);
            cnt_drop     <= cnt_drop + 32'(ev_drop);
            cnt_overflow <= cnt_overflow + 32'(ev_overflow);
            cnt_lookups  <= cnt_lookups + 32'(ev_lookup);
            cnt_forwarded <= cnt_forwarded + 32'(ev_forwarded);
        end
    end

    for (genvar p = 0; p < NUM_PORTS; p++) begin : g_notify
        always_ff @(posedge clk) begin
            if (rst) begin
                cnt_notify[p] <= '0;
            end else begin
                cnt_notify[p] <= cnt_notify[p] + 32'(notify[p]);
            end
        end
    end

    always_comb begin
        for (int p = 0; p < NUM_PORTS; p++) begin
            port_enable[p] = port_regs[p][PORT_CONTROL[5:2]][0];
            for (int r = 0; r < PORT_ENTRY_REGS; r++) begin
                port_cfg[(p * PORT_ENTRY_REGS + r) * 32 +: 32] = port_regs[p][r];
            end
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            rsp_valid <= 1'b0;
            rsp_rdata <= '0;
        end else begin
            rsp_valid <= rd;
            rsp_rdata <= '0;
            if (rd) begin
                case (32'(req_addr))
                    DEVICE_BASE + BLOCK_TYPE:       rsp_rdata <= TYPE_DEVICE;
                    DEVICE_BASE + BLOCK_VERSION:    rsp_rdata <= DEVICE_VERSION;
                    DEVICE_BASE + BLOCK_NEXT:       rsp_rdata <= SWITCH_BASE;
                    DEV_ID:                         rsp_rdata <= DEVICE_ID_VALUE;
                    DEV_REVISION:                   rsp_rdata <= DEV_REVISION_VALUE;
                    DEV_SCRATCH:                    rsp_rdata <= scratch;
                    DEV_DATAPATH_BITS:              rsp_rdata <= 32'd512;
                    DEV_CLOCK_MHZ:                  rsp_rdata <= 32'd250;
                    DEV_BAR2_BYTES:                 rsp_rdata <= 32'(BAR2_BYTES);
                    DEV_RINGS:                      rsp_rdata <= 32'(RINGS);
                    SWITCH_BASE + BLOCK_TYPE:       rsp_rdata <= TYPE_SWITCH;
                    SWITCH_BASE + BLOCK_VERSION:    rsp_rdata <= SWITCH_VERSION;
                    SWITCH_BASE + BLOCK_NEXT:       rsp_rdata <= PORT_TABLE_BASE;
                    SW_ROWS:                        rsp_rdata <= 32'(ROWS);
                    SW_WAYS:                        rsp_rdata <= 32'(WAYS);
                    SW_HASH_ID:                     rsp_rdata <= HASH_ID_NETMAP;
                    SW_CONTROL:                     rsp_rdata <= {30'd0, sw_learn_enable, 1'b0};
                    SW_STATUS:                      rsp_rdata <= {29'd0, rb_busy, sw_queue_busy, sw_flush_busy};
                    SW_MAX_PORTS:                   rsp_rdata <= 32'(MAX_PORTS);
                    SW_QUEUE_DEPTH:                 rsp_rdata <= 32'(QUEUE_DEPTH);
                    SW_HIT:                         rsp_rdata <= cnt_hit;
                    SW_MISS:                        rsp_rdata <= cnt_miss;
                    SW_LEARN:                       rsp_rdata <= cnt_learn;
                    SW_FLOOD:                       rsp_rdata <= cnt_flood;
                    SW_DROP:                        rsp_rdata <= cnt_drop;
                    SW_OVERFLOW:                    rsp_rdata <= cnt_overflow;
                    SW_TABLE_INDEX:                 rsp_rdata <= rb_index;
                    SW_TABLE_LO:                    rsp_rdata <= rb_data[31:0];
                    SW_TABLE_HI:                    rsp_rdata <= rb_data[63:32];
                    SW_LOOKUPS:                     rsp_rdata <= cnt_lookups;
                    SW_FORWARDED:                   rsp_rdata <= cnt_forwarded;
                    PORT_TABLE_BASE + BLOCK_TYPE:    rsp_rdata <= TYPE_PORT_TABLE;
                    PORT_TABLE_BASE + BLOCK_VERSION: rsp_rdata <= PORT_TABLE_VERSION;
                    PORT_TABLE_BASE + BLOCK_NEXT:    rsp_rdata <= PORT_COUNTERS_BASE;
                    PT_COUNT:                       rsp_rdata <= 32'(NUM_PORTS);
                    PT_STRIDE:                      rsp_rdata <= PORT_ENTRY_STRIDE;
                    PT_FIRST:                       rsp_rdata <= PORT_ENTRY_BASE;
                    PORT_COUNTERS_BASE + BLOCK_TYPE:    rsp_rdata <= TYPE_PORT_COUNTERS;
                    PORT_COUNTERS_BASE + BLOCK_VERSION: rsp_rdata <= PORT_COUNTERS_VERSION;
                    PORT_COUNTERS_BASE + BLOCK_NEXT:    rsp_rdata <= NOTIFY_BASE;
                    PC_COUNT:                       rsp_rdata <= PC_COUNTERS;
                    PC_STRIDE:                      rsp_rdata <= PC_ENTRY_STRIDE;
                    PC_FIRST:                       rsp_rdata <= PC_ENTRY_BASE;
                    NOTIFY_BASE + BLOCK_TYPE:       rsp_rdata <= TYPE_NOTIFY;
                    NOTIFY_BASE + BLOCK_VERSION:    rsp_rdata <= NOTIFY_VERSION;
                    NOTIFY_BASE + BLOCK_NEXT:       rsp_rdata <= DOORBELL_BASE;
                    NT_COUNT:                       rsp_rdata <= 32'(NUM_PORTS);
                    NT_FIRST:                       rsp_rdata <= NT_RAISED_BASE;
                    DOORBELL_BASE + BLOCK_TYPE:     rsp_rdata <= TYPE_DOORBELL;
                    DOORBELL_BASE + BLOCK_VERSION:  rsp_rdata <= DOORBELL_VERSION;
                    DOORBELL_BASE + BLOCK_NEXT:     rsp_rdata <= 32'd0;
                    DB_TX_RINGS:                    rsp_rdata <= DB_RINGS;
                    DB_TX_FIRST:                    rsp_rdata <= DB_TX_BASE;
                    DB_RX_FIRST:                    rsp_rdata <= DB_RX_BASE;
                    default: begin
                        if (addr_in_ports) begin
                            rsp_rdata <= port_regs[port_index[PORT_IDX_W-1:0]][port_reg];
                        end else if (addr_in_counters) begin
                            rsp_rdata <= pc_rd_data;
                        end else if (addr_in_notify) begin
                            rsp_rdata <= cnt_notify[nt_port[PORT_IDX_W-1:0]];
                        end
                    end
                endcase
            end
        end
    end
endmodule
