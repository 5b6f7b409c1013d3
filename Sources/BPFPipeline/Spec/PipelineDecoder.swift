/// Reads a pipeline file (version 1) into a `PipelineSpec`, checking it against the schema.
///
/// Every refusal is a `PipelineError` at the offending node. What needs the BPF object
/// (that named programs, maps and variables exist; `values` lengths) is checked later.
public enum PipelineDecoder {
    /// Built-in Swift stages a `stage:` entry may name.
    public static let builtinStages = ["set-global", "patch-imm", "prologue", "skip", "fetch-args"]
    static let maximumNameLength = 64

    /// Reads and decodes the file at `path`; relative paths in it are relative to its folder.
    public static func decode(file path: String) throws -> PipelineSpec {
        try decode(bytes: PipelineFileReader.read(path: path), file: path)
    }

    /// Decodes `text` as if read from `file` (which names it in errors and sets `directory`).
    public static func decode(text: String, file: String) throws -> PipelineSpec {
        try decode(bytes: Array(text.utf8), file: file)
    }

    /// Decodes the bytes of a file already read, as if read from `file`.
    public static func decode(bytes: [UInt8], file: String) throws -> PipelineSpec {
        let root = try YAMLParser.parse(bytes: bytes, file: file)
        if root.isNull { throw PipelineError(mark: nil, file: file, message: "empty pipeline file") }
        return try pipeline(root, file: file)
    }

    private static func pipeline(_ root: YAMLNode, file: String) throws -> PipelineSpec {
        let top = try MappingFields(root, what: "the pipeline",
                                    known: ["version", "name", "pin-root", "plugin-path", "objects"])
        let versionNode = try top.required("version", hint: "start the file with 'version: 1'")
        let version = try MappingFields.naming("version") { try versionNode.int() }
        guard version == 1 else {
            throw PipelineError(at: versionNode.mark, "unsupported version \(version)",
                                hint: "this bpfpipe reads version 1 pipeline files")
        }
        let name = try checkedName(top.required("name"), key: "name")

        var pinRoot = PipelineSpec.defaultPinRoot
        if let node = top.optional("pin-root") {
            pinRoot = try MappingFields.naming("pin-root") { try node.string() }
            guard pinRoot.hasPrefix("/") else {
                throw PipelineError(at: node.mark, "'pin-root' must be an absolute path, found '\(pinRoot)'",
                                    hint: "pins live on a bpffs mount, like \(PipelineSpec.defaultPinRoot)")
            }
        }
        let pluginPath = try top.strings("plugin-path")

        let objectsNode = try top.required("objects", hint: "list the BPF objects to load under 'objects:'")
        let items = objectsNode.isNull ? [] : try MappingFields.naming("objects") { try objectsNode.sequence() }
        guard !items.isEmpty else {
            throw PipelineError(at: objectsNode.mark, "'objects' is empty; a pipeline loads at least one object")
        }
        var objects: [ObjectEntry] = []
        var firstMark: [String: SourceMark] = [:]
        for item in items {
            let (entry, nameMark) = try object(item)
            if let first = firstMark[entry.name] {
                throw PipelineError(at: nameMark, "duplicate object name '\(entry.name)' (first at \(first.line):\(first.column))",
                                    hint: "object names become pin folders and must differ")
            }
            firstMark[entry.name] = nameMark
            objects.append(entry)
        }
        return PipelineSpec(file: file, directory: directory(of: file), version: Int(version), name: name,
                            pinRoot: pinRoot, pluginPath: pluginPath, objects: objects)
    }

