/// Builds each program's final code: appends the subprograms it calls (transitively), fixes call
/// and callback offsets, and writes map fds and global-data offsets into `ld_imm64` pairs.
struct Linker {
    let spec: ObjectSpec
    /// The kernel fd of each map in `spec.maps`, by index; the index itself when only planning.
    let mapFD: (Int) -> Int32
    /// What CO-RE relocations resolve against; nil means the running kernel, read only when some
    /// program has CO-RE relocations.
    var coreTarget: CORETarget? = nil
    /// Looks up what each extern symbol stands for in the running kernel.
    var externs: ExternResolver? = nil
    /// The object's BTF parsed as a table, shared by every program this linker links.
    let localBTF = LocalBTFTable()

    final class LocalBTFTable { var table: BTFTable? }

    func link(_ program: ProgramSpec) throws -> LinkedProgram {
        var code: [Instruction] = []
        var origin: [CodeLocation] = []
        var placed: [FunctionKey: Int] = [:]
        var order: [FunctionSpec] = []

        func place(_ f: FunctionSpec) -> Int {
            if let at = placed[f.key] { return at }
            let at = code.count
            placed[f.key] = at
            order.append(f)
            code.append(contentsOf: spec.instructions(of: f))
            for i in 0..<f.count { origin.append(CodeLocation(section: f.sectionIndex, instruction: f.start + i)) }
            return at
        }

        func target(_ loc: CodeLocation, from i: Int) throws -> Int {
            guard let f = spec.function(containing: loc) else {
                throw error(program, "instruction \(i) calls instruction \(loc.instruction) of section '\(spec.elf.sections[loc.section].name)', where no function is defined")
            }
            return place(f) + (loc.instruction - f.start)
        }

        _ = place(program.function)
        var i = 0
        while i < code.count {
            let here = origin[i]
            var insn = code[i]
            let width = insn.isLoadImm64 ? 2 : 1
            if insn.isLoadImm64 && i + 1 >= code.count {
                throw error(program, "instruction \(i) is a 64-bit load cut off at the end of its function")
            }
            switch spec.codeRelocations[here] {
            case .mapFD(let m)?:
                insn.src = Instruction.pseudoMapFD
                insn.immediate = mapFD(m)
                code[i] = insn
            case .mapValue(let m, let offset)?:
                insn.src = Instruction.pseudoMapValue
                insn.immediate = mapFD(m)
                code[i] = insn
                code[i + 1].immediate = Int32(truncatingIfNeeded: offset)
            case .call(let loc)?:
                code[i].immediate = Int32(try target(loc, from: i) - i - 1)
            case .functionAddress(let loc)?:
                code[i].src = Instruction.pseudoFunc
                code[i].immediate = Int32(try target(loc, from: i) - i - 1)
            case .external(let name)?:
                try applyExtern(name, at: i, in: &code, program: program)
            case nil:
                // Calls between functions of one section need no relocation: the offset is already
                // relative, but the callee must still be appended.
                if insn.isPseudoCall || insn.isPseudoFunc {
                    let loc = CodeLocation(section: here.section, instruction: here.instruction + Int(insn.immediate) + 1)
                    guard loc.instruction >= 0, loc.instruction < spec.elf.sections[here.section].size / 8 else {
                        throw error(program, "instruction \(i) calls outside its section")
                    }
                    code[i].immediate = Int32(try target(loc, from: i) - i - 1)
                }
            }
            i += width
        }
        let poisoned = try applyCORERelocations(program, functions: order, placed: placed, code: &code)
        let (funcInfo, lineInfo) = debugInfo(for: order, placed: placed)
        return LinkedProgram(instructions: code, funcInfo: funcInfo, lineInfo: lineInfo,
                             functionStarts: order.map { placed[$0.key]! }, coreFailures: poisoned)
    }

