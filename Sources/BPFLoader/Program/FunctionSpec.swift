/// A function in an executable section: a program entry point or a subprogram.
struct FunctionSpec: Sendable, Hashable {
    var name: String
    var sectionIndex: Int
    var sectionName: String
    /// First instruction, counted from the start of the section.
    var start: Int
    var count: Int
    var isProgram: Bool

    var end: Int { start + count }
    var key: FunctionKey { FunctionKey(section: sectionIndex, start: start) }
}

struct FunctionKey: Hashable, Sendable {
    var section: Int
    var start: Int
}

/// An instruction location inside a section: where a relocation applies or a call lands.
struct CodeLocation: Hashable, Sendable, CustomStringConvertible {
    var section: Int
    var instruction: Int
    var description: String { "instruction \(instruction) of section \(section)" }
}

/// What a relocation asks the linker to write into an instruction, decided at open time from the
/// instruction and the symbol's section (not from the ELF relocation type, as libbpf does).
enum CodeRelocation: Sendable, Equatable {
    /// `ld_imm64` of a map: `BPF_PSEUDO_MAP_FD`.
    case mapFD(map: Int)
    /// `ld_imm64` of an address in a global-data section: `BPF_PSEUDO_MAP_VALUE` plus offset.
    case mapValue(map: Int, offset: Int64)
    /// `call` of a subprogram starting at that location.
    case call(CodeLocation)
    /// `ld_imm64` of a function's address (callbacks): `BPF_PSEUDO_FUNC`.
    case functionAddress(CodeLocation)
    /// A symbol the object does not define (`.kconfig`, `.ksyms`, kfuncs).
    case external(name: String)
}
