/// A variable of a global-data section, as the object's BTF describes it.
public struct GlobalVariable: Sendable, Equatable {
    public var section: String
    public var name: String
    /// Byte offset inside the section (and so inside the map's value).
    public var offset: Int
    public var size: Int
    public var typeName: String
    /// The BTF type id of the variable's type, for typed overrides.
    var typeID: UInt32
}

extension ObjectSpec {
    /// Variables of `.data`, `.rodata`, `.bss` and their custom variants, in section order. Offsets
    /// come from the ELF symbols, since clang leaves them 0 in BTF.
    public var globalVariables: [GlobalVariable] {
        guard let btf else { return [] }
        var out: [GlobalVariable] = []
        for sec in elf.sections where GlobalData.isDataSection(sec.name) && sec.size > 0 {
            guard let ds = btf.datasec(named: sec.name) else { continue }
            for v in ds.vars {
                guard let variable = btf.type(v.typeID), variable.kind == .var else { continue }
                let offset = elf.symbols.first { $0.sectionIndex == sec.index && $0.name == v.name && !$0.isSection }.map { Int($0.value) } ?? Int(v.offset)
                let size = (try? btf.size(of: variable.sizeOrType)) ?? Int(v.size)
                // Offset and size come from the file (a BTF offset when no symbol names the
                // variable, a BTF type's size): a variable that does not lie inside its section
                // cannot be set, and writing it into the section's map value would trap.
                guard offset <= sec.size, size <= sec.size - offset else { continue }
                out.append(GlobalVariable(section: sec.name, name: v.name, offset: offset, size: size,
                                          typeName: btf.typeName(variable.sizeOrType), typeID: variable.sizeOrType))
            }
        }
        return out.sorted { ($0.section, $0.offset) < ($1.section, $1.offset) }
    }
}