    /// One `objects:` item, with the mark of its name for the duplicate check.
    private static func object(_ node: YAMLNode) throws -> (ObjectEntry, SourceMark) {
        let fields = try MappingFields(node, what: "an object",
                                       known: ["name", "path", "build", "maps", "globals", "programs"])
        let nameNode = try fields.required("name")
        let name = try checkedName(nameNode, key: "name")
        let what = "object '\(name)'"

        let source: ObjectEntry.Source
        switch (fields.optional("path"), fields.optional("build")) {
        case (let path?, nil):
            source = .path(try MappingFields.naming("path") { try path.string() })
        case (nil, let build?):
            source = .build(try buildEntry(build, key: fields.keyNode("build")!, object: what))
        case (_?, _?):
            let second = [fields.keyNode("path")!, fields.keyNode("build")!].max { before($0.mark, $1.mark) }!
            throw PipelineError(at: second.mark, "\(what) has both 'path' and 'build'",
                                hint: "use 'path' for a prebuilt .o or 'build' to compile a C source, not both")
        case (nil, nil):
            throw PipelineError(at: node.mark, "\(what) needs 'path' or 'build'",
                                hint: "'path: x.bpf.o' loads a prebuilt object; 'build: { source: x.bpf.c }' compiles one")
        }

        var maps: [String: MapEntry] = [:]
        for (key, value) in try fields.pairs("maps") {
            maps[try MappingFields.keyName(key)] = try mapEntry(value, key: key)
        }
        var globals: [String: GlobalValue] = [:]
        for (key, value) in try fields.pairs("globals") {
            let variable = try MappingFields.keyName(key)
            globals[variable] = try MappingFields.naming(variable) { try globalValue(value) }
        }
        var programs: [String: ProgramEntry] = [:]
        for (key, value) in try fields.pairs("programs") {
            programs[try MappingFields.keyName(key)] = try programEntry(value, key: key)
        }
        let entry = ObjectEntry(name: name, source: source, maps: maps, globals: globals,
                                programs: programs, mark: node.mark, canonical: node.json(sortingKeys: true))
        return (entry, nameNode.mark)
    }

    private static func buildEntry(_ node: YAMLNode, key: YAMLNode, object: String) throws -> BuildEntry {
        let fields = try MappingFields(node, what: "'build' of \(object)", known: ["source", "cflags", "include"])
        let sourceNode = try fields.required("source", hint: "name the C file to compile, like 'source: prog.bpf.c'")
        return BuildEntry(source: try MappingFields.naming("source") { try sourceNode.string() },
                          cflags: try fields.strings("cflags"),
                          include: try fields.strings("include"),
                          mark: key.mark)
    }

    private static func mapEntry(_ node: YAMLNode, key: YAMLNode) throws -> MapEntry {
        var entry = MapEntry(maxEntries: nil, pin: .object, mark: key.mark)
        if node.isNull { return entry }
        let fields = try MappingFields(node, what: "map '\(key.scalar?.value ?? "")'", known: ["max-entries", "pin", "keep", "on-mismatch"] + mapOverrideKeys)
        if let n = fields.optional("max-entries") {
            let value = try MappingFields.naming("max-entries") { try n.int() }
            guard value >= 1, value <= Int64(UInt32.max) else {
                throw PipelineError(at: n.mark, "'max-entries' must be between 1 and \(UInt32.max), found \(value)")
            }
            entry.maxEntries = UInt32(value)
        }
        try readMapOverrides(fields, into: &entry)
        if let p = fields.optional("pin") {
            let text = try MappingFields.naming("pin") { try p.string() }
            guard let pin = MapEntry.Pin(rawValue: text) else {
                throw PipelineError(at: p.mark, "'pin' must be 'object' or 'shared', found '\(text)'",
                                    hint: "'object' pins under the object's folder; 'shared' lets objects and runs reuse the map")
            }
            entry.pin = pin
        }
        if let k = fields.optional("keep") {
            entry.keep = try MappingFields.naming("keep") { try k.bool() }
        }
        if let m = fields.optional("on-mismatch") {
            let text = try MappingFields.naming("on-mismatch") { try m.string() }
            guard let choice = MapEntry.OnMismatch(rawValue: text) else {
                throw PipelineError(at: m.mark, "'on-mismatch' must be 'refuse' or 'recreate', found '\(text)'")
            }
            guard entry.isKept else {
                throw PipelineError(at: m.mark, "'on-mismatch' only applies to kept maps", hint: "add 'keep: true' or 'pin: shared'")
            }
            entry.onMismatch = choice
        }
        return entry
    }

    /// An integer, boolean, string, or list of those (nested lists allowed for arrays of arrays).
    private static func globalValue(_ node: YAMLNode) throws -> GlobalValue {
        switch node.content {
        case .sequence(let items):
            return .list(try items.map(globalValue), mark: node.mark)
        case .mapping:
            throw node.mismatch("an integer, boolean, string or list")
        case .scalar(let s):
            switch s.resolved {
            case .integer: return .integer(try node.int(), mark: node.mark)
            case .bool(let b): return .bool(b, mark: node.mark)
            case .string: return .string(s.value, mark: node.mark)
            case .null, .float: throw node.mismatch("an integer, boolean, string or list")
            }
        }
    }

