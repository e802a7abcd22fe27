#!/usr/bin/env python3
"""The wgmma_sm90 producer warpgroup stays within the registers it keeps after setmaxnreg.dec.

The producer gives its registers back (PTX setmaxnreg.dec, SASS `USETMAXREG.DEALLOC.CTAPOOL 0x18`)
so the consumer warpgroups can take them (templates/warpgroup_register_budget.cuh). From then on a
producer thread owns only the registers below the new count: an instruction that still names one at
or above it reads or writes registers that now belong to a consumer. ptxas allocates the producer's
code after the release as it likes; this checks the SASS it produced.

  check_producer_registers.py --nvdisasm PATH --kernels DIR/kernels.txt [--jobs N] [--limit N]
                              [--stop-at-first-failure]
  check_producer_registers.py --sass FILE [--limit N]

--kernels reads the list tests/codegen/wgmma_tile_registers.cpp writes ("<cubin> <1 if the kernel
trades registers with setmaxnreg, else 0>", cubins relative to the list) and disassembles each cubin
with `nvdisasm -c`, --jobs at a time (default: one per core): a kernel that trades registers must
release them and keep its producer path within the release; one that does not must have no
USETMAXREG at all. --sass checks one
disassembly (a kernel that trades registers). --limit N checks against N registers instead of the
released count: the negative test uses it to show that the check fails on real SASS. Exit status:
0 when every kernel passes, 1 when one does not, 2 on bad usage, 77 (skipped) when nvdisasm is
missing.

Which instructions are "the producer path": every instruction reachable in the control-flow graph
from the one after the USETMAXREG.DEALLOC, until the paths end (an unpredicated EXIT or RET). The
consumers never execute the DEALLOC, and a producer thread executes nothing else after it, so this
is exactly the code that runs with the smaller register count, wherever ptxas placed it: the
out-of-line retry loops of mbarrier waits sit at the end of the function, past the consumers' code,
and a block that loops back to before the DEALLOC is checked too. A linear scan from the DEALLOC to
the next EXIT would miss the former and wrongly include whatever follows. Edges: a branch goes to its
label, and also falls through when predicated (or .DIV); EXIT and RET end a path unless predicated;
CALL goes to the callee and falls through; everything else falls through. An indirect branch (BRX,
JMX), whose targets the text does not name, fails the check rather than be guessed.

Which registers an instruction uses: every general register operand Rn (not RZ, not the uniform
URn, predicates or barriers), widened to the registers a 64- or 128-bit operand occupies: an operand
written Rn.64 is two, and every operand of an instruction whose modifiers say 64, 128, WIDE, F64,
S64 or U64 (and of CS2R and the double-precision D* instructions) counts as two or four. That can
count a 32-bit operand of such an instruction as wider than it is, so the check may refuse a kernel
that is in fact safe, never pass one that is not.
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys

SKIPPED = 77

INSTRUCTION = re.compile(r"^\s*/\*([0-9a-fA-F]+)\*/\s*(.*?)\s*;\s*$")
LABEL = re.compile(r"^\s*([.$\w]+):\s*$")
PREDICATE = re.compile(r"^@!?U?P(?:[0-6]|T)\s+")
TARGET = re.compile(r"`\(([^)]+)\)")
REGISTER = re.compile(r"(?<![\w.])R(\d+)(\.64)?(?![\w])")
WIDE_MODIFIERS = {"64": 2, "WIDE": 2, "F64": 2, "S64": 2, "U64": 2, "128": 4}
DOUBLE_PRECISION = {"DADD", "DMUL", "DFMA", "DSETP", "DMNMX", "DMMA"}


class CheckError(Exception):
    pass


class Instruction:
    def __init__(self, address, text):
        self.address = address
        self.text = text
        body = text
        self.predicated = False
        match = PREDICATE.match(body)
        if match:
            self.predicated = not body.startswith("@PT")
            body = body[match.end():]
        self.opcode, _, self.operands = body.partition(" ")
        parts = self.opcode.split(".")
        self.base = parts[0]
        self.modifiers = parts[1:]
        target = TARGET.search(self.operands)
        self.target = target.group(1) if target else None

    def where(self):
        return "/*%s*/ %s" % (self.address, self.text)

    def width(self):
        width = 1
        for modifier in self.modifiers:
            width = max(width, WIDE_MODIFIERS.get(modifier, 1))
        if self.base == "CS2R" and "32" not in self.modifiers:
            width = max(width, 2)
        if self.base in DOUBLE_PRECISION:
            width = max(width, 2)
        return width

    def registers(self):
        """(first, last) general registers of each operand, widened as the module docstring says."""
        width = self.width()
        used = []
        for match in REGISTER.finditer(TARGET.sub("", self.operands)):
            first = int(match.group(1))
            if first == 255:  # RZ written as a number
                continue
            span = max(width, 2 if match.group(2) else 1)
            used.append((first, first + span - 1))
        return used


def parse(sass):
    """The instructions in order and each label's instruction index."""
    instructions, labels, pending = [], {}, []
    for line in sass.splitlines():
        instruction = INSTRUCTION.match(line)
        if instruction:
            for label in pending:
                labels[label] = len(instructions)
            pending = []
            instructions.append(Instruction(instruction.group(1), instruction.group(2)))
            continue
        label = LABEL.match(line)
        if label:
            pending.append(label.group(1))
    for label in pending:
        labels[label] = len(instructions)
    return instructions, labels


