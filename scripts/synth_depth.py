#!/usr/bin/env python3
"""Logic depth of a Yosys synth_xilinx netlist (write_json), for scripts/synth --levels.

Prints the longest register-to-register path of one module in LUT levels,
weighted as an UltraScale+ slice spends its time:

- a LUT (and a LUTRAM or SRL read from its address) is one level;
- MUXF7/F8/F9 and INV count nothing (the wide-LUT muxes sit in the slice
  after the LUTs, about a tenth of a LUT with its routing);
- a carry chain counts one level where it is entered through DI or S, and
  a fifth of a level per CARRY8 (a tenth per CARRY4) along CI: the ripple
  is under 0.1 ns per eight bits on dedicated routing, against about
  0.45 ns for a LUT with its routing;
- flip-flops, block RAM, UltraRAM, I/O buffers and module ports start and
  end paths. Block RAM data without its output register starts at 2 (its
  clock-to-out is about 1.5 ns longer than a flip-flop's); a DSP48E2 is a
  boundary where it holds a register on that side, else 4 levels through.

Output, one line: `LEVELS CELLS START -> END | named nets along the path`,
where CELLS counts every cell on the path (Yosys `ltp`'s measure).
"""
import json
import sys
from collections import defaultdict

LUTRAM_READ_PINS = ("ADDRA", "ADDRB", "ADDRC", "ADDRD", "ADDRE", "ADDRF", "ADDRG", "A", "DPRA")
DSP_REG_OF_PIN = {"A": "AREG", "ACIN": "AREG", "B": "BREG", "BCIN": "BREG", "C": "CREG",
                  "D": "DREG", "PCIN": "PREG"}


def param_int(cell, name, default=0):
    value = cell["parameters"].get(name, default)
    if isinstance(value, str):
        value = value.strip()
        try:
            return int(value, 2) if set(value) <= {"0", "1"} else int(value)
        except ValueError:
            return default
    return int(value)


def arcs(cell):
    """(input pin, output pin, weight) of the cell's combinational arcs;
    None for a boundary cell. Also returns the start weight of its outputs."""
    kind = cell["type"]
    dirs = cell["port_directions"]
    ins = [p for p, d in dirs.items() if d == "input"]
    outs = [p for p, d in dirs.items() if d == "output"]
    if kind.startswith("LUT"):
        return [(i, o, 1) for i in ins for o in outs], 0
    if kind.startswith("MUXF") or kind == "INV":
        return [(i, o, 0) for i in ins for o in outs], 0
    if kind.startswith("CARRY"):
        ripple = 0.2 if kind == "CARRY8" else 0.1
        return [(i, o, ripple if i.startswith("CI") else 1) for i in ins for o in outs], 0
    if kind.startswith("RAM") and not kind.startswith("RAMB"):
        return [(i, o, 1) for i in ins if i.rstrip("0123456789") in LUTRAM_READ_PINS
                or i in LUTRAM_READ_PINS for o in outs], 0
    if kind.startswith("SRL"):
        return [("A", o, 1) for o in outs if "A" in ins], 0
    if kind == "DSP48E2":
        registered_out = param_int(cell, "PREG") or param_int(cell, "MREG")
        through = [] if registered_out else [
            (i, o, 4) for i in ins if not param_int(cell, DSP_REG_OF_PIN.get(i, "PREG"))
            for o in outs if o in ("P", "PCOUT", "CARRYOUT")]
        return through, (0 if param_int(cell, "PREG") else 3)
    if kind.startswith("RAMB"):
        return [], (0 if param_int(cell, "DOA_REG") and param_int(cell, "DOB_REG") else 2)
    return [], 0


