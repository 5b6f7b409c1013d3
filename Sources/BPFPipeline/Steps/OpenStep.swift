import BPFLoader

/// Opens an object and applies what the pipeline file says about it before any map exists:
/// map sizes, shared pins, typed globals, program types and autoload.
struct OpenStep {
    let spec: PipelineSpec
    let layout: PinLayout

    func open(_ entry: ObjectEntry, objectPath: String) throws -> BPFObject {
        var options = LoadOptions()
        options.pinMapsByNameDirectory = layout.sharedDirectory
        let obj = try BPFObject.open(path: objectPath, options: options)
        for (name, m) in entry.maps.sorted(by: { $0.key < $1.key }) {
            guard obj.spec.maps.contains(where: { $0.name == name }) else {
                throw PipelineError(at: m.mark, "object '\(entry.name)' has no map '\(name)'",
                                    hint: "its maps: \(obj.spec.maps.map(\.name).joined(separator: ", "))")
            }
            let definition = obj.spec.maps.first { $0.name == name }!
            if m.isKept && MapTypes.isProgramArray(definition.type) {
                // A kept program array would mix the previous deployment's programs into the new
                // deployment's tail calls.
                throw PipelineError(at: m.mark, "map '\(name)' is a program array, which is never kept across deployments",
                                    hint: "remove 'keep'/'pin: shared' from it")
            }
            if let size = m.valueSize { try Self.checkValueSize(size, map: name, definition: definition) }
            try obj.updateMapDefinition(name) { def in
                if let n = m.maxEntries { def.maxEntries = n }
                if let n = m.valueSize?.value { def.valueSize = n }
                if m.pin == .shared { def.pinning = .byName }
                if m.isKept {
                    let previous = m.pin == .shared ? layout.sharedMapPin(name) : layout.object(entry.name).mapPin(name)
                    def.reuse = MapReuse(path: previous, recreateOnMismatch: m.onMismatch == .recreate)
                }
            }
        }
        for (name, value) in entry.globals.sorted(by: { $0.key < $1.key }) {
            do {
                try obj.setGlobal(name, to: value.literal)
            } catch let e as GlobalOverrideError {
                throw PipelineError(at: value.mark, "object '\(entry.name)': \(e)")
            }
        }
        for (name, p) in entry.programs.sorted(by: { $0.key < $1.key }) {
            guard let program = obj.program(named: name) else {
                throw PipelineError(at: p.mark, "object '\(entry.name)' has no program '\(name)'",
                                    hint: "its programs: \(obj.programs.map(\.name).joined(separator: ", "))")
            }
            if let t = p.type {
                guard let kind = SectionDefinitions.kind(forTypeName: t) else {
                    throw PipelineError(at: p.mark, "program '\(name)': unknown type '\(t)'",
                                        hint: "use a libbpf section name (socket, xdp, tc, cgroup_skb/ingress, ...) or a bpftool type name")
                }
                program.kind = kind
            }
            program.autoload = p.load
            if let target = p.attachTo { try Self.applyAttachTarget(target, to: program) }
        }
        for program in obj.programs where program.autoload && program.kind == nil {
            throw PipelineError(at: entry.mark, "object '\(entry.name)': program '\(program.name)': \(SectionDefinitions.unknownSectionHint(program.section))")
        }
        return obj
    }
}

extension GlobalValue {
    var literal: GlobalLiteral {
        switch self {
        case .integer(let v, _): .integer(v)
        case .bool(let b, _): .bool(b)
        case .string(let s, _): .string(s)
        case .list(let l, _): .list(l.map(\.literal))
        }
    }
}
