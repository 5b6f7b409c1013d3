/// What a program's code refers to, read from the object's relocations alone (no kernel, no
/// linking): lets `validate` and `plan` refuse what a run would refuse once maps exist.
extension ObjectSpec {
    /// The global-data sections (`.data`, `.rodata`, `.bss`, ...) that program `name` or any
    /// subprogram it calls takes the address of; nil when the object has no such program.
    public func globalDataSections(readBy name: String) -> Set<String>? {
        guard let program = programs.first(where: { $0.name == name }) else { return nil }
        var sections = Set<String>()
        var seen = Set<FunctionKey>()
        var pending = [program.function]
        while let f = pending.popLast() {
            guard seen.insert(f.key).inserted else { continue }
            let code = instructions(of: f)
            var i = 0
            while i < code.count {
                let here = CodeLocation(section: f.sectionIndex, instruction: f.start + i)
                var callee: CodeLocation?
                switch codeRelocations[here] {
                case .mapValue(let m, _)?:
                    if case .globalData(let s) = maps[m].origin { sections.insert(s) }
                case .call(let loc)?, .functionAddress(let loc)?:
                    callee = loc
                case nil where code[i].isPseudoCall || code[i].isPseudoFunc:
                    // A call inside the section needs no relocation: its offset is already relative.
                    callee = CodeLocation(section: f.sectionIndex, instruction: here.instruction + Int(code[i].immediate) + 1)
                default:
                    break
                }
                if let loc = callee, let g = function(containing: loc) { pending.append(g) }
                i += code[i].isLoadImm64 ? 2 : 1
            }
        }
        return sections
    }
}