    /// func_info and line_info records of the placed functions, moved to where each function now starts.
    private func debugInfo(for functions: [FunctionSpec], placed: [FunctionKey: Int]) -> ([FuncInfo], [LineInfo]) {
        guard let ext = spec.btfExt else { return ([], []) }
        var funcs: [FuncInfo] = []
        var lines: [LineInfo] = []
        for f in functions {
            let base = placed[f.key]!
            let range = (f.start * 8)..<(f.end * 8)
            // Records are sorted by offset (`BTFExt`): only this function's slice is read, not
            // the whole section once per program (quadratic with many programs in one section).
            let fi = ext.funcInfo[f.sectionName] ?? []
            for r in fi[BTFExt.slice(of: fi, in: range)] {
                funcs.append(FuncInfo(instruction: base + Int(r.insnOffset) / 8 - f.start, typeID: r.typeID))
            }
            let li = ext.lineInfo[f.sectionName] ?? []
            for r in li[BTFExt.slice(of: li, in: range)] {
                lines.append(LineInfo(instruction: base + Int(r.insnOffset) / 8 - f.start, fileNameOffset: r.fileNameOffset,
                                      lineOffset: r.lineOffset, lineColumn: r.lineCol))
            }
        }
        // The kernel wants func_info to cover every function or none.
        if funcs.count != functions.count { funcs = [] }
        return (funcs.sorted { $0.instruction < $1.instruction }, lines.sorted { $0.instruction < $1.instruction })
    }

    /// Writes what an extern resolved to into its instruction: a kfunc call, a `.kconfig` map
    /// value, a ksym's BTF id or address; a missing `__weak` extern reads 0 (a call to it is
    /// poisoned like an unresolved CO-RE relocation, so it fails only if reached).
    private func applyExtern(_ name: String, at i: Int, in code: inout [Instruction], program: ProgramSpec) throws {
        let value: ExternValue
        do {
            guard let v = try externs?.value(of: name, isCall: code[i].isCall) else {
                throw error(program, "instruction \(i) refers to extern '\(name)', which was not resolved")
            }
            value = v
        } catch var e as LoaderError {
            // Say which program needs it; the extern's own error says why it cannot be had.
            e.location = "program '\(program.name)' (section '\(program.section)'), instruction \(i)"
            e.message = (code[i].isCall ? "calls function '\(name)', which " : "extern '\(name)' ") + e.message
            throw e.about(program: program.name)
        }
        let insn = code[i]
        switch (value, insn.isCall) {
        case (.kfunc(let id), true):
            code[i].src = Instruction.pseudoKfuncCall
            code[i].immediate = Int32(bitPattern: id)
            code[i].offset = 0
        case (.missingWeak, true):
            code[i] = Instruction(opcode: Instruction.callOpcode, immediate: COREPatch.poisonHelperID)
        case (_, true):
            throw error(program, "instruction \(i) calls '\(name)', which is not a function")
        case (.kconfig(let map, let offset), false):
            code[i].src = Instruction.pseudoMapValue
            code[i].immediate = mapFD(map)
            code[i + 1].immediate = Int32(truncatingIfNeeded: offset + Int64(insn.immediate))
        case (.ksymBTF(let id), false):
            code[i].src = Instruction.pseudoBTFID
            code[i].immediate = Int32(bitPattern: id)
            code[i + 1].immediate = 0
        case (.ksymAddress(let address), false):
            code[i].src = 0
            code[i].immediate = Int32(truncatingIfNeeded: address)
            code[i + 1].immediate = Int32(truncatingIfNeeded: address >> 32)
        case (.missingWeak, false):
            code[i].src = 0
            code[i].immediate = 0
            code[i + 1].immediate = 0
        case (.kfunc, false):
            throw error(program, "instruction \(i) loads the address of kfunc '\(name)', which BPF cannot do")
        }
    }

    func error(_ p: ProgramSpec, _ message: String, hint: String? = nil) -> LoaderError {
        LoaderError(.relocate, file: spec.path, at: "program '\(p.name)' (section '\(p.section)')", message, hint: hint, program: p.name)
    }
}
