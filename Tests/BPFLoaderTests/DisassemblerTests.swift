import Foundation
import Testing
@testable import BPFLoader

/// `bpfpipe dump`: its text against llvm-objdump's on fixtures covering every instruction class,
/// the stage markers, and `--xlated` against bpftool on a program the kernel holds.
@Suite struct DisassemblerTests {
    /// llvm-objdump from the toolchain that compiles the fixtures (next to its clang), which
    /// knows every instruction clang emits.
    static let objdump: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":") {
            if FileManager.default.isExecutableFile(atPath: "\(dir)/clang"), FileManager.default.isExecutableFile(atPath: "\(dir)/llvm-objdump") {
                return "\(dir)/llvm-objdump"
            }
        }
        return path.split(separator: ":").map { "\($0)/llvm-objdump" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static let cpus = ["v1", "v2", "v3", "v4"]

    @Test(arguments: cpus)
    func dumpOfAnObjectMatchesLLVMObjdumpInstructionByInstruction(cpu: String) throws {
        let objdump = try #require(Self.objdump, "llvm-objdump is not on PATH")
        let path = try Fixtures.object("disasm", flags: ["-mcpu=\(cpu)"])
        let llvm = try LLVMListing(try runProcess(objdump, ["-dr", path]).stdout)
        var compared = 0
        for program in ["all_classes", "asm_forms"] {
            let result = try runBPFPipe(["dump", path, "--program", program])
            #expect(result.status == 0, "\(result.stderr)")
            let ours = OurListing(result.stdout)
            #expect(ours.functions.first?.name == program)
            for function in ours.functions {
                let theirs = try #require(llvm.functions[function.name], "llvm-objdump has no function \(function.name)")
                try #require(function.instructions.count == theirs.instructions.count,
                             "\(cpu) \(function.name): \(function.instructions.count) instructions, llvm-objdump has \(theirs.instructions.count)")
                for (mine, other) in zip(function.instructions, theirs.instructions) {
                    try compare(mine, other, ours: ours, llvm: llvm, context: "\(cpu) \(function.name)")
                    compared += 1
                }
            }
        }
        #expect(compared > 150)
    }

    /// One instruction: the same opcode byte, then the same registers and numbers in the same
    /// order; relocated operands (maps, calls, callbacks) must name what llvm-objdump's
    /// relocation names.
    private func compare(_ mine: OurListing.Line, _ other: LLVMListing.Line, ours: OurListing, llvm: LLVMListing, context: String) throws {
        let where_ = "\(context) [\(mine.index)] '\(mine.text)' vs [\(other.index)] '\(other.text)'"
        #expect(mine.opcode == other.bytes[0], "\(where_): opcode")
        let isWide = mine.opcode == 0x18
        let isCall = mine.opcode == 0x85 && other.bytes[1] >> 4 == 1
        if isWide, let symbol = other.relocation {
            let target = llvm.function(atByte: other.immediate, section: symbol) ?? llvm.functions[symbol].map { _ in symbol }
            if let target {   // a callback's address: BPF_PSEUDO_FUNC
                let m = try #require(mine.text.firstMatch(of: /^r(\d+) = subprog\[([+-]\d+)\]$/), "\(where_)")
                #expect(ours.function(startingAt: mine.index + Int(m.2)! + 1) == target, "\(where_)")
            } else if symbol == "counts" {
                #expect(mine.text == "r\(other.bytes[1] & 0xf) = map[counts]", "\(where_)")
            } else {   // a global variable: its section's map, at the variable's offset
                #expect(mine.text.firstMatch(of: /^r\d+ = map\[[^\]]+\.(rodata|bss|data)\]\[0\]\+\d+$/) != nil, "\(where_)")
            }
            return
        }
        if isCall {
            let m = try #require(mine.text.firstMatch(of: /^call pc([+-]\d+)$/), "\(where_)")
            let callee = try #require(llvm.callee(of: other), "\(where_): llvm-objdump's call has no target")
            #expect(ours.function(startingAt: mine.index + Int(m.1)! + 1) == callee, "\(where_)")
            return
        }
        #expect(Operands.of(mine.text, wide: isWide) == Operands.of(other.text, wide: isWide), "\(where_)")
    }

    @Test func theFixturesCoverEveryInstructionClass() throws {
        var all = ""
        for cpu in Self.cpus {
            let path = try Fixtures.object("disasm", flags: ["-mcpu=\(cpu)"])
            let result = try runBPFPipe(["dump", path])
            #expect(result.status == 0, "\(result.stderr)")
            all += result.stdout
        }
        let forms = [
            "r0 = r3", "w1 += w2", "w1 += -5", "s>>=", "w3 s>>= 2", "r0 = -r0", "= -w", "/=", "%=", "s/=", "s%=", "(s8)", "(s16)",   // ALU64/ALU32
            "be16", "be32", "bswap16", "bswap32",                                                          // byte swaps
            "*(u8 *)", "*(u16 *)", "*(u32 *)", "*(u64 *)", "*(s8 *)", "*(s16 *)", "*(s32 *)", ") = 1", // loads and stores
            "lock *(u64 *)", "lock *(u32 *)", "atomic64_fetch_add", "atomic_fetch_add", "atomic64_fetch_or", "atomic64_fetch_and",
            "atomic64_fetch_xor", "atomic64_xchg", "atomic64_cmpxchg", "atomic_cmpxchg", ") &= r", ") ^= r", ") |= r",  // atomics
            "goto pc+", "if w1 s< 0xffffffec goto", "if r1 s> 0xfffffff9 goto", "if w1 & w2 goto", "gotol pc+1", "may_goto pc+1", // jumps
            "call bpf_map_lookup_elem#1", "call bpf_loop#181", "call pc+", "exit",                          // calls
            "= map[counts]", "][0]+0", "= subprog[+", "= 0x123456789abcdef",                               // ld_imm64
            "skb[12]", "skb[r2 + 0]", "addr_space_cast(r2, 0, 1)",
        ]
        for f in forms { #expect(all.contains(f), "no dump line contains '\(f)'") }
    }

    @Test func aPrologueStageShowsAsInsertedInstructionsBeforeTheUnchangedProgram() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpfpipe-dump-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pipeline = """
            version: 1
            name: dumptest
            objects:
              - name: counters
                build:
                  source: \(repositoryRoot)/examples/counters/counters.bpf.c
                programs:
                  with_arg:
                    instances: 2
                    preprocess:
                      - stage: prologue
                        with:
                          instructions: ["w2 = 7", "*(u32 *)(r1 + 48) = w2"]
                  count_pkts: { load: false }
                  tagged: { load: false }
            """
        try pipeline.write(toFile: "\(dir)/p.yaml", atomically: true, encoding: .utf8)
        let result = try runBPFPipe(["dump", "\(dir)/p.yaml", "--instance", "1", "--cache-dir", "\(dir)/cache"])
        #expect(result.status == 0, "\(result.stderr)")
        let source = "; SEC(\"socket\") int with_arg(struct __sk_buff *skb) { return skb->cb[0] + 1; }"
        #expect(result.stdout == """
            object counters, program with_arg (socket_filter), instance 1 of 2: 5 insns (2 inserted, 0 changed, 0 removed by preprocessing)
            int with_arg(struct __sk_buff * skb):
            \(source)
            +   0: (b4) w2 = 7
            +   1: (63) *(u32 *)(r1 +48) = r2
            \(source)
                2: (61) r0 = *(u32 *)(r1 +48)
            \(source)
                3: (04) w0 += 1
            \(source)
                4: (95) exit

            """)
    }

    @Test func aPatchedImmediateShowsAsChangedAndASkippedInstanceSaysSo() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("bpfpipe-dump-cache-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let result = try runBPFPipe(["dump", "\(repositoryRoot)/pipelines/per-instance-constants.yaml", "--cache-dir", cache])
        #expect(result.status == 0, "\(result.stderr)")
        let blocks = result.stdout.components(separatedBy: "\n\n")
        #expect(blocks.count == 3)
        #expect(blocks[0].hasPrefix("object counters, program tagged (socket_filter), instance 0 of 3: 2 insns (0 inserted, 1 changed, 0 removed by preprocessing)\n"))
        #expect(blocks[0].contains("\n*   0: (b4) w0 = 100\n    1: (95) exit"))
        #expect(blocks[1] == "object counters, program tagged (socket_filter), instance 1 of 3: skipped by its preprocessor")
        #expect(blocks[2].contains("\n*   0: (b4) w0 = 300\n    1: (95) exit"))
    }

    @Test func anUnknownProgramOrInstanceIsAUsageErrorNamingWhatExists() throws {
        let path = try Fixtures.object("disasm", flags: ["-mcpu=v3"])
        let program = try runBPFPipe(["dump", path, "--program", "nosuch"])
        #expect(program.status == 2)
        #expect(program.stderr.contains("no program 'nosuch'; it has: all_classes, asm_forms"), "\(program.stderr)")
        let instance = try runBPFPipe(["dump", path, "--program", "asm_forms", "--instance", "1"])
        #expect(instance.status == 2)
        #expect(instance.stderr.contains("program 'asm_forms' has 1 instance(s); --instance 1 is out of range"), "\(instance.stderr)")
    }

    @Test func instructionsClangNeverEmitsPrintAsTheKernelPrintsThem() {
        let d = Disassembler(maps: .kernelIDs)
        #expect(d.text(Instruction(opcode: 0xdb, dst: 1, src: 2, offset: -8, immediate: 0x100)) == "(db) r1 = load_acquire((u64 *)(r2 -8))")
        #expect(d.text(Instruction(opcode: 0xc3, dst: 1, src: 2, offset: 4, immediate: 0x110)) == "(c3) store_release((u32 *)(r1 +4), r2)")
        #expect(d.text(Instruction(opcode: 0x85, src: 2, immediate: 1234)) == "(85) call kernel-function#1234")
        #expect(d.text(Instruction(opcode: 0x85, immediate: 100_000)) == "(85) call unknown#100000")
        #expect(d.text(Instruction(opcode: 0x18, dst: 1, src: 1, immediate: 7), next: Instruction(opcode: 0)) == "(18) r1 = map[id:7]")
        #expect(d.text(Instruction(opcode: 0x18, dst: 2, src: 2, immediate: 7), next: Instruction(opcode: 0, immediate: 16)) == "(18) r2 = map[id:7][0]+16")
        #expect(d.text(Instruction(opcode: 0x83)) == "BUG_83")   // STX with an undefined mode
        #expect(d.text(Instruction(opcode: 0xc2)) == "(c2) nospec")
    }

    @Test func changesPairTheOriginalFromTheEndThenTheStartAndMarkTheRest() {
        let a = Instruction.mov64(dst: 0, immediate: 1), b = Instruction(opcode: 0x07, dst: 0, immediate: 2), x = Instruction.exit
        let original = [a, b, x]
        let prologue = Disassembler.changes(from: original, to: [Instruction.mov64(dst: 2, immediate: 0), a, b, x])
        #expect(prologue.marks == [.inserted, .same, .same, .same] && prologue.removed == 0)
        var patched = b
        patched.immediate = 9
        let changed = Disassembler.changes(from: original, to: [a, patched, x])
        #expect(changed.marks == [.same, .changed, .same] && changed.removed == 0)
        let shorter = Disassembler.changes(from: original, to: [a, x])
        #expect(shorter.marks == [.same, .same] && shorter.removed == 1)
    }
}

extension DisassemblerTests {
    /// `--xlated` on what the kernel holds: the same text as bpftool, line for line, for a
    /// program with maps, a read-only global, a helper and a subprogram call.
    @Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
    struct Xlated {
        @Test func xlatedDumpOfAPinnedProgramIsWhatBpftoolPrints() throws {
            let path = try Fixtures.object("xlated")
            let pins = try PinDirectory()
            let load = try runBPFPipe(["load", path, "--pin", pins.path])
            try #require(load.status == 0, "\(load.stderr)")
            let pin = "\(pins.path)/progs/xlated_prog"
            let ours = try runBPFPipe(["dump", "--xlated", pin])
            #expect(ours.status == 0, "\(ours.stderr)")
            let bpftool = try runProcess("/usr/sbin/bpftool", ["prog", "dump", "xlated", "pinned", pin])
            try #require(bpftool.status == 0, "\(bpftool.stderr)")
            #expect(ours.stdout == bpftool.stdout)
            // What makes the comparison worth something: the kernel's rewrites are in it.
            #expect(ours.stdout.contains("call bpf_ktime_get_ns#"))
            #expect(ours.stdout.contains("call pc+1#bpf_prog_"))
            #expect(ours.stdout.firstMatch(of: /r1 = map\[id:\d+\]\n/) != nil)
            #expect(ours.stdout.firstMatch(of: /r2 = map\[id:\d+\]\[0\]\+0\n/) != nil)
            #expect(ours.stdout.contains("int weigh(int len):\n; return len * scale + 1;\n"))
        }

        @Test func aLoadedObjectsInstancesNameTheirMapsByKernelID() throws {
            let obj = try BPFObject.open(path: try Fixtures.object("xlated"))
            try obj.load()
            defer { obj.unload() }
            let program = try #require(obj.program(named: "xlated_prog"))
            let text = try #require(obj.disassembly(of: program, instance: 0)?.text)
            let seen = try #require(obj.map(named: "seen")), rodata = try #require(obj.maps.first { $0.name.hasSuffix(".rodata") })
            #expect(text.contains("r1 = map[id:\(seen.id)]\n"), "\(text)")
            #expect(text.contains("r2 = map[id:\(rodata.id)][0]+0\n"), "\(text)")
        }

        @Test func xlatedOfAPathThatIsNotAProgramPinFailsNamingIt() throws {
            let pins = try PinDirectory()
            let result = try runBPFPipe(["dump", "--xlated", "\(pins.path)/nothing"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(pins.path)/nothing: load: cannot open the pinned program"), "\(result.stderr)")
            let load = try runBPFPipe(["load", try Fixtures.object("xlated"), "--pin", pins.path])
            try #require(load.status == 0, "\(load.stderr)")
            let map = try runBPFPipe(["dump", "--xlated", "\(pins.path)/maps/seen"])
            #expect(map.status == 1)
            #expect(map.stderr.contains("\(pins.path)/maps/seen: load: is a pinned map, not a program"), "\(map.stderr)")
        }
    }
}

// MARK: - Reading the two listings

/// Registers and numbers of an instruction's text in order, whatever the syntax: `r1`/`w1`
/// become 1, `0x8`, `+ 0x8` and `+8` all become 8, `be16` gives 16; words (`u64`, `call`,
/// helper names, `atomic64_...`) are skipped. Numbers compare as 32 bits (64 for `ld_imm64`),
/// so `-0x3` and `0xfffffffd` are the same immediate.
enum Operands {
    enum Token: Equatable, CustomStringConvertible {
        case register(Int), number(UInt64)
        var description: String {
            switch self {
            case .register(let r): "r\(r)"
            case .number(let n): "\(n)"
            }
        }
    }

    static func of(_ text: String, wide: Bool) -> [Token] {
        // llvm-objdump leaves out a zero immediate of a packet load: skb[r2] is skb[r2 + 0].
        let text = text.replacing(/skb\[(r\d+)\]/) { "skb[\($0.1) + 0]" }.replacing(/\s<[^<>]*>$/, with: "")
        let chars = Array(text)
        var out: [Token] = []
        var i = 0
        func number(at start: Int, negative: Bool) -> Int {
            var j = start, value: Int64 = 0
            if j + 1 < chars.count, chars[j] == "0", chars[j + 1] == "x" {
                j += 2
                while j < chars.count, let d = chars[j].hexDigitValue { value = value &* 16 &+ Int64(d); j += 1 }
            } else {
                while j < chars.count, let d = chars[j].wholeNumberValue { value = value &* 10 &+ Int64(d); j += 1 }
            }
            let v = UInt64(bitPattern: negative ? -value : value)
            out.append(.number(wide ? v : v & 0xffff_ffff))
            return j
        }
        while i < chars.count {
            let c = chars[i]
            if c.isLetter || c == "_" {
                var j = i
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                let word = String(chars[i..<j])
                if let m = word.wholeMatch(of: /[rw](\d+)/) { out.append(.register(Int(m.1)!)) }
                else if let m = word.wholeMatch(of: /(?:be|le|bswap)(\d+)/) { out.append(.number(UInt64(m.1)!)) }
                i = j
            } else if c == "+" || c == "-" {
                var j = i + 1
                while j < chars.count, chars[j] == " " { j += 1 }
                if j < chars.count, chars[j].isNumber { i = number(at: j, negative: c == "-") } else { i += 1 }
            } else if c.isNumber {
                i = number(at: i, negative: false)
            } else {
                i += 1
            }
        }
        return out
    }
}

/// `bpfpipe dump` output: functions (from their signature lines) and instruction lines.
struct OurListing {
    struct Line { var index: Int; var opcode: UInt8; var text: String }
    struct Function { var name: String; var start: Int; var instructions: [Line] = [] }
    var functions: [Function] = []

    init(_ text: String) {
        for line in text.split(separator: "\n").map(String.init) {
            if let m = line.wholeMatch(of: /[ +*]?\s*(\d+): \(([0-9a-f]{2})\) (.*)/) {
                let l = Line(index: Int(m.1)!, opcode: UInt8(m.2, radix: 16)!, text: String(m.3))
                if functions.last?.instructions.isEmpty == true { functions[functions.count - 1].start = l.index }
                functions[functions.count - 1].instructions.append(l)
            } else if line.hasSuffix(":"), !line.hasPrefix(";"), let m = line.firstMatch(of: /(\w+)\(/) {
                functions.append(Function(name: String(m.1), start: -1))
            }
        }
    }

    func function(startingAt index: Int) -> String? { functions.first { $0.start == index }?.name }
}

/// `llvm-objdump -dr` output: per function its instructions (bytes, text, relocation).
struct LLVMListing {
    struct Line {
        var index: Int
        var bytes: [UInt8]
        var text: String
        var section: String
        var relocation: String?
        var immediate: Int32 { Int32(bitPattern: UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24) }
    }
    struct Function { var name: String; var section: String; var start: Int; var instructions: [Line] = [] }
    var functions: [String: Function] = [:]

    init(_ text: String) throws {
        var section = "", current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if let m = line.wholeMatch(of: /Disassembly of section (.*):/) {
                section = String(m.1)
            } else if let m = line.wholeMatch(of: /[0-9a-f]+ <(.*)>:/) {
                current = String(m.1)
                functions[String(m.1)] = Function(name: String(m.1), section: section, start: -1)
            } else if let m = line.wholeMatch(of: /\s*(\d+):\t([0-9a-f ]+?)\s*\t(.*)/), let name = current {
                let bytes = m.2.split(separator: " ").map { UInt8($0, radix: 16)! }
                let l = Line(index: Int(m.1)!, bytes: bytes, text: String(m.3), section: section)
                if functions[name]!.instructions.isEmpty { functions[name]!.start = l.index }
                functions[name]!.instructions.append(l)
            } else if let m = line.firstMatch(of: /R_BPF_\w+\s+(\S+)$/), let name = current {
                functions[name]!.instructions[functions[name]!.instructions.count - 1].relocation = String(m.1)
            }
        }
        if functions.isEmpty { throw FixtureError(message: "llvm-objdump printed no functions:\n\(text)") }
    }

    /// The function starting at byte `offset` of `section` (a relocation against a section symbol).
    func function(atByte offset: Int32, section: String) -> String? {
        functions.values.first { $0.section == section && $0.start == Int(offset) / 8 }?.name
    }

    /// What a bpf-to-bpf call reaches: the function a relocation names, the function at
    /// `imm + 1` instructions into the section a relocation names, or `imm + 1` from the call.
    func callee(of call: Line) -> String? {
        if let symbol = call.relocation {
            if functions[symbol] != nil { return symbol }
            return functions.values.first { $0.section == symbol && $0.start == Int(call.immediate) + 1 }?.name
        }
        return functions.values.first { $0.section == call.section && $0.start == call.index + Int(call.immediate) + 1 }?.name
    }
}