    private static func programEntry(_ node: YAMLNode, key: YAMLNode) throws -> ProgramEntry {
        var entry = ProgramEntry(type: nil, instances: 1, load: true, preprocess: [], mark: key.mark)
        if node.isNull { return entry }
        let program = "program '\(key.scalar?.value ?? "")'"
        let fields = try MappingFields(node, what: program, known: ["type", "instances", "load", "preprocess", "attach", "test"] + programOverrideKeys)
        entry.type = try fields.read("type") { try $0.string() }
        if let n = fields.optional("instances") {
            let value = try MappingFields.naming("instances") { try n.int() }
            guard value >= 1, value <= Int64(PipelineSpec.maximumInstances) else {
                throw PipelineError(at: n.mark, "'instances' must be between 1 and \(PipelineSpec.maximumInstances), found \(value)")
            }
            entry.instances = Int(value)
        }
        entry.load = try fields.read("load") { try $0.bool() } ?? true
        try readProgramOverrides(fields, into: &entry)
        if let a = fields.optional("attach") {
            entry.attach = try attachValue(a, key: fields.keyNode("attach")!, program: program, instances: entry.instances, load: entry.load)
        }
        if let list = fields.optional("preprocess"), !list.isNull {
            entry.preprocess = try MappingFields.naming("preprocess") { try list.sequence() }.map {
                try stageEntry($0, program: program)
            }
        }
        if let t = fields.optional("test") { entry.tests = try programTests(t, program: program, instances: entry.instances) }
        return entry
    }

    private static func stageEntry(_ node: YAMLNode, program: String) throws -> StageEntry {
        let fields = try MappingFields(node, what: "a stage of \(program)", known: ["stage", "plugin", "with", "isolation"])
        let kind: StageEntry.Kind
        switch (fields.optional("stage"), fields.optional("plugin")) {
        case (let s?, nil):
            let name = try MappingFields.naming("stage") { try s.string() }
            guard builtinStages.contains(name) else {
                let near = Suggestion.nearest(to: name, in: builtinStages)
                throw PipelineError(
                    at: s.mark, "unknown built-in stage '\(name)'" + (near.map { "; did you mean '\($0)'?" } ?? ""),
                    hint: "built-in stages are \(builtinStages.joined(separator: ", ")); for a shared object write 'plugin: \(name)'")
            }
            kind = .builtin(name)
        case (nil, let p?):
            let name = try MappingFields.naming("plugin") { try p.string() }
            guard !name.isEmpty else { throw PipelineError(at: p.mark, "'plugin' is empty") }
            kind = .plugin(name)
        case (_?, _?):
            let second = [fields.keyNode("stage")!, fields.keyNode("plugin")!].max { before($0.mark, $1.mark) }!
            throw PipelineError(at: second.mark, "a stage has both 'stage' and 'plugin'",
                                hint: "'stage:' names a built-in stage, 'plugin:' a shared object; one per entry")
        case (nil, nil):
            throw PipelineError(at: node.mark, "a stage needs 'stage' or 'plugin'",
                                hint: "built-in stages are \(builtinStages.joined(separator: ", "))")
        }
        let with = fields.optional("with").flatMap { $0.isNull ? nil : $0 }
        var entry = StageEntry(kind: kind, with: with, mark: node.mark)
        if let iso = fields.optional("isolation") {
            let text = try MappingFields.naming("isolation") { try iso.string() }
            guard let value = StageEntry.Isolation(rawValue: text) else {
                throw PipelineError(at: iso.mark, "'isolation' must be 'in-process' or 'process', found '\(text)'")
            }
            guard case .plugin = kind else {
                throw PipelineError(at: iso.mark, "'isolation' applies to plugins; built-in stages run in bpfpipe")
            }
            entry.isolation = value
        }
        return entry
    }

    /// A pipeline or object name: it becomes a folder under the pin root, so it is kept simple.
    private static func checkedName(_ node: YAMLNode, key: String) throws -> String {
        let name = try MappingFields.naming(key) { try node.string() }
        let allowed = name.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
        guard allowed, !name.isEmpty, name.utf8.count <= maximumNameLength else {
            throw PipelineError(at: node.mark, "invalid name '\(name)'",
                                hint: "use 1 to \(maximumNameLength) characters from a-z, 0-9, '_' and '-'; it becomes a folder under the pin root")
        }
        return name
    }

    private static func before(_ a: SourceMark, _ b: SourceMark) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }

    /// The folder of `file`, "." when it has none.
    static func directory(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return slash == file.startIndex ? "/" : String(file[..<slash])
    }
}