def main(path, top, verbose, top_n=0, to_name=None):
    module = json.load(open(path))["modules"][top]
    names = defaultdict(list)
    for name, net in module["netnames"].items():
        if not net["hide_name"]:
            for bit in net["bits"]:
                if isinstance(bit, int):
                    names[bit].append(name)

    def name_of(bit):
        return min(names[bit], key=len) if names[bit] else f"${bit}"

    # Each driven bit: its combinational fan-in (bit, weight, cell) or a start weight.
    fanin = {}
    start = {}
    inputs_of = {}  # driven bit -> every input bit of its cell (for -v)
    ends = []  # bits that end a path (boundary inputs, module outputs)
    cells_on = {}
    end_cell = {}  # bit ending a path -> (cell type, pin, its output bits), for -v
    for port in module["ports"].values():
        for bit in port["bits"]:
            if not isinstance(bit, int):
                continue
            if port["direction"] == "input":
                start[bit] = 0
            else:
                ends.append(bit)
    for cname, cell in module["cells"].items():
        comb, out_start = arcs(cell)
        conn = cell["connections"]
        dirs = cell["port_directions"]
        combinational_outs = {o for _, o, _ in comb}
        for pin, d in dirs.items():
            if d == "output":
                for bit in conn.get(pin, []):
                    if not isinstance(bit, int):
                        continue
                    if pin in combinational_outs:
                        fanin.setdefault(bit, [])
                        cells_on[bit] = cell["type"]
                    else:
                        start[bit] = max(start.get(bit, 0), out_start)
            elif d == "input" and not any(i == pin for i, _, _ in comb):
                if pin not in ("C", "CLK", "CLKARDCLK", "CLKBWRCLK", "WCLK", "CLKA", "CLKB"):
                    ends.extend(b for b in conn.get(pin, []) if isinstance(b, int))
                    outs = [b for p, d2 in dirs.items() if d2 == "output"
                            for b in conn.get(p, []) if isinstance(b, int)]
                    for b in conn.get(pin, []):
                        if isinstance(b, int) and outs:
                            end_cell[b] = (cell["type"], pin, outs)
        in_bits = [b for p, d in dirs.items() if d == "input" for b in conn.get(p, [])
                   if isinstance(b, int)]
        for o in combinational_outs:
            for obit in conn.get(o, []):
                if isinstance(obit, int):
                    inputs_of[obit] = in_bits
        for i, o, w in comb:
            for obit in conn.get(o, []):
                if not isinstance(obit, int):
                    continue
                for ibit in conn.get(i, []):
                    if isinstance(ibit, int):
                        fanin[obit].append((ibit, w))
                start.pop(obit, None)

    # Arrival time of every bit (iterative DFS: nets can be deep).
    arrival = {}
    via = {}
    for root in list(fanin) + list(start):
        if root in arrival:
            continue
        stack = [(root, False)]
        while stack:
            bit, expanded = stack.pop()
            if bit in arrival:
                continue
            if bit not in fanin:
                arrival[bit] = start.get(bit, 0)
                continue
            if not expanded:
                stack.append((bit, True))
                stack.extend((src, False) for src, _ in fanin[bit] if src not in arrival)
                continue
            best, best_src = 0, None
            for src, w in fanin[bit]:
                a = arrival.get(src, 0) + w
                if best_src is None or a > best:
                    best, best_src = a, src
            arrival[bit] = best
            via[bit] = best_src

    if top_n:
        best = {}
        for b in ends:
            label = name_of(end_cell[b][2][0]) if b in end_cell else name_of(b)
            label = label.split("[")[0]
            if arrival.get(b, 0) > best.get(label, (-1,))[0]:
                best[label] = (arrival.get(b, 0), b)
        for label, (a, b) in sorted(best.items(), key=lambda kv: -kv[1][0])[:top_n]:
            chain = [b]
            while chain[-1] in via:
                chain.append(via[chain[-1]])
            print(f"  {a:5.1f}  {label:24} from {name_of(chain[-1])}", file=sys.stderr)
    if to_name:
        ends = [b for b in ends
                if (name_of(end_cell[b][2][0]) if b in end_cell else name_of(b)).split("[")[0]
                == to_name]
    end = max(ends, key=lambda b: arrival.get(b, 0), default=None)
    if end is None:
        print("0 0 - -> -")
        return
    chain = [end]
    while chain[-1] in via:
        chain.append(via[chain[-1]])
    chain.reverse()
    cells = sum(1 for b in chain if b in cells_on)
    named = []
    for bit in chain[1:-1]:
        if names[bit] and name_of(bit) not in named:
            named.append(name_of(bit))
    if verbose:
        if end in end_cell:
            kind, pin, outs = end_cell[end]
            print(f"  ends at {kind}.{pin} -> {name_of(outs[0])}", file=sys.stderr)
        for bit in chain:
            side = sorted({name_of(b) for b in inputs_of.get(bit, []) if names[b]})
            print(f"  {arrival.get(bit, 0):5.1f} {cells_on.get(bit, '(start)'):10} {name_of(bit)}"
                  + (f"  <- {' '.join(side[:6])}" if side else ""), file=sys.stderr)
    print(f"{arrival.get(end, 0):.1f} {cells} {name_of(chain[0])} -> {name_of(end)} | "
          + " ".join(named[:12]))


if __name__ == "__main__":
    argv = sys.argv[1:]
    top_n = 0
    if "--ends" in argv:
        i = argv.index("--ends")
        top_n = int(argv[i + 1])
        del argv[i:i + 2]
    to_name = None
    if "--to" in argv:
        i = argv.index("--to")
        to_name = argv[i + 1]
        del argv[i:i + 2]
    args = [a for a in argv if a != "-v"]
    if len(args) != 2:
        sys.exit("usage: synth_depth.py [-v] [--ends N] [--to NAME] NETLIST.json TOP\n"
                 "  -v: the path, cell by cell; --ends N: the N deepest path ends (registers,\n"
                 "  outputs), each with its depth and where its path starts; --to NAME: the\n"
                 "  longest path ending at register or output NAME")
    main(args[0], args[1], "-v" in argv, top_n, to_name)