def successors(index, instructions, labels):
    instruction = instructions[index]
    falls_through = index + 1 < len(instructions)
    base = instruction.base
    if base in ("BRX", "JMX", "BRXU", "JMXU"):
        raise CheckError("%s: an indirect branch; its targets cannot be followed" % instruction.where())
    if base in ("EXIT", "RET", "KILL"):
        return [index + 1] if instruction.predicated and falls_through else []
    if base in ("BRA", "JMP", "CALL"):
        if instruction.target not in labels:
            raise CheckError("%s: branch target %s is not a label of this disassembly"
                             % (instruction.where(), instruction.target))
        targets = [labels[instruction.target]]
        conditional = instruction.predicated or "DIV" in instruction.modifiers or base == "CALL"
        if conditional and falls_through:
            targets.append(index + 1)
        return targets
    return [index + 1] if falls_through else []


def producer_path(start, instructions, labels):
    """Indices of every instruction reachable from `start`, in address order."""
    seen, stack = set(), [start]
    while stack:
        index = stack.pop()
        if index in seen or index >= len(instructions):
            continue
        seen.add(index)
        stack.extend(successors(index, instructions, labels))
    return sorted(seen)


def released_count(instruction):
    count = re.search(r"(0x[0-9a-fA-F]+|\d+)\s*$", instruction.operands)
    if not count:
        raise CheckError("%s: no register count" % instruction.where())
    return int(count.group(1), 0)


def check_sass(name, sass, trades_registers, limit=None):
    """A line saying what was checked; raises CheckError naming the offending instruction."""
    instructions, labels = parse(sass)
    if not instructions:
        raise CheckError("%s: no instruction in the disassembly (is it nvdisasm's output?)" % name)
    setmaxnreg = [i for i, ins in enumerate(instructions) if ins.base == "USETMAXREG"]
    releases = [i for i in setmaxnreg if "DEALLOC" in instructions[i].modifiers]
    if not trades_registers:
        if setmaxnreg:
            raise CheckError("%s: %s, in a kernel whose budget trades no registers"
                             % (name, instructions[setmaxnreg[0]].where()))
        return "ok   %s: no USETMAXREG (its warpgroups keep their registers)" % name
    if not releases:
        raise CheckError("%s: no USETMAXREG.DEALLOC, in a kernel whose producer must give its registers back"
                         % name)
    lines = []
    for release in releases:
        kept = released_count(instructions[release]) if limit is None else limit
        path = producer_path(release + 1, instructions, labels)
        highest = -1
        for index in path:
            for first, last in instructions[index].registers():
                if last >= kept:
                    operand = "" if first == last else " (of R%d..R%d)" % (first, last)
                    raise CheckError(
                        "%s: %s uses R%d%s, at or above the %d registers the producer keeps after %s"
                        % (name, instructions[index].where(), max(first, kept), operand, kept,
                           instructions[release].where()))
                highest = max(highest, last)
        # Reading no register at all would mean this no longer parses nvdisasm's text.
        if highest < 0:
            raise CheckError("%s: found no register on the %d instructions after %s: the disassembly is not "
                             "in the format this check reads" % (name, len(path), instructions[release].where()))
        lines.append("ok   %s: after %s the producer path (%d instructions) uses registers up to R%d, below %d"
                     % (name, instructions[release].where(), len(path), highest, kept))
    return "\n".join(lines)


def disassemble(nvdisasm, cubin):
    result = subprocess.run([nvdisasm, "-c", cubin], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    if result.returncode != 0:
        raise CheckError("%s: nvdisasm failed (%d): %s" % (cubin, result.returncode, result.stderr.strip()))
    return result.stdout


def read_kernel_list(path):
    kernels = []
    with open(path) as listing:
        for number, line in enumerate(listing, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or fields[1] not in ("0", "1"):
                raise CheckError("%s:%d: expected '<cubin> <0|1>', got '%s'" % (path, number, line.strip()))
            kernels.append((os.path.join(os.path.dirname(path), fields[0]), fields[1] == "1"))
    if not kernels:
        raise CheckError("%s lists no kernel" % path)
    return kernels


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nvdisasm", help="the nvdisasm binary (empty or *-NOTFOUND: skip)")
    parser.add_argument("--kernels", help="the list of cubins wgmma_tile_registers writes")
    parser.add_argument("--sass", help="one disassembly of a kernel that trades registers")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="disassemblies at once")
    parser.add_argument("--limit", type=int, help="check against this many registers instead of the released count")
    parser.add_argument("--stop-at-first-failure", action="store_true")
    args = parser.parse_args()
    if bool(args.kernels) == bool(args.sass):
        parser.error("give either --kernels or --sass")
    try:
        if args.sass:
            with open(args.sass) as sass:
                print(check_sass(args.sass, sass.read(), True, args.limit))
            return 0
        if not args.nvdisasm or args.nvdisasm.endswith("NOTFOUND") or not os.access(args.nvdisasm, os.X_OK):
            print("SKIP: nvdisasm was not found ('%s'); scripts/setup.sh installs it from the pip package "
                  "nvidia-cuda-nvdisasm" % (args.nvdisasm or ""))
            return SKIPPED
        kernels = read_kernel_list(args.kernels)
    except (CheckError, OSError) as error:
        print("FAIL %s" % error)
        return 1
    failures = 0
    # nvdisasm runs as a process of its own: --jobs of them at once, their results taken in order.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        disassemblies = [pool.submit(disassemble, args.nvdisasm, cubin) for cubin, _ in kernels]
        for (cubin, trades_registers), disassembly in zip(kernels, disassemblies):
            try:
                print(check_sass(os.path.basename(cubin), disassembly.result(), trades_registers, args.limit))
            except (CheckError, OSError) as error:
                print("FAIL %s" % error)
                failures += 1
                if args.stop_at_first_failure:
                    for pending in disassemblies:
                        pending.cancel()
                    break
            sys.stdout.flush()
    if failures:
        print("FAIL: %d of %d kernels" % (failures, len(kernels)))
        return 1
    print("every one of the %d kernels keeps its producer within the registers it released" % len(kernels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
