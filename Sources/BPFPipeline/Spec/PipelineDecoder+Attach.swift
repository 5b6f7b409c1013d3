/// The `attach:` key of a program: `false`, `true`, one target, or a list with one target per
/// instance. Every refusal points at the node that is wrong.
extension PipelineDecoder {
    /// Linux interface names are at most IFNAMSIZ - 1 bytes.
    static let maximumInterfaceName = 15

    static func attachValue(_ node: YAMLNode, key: YAMLNode, program: String, instances: Int, load: Bool) throws -> ProgramAttach {
        let value: ProgramAttach
        switch node.content {
        case .scalar(let s):
            guard case .bool(let b) = s.resolved else {
                throw PipelineError(at: node.mark, "'attach' of \(program): expected a target, a list of targets, or false, found \(node.kindDescription)",
                                    hint: "write e.g. 'attach: { tracepoint: syscalls/sys_enter_getpid }', or 'attach: false' to only load and pin")
            }
            value = b ? .fromSection : .never
        case .mapping:
            value = .targets([try attachTarget(node)])
        case .sequence(let items):
            guard items.count == instances else {
                let hint = instances == 1 || items.count == 1
                    ? "write a single target without the list to attach every instance to it"
                    : "list one target per instance, in instance order"
                throw PipelineError(at: node.mark, "'attach' of \(program) lists \(items.count) target\(items.count == 1 ? "" : "s") but the program has \(instances) instance\(instances == 1 ? "" : "s")",
                                    hint: hint)
            }
            value = .targets(try items.map(attachTarget))
        }
        if !load, case .targets = value {
            throw PipelineError(at: key.mark, "\(program) has 'attach' targets but 'load: false'",
                                hint: "a program that is not loaded cannot be attached; remove one of the two")
        }
        return value
    }

    /// One target: a mapping with exactly one key naming the kind.
    private static func attachTarget(_ node: YAMLNode) throws -> AttachEntry {
        let pairs = try MappingFields.naming("attach") { try node.mapping() }
        guard pairs.count == 1, let (kindKey, value) = pairs.first else {
            throw PipelineError(at: node.mark, "an attach target has \(pairs.count) keys; it needs exactly one naming its kind",
                                hint: "kinds are \(AttachEntry.kindNames.joined(separator: ", ")); one target per entry")
        }
        let kind = try MappingFields.keyName(kindKey)
        let mark = kindKey.mark
        switch kind {
        case "uprobe", "uretprobe":
            return AttachEntry(kind: try uprobe(value, kind: kind), mark: mark)
        case "kprobe", "kretprobe":
            let fields = try MappingFields(value, what: "'\(kind)' target", known: ["function", "offset"])
            let function = try nonEmpty(fields.required("function", hint: "name the kernel function, like '\(kind): { function: do_sys_openat2 }'"), key: "function")
            let offset = try offsetValue(fields)
            return AttachEntry(kind: .kprobe(function: function, offset: offset, isReturn: kind == "kretprobe"), mark: mark)
        case "tracepoint":
            let text = try MappingFields.naming("tracepoint") { try value.string() }
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw PipelineError(at: value.mark, "'tracepoint' must be CATEGORY/NAME, found '\(text)'",
                                    hint: "like 'syscalls/sys_enter_getpid' (the folder under /sys/kernel/tracing/events)")
            }
            return AttachEntry(kind: .tracepoint(category: String(parts[0]), name: String(parts[1])), mark: mark)
        case "raw-tracepoint":
            let text = try MappingFields.naming("raw-tracepoint") { try value.string() }
            guard !text.isEmpty, !text.contains("/") else {
                throw PipelineError(at: value.mark, "'raw-tracepoint' must be a tracepoint name without a category, found '\(text)'",
                                    hint: "like 'sched_switch'")
            }
            return AttachEntry(kind: .rawTracepoint(name: text), mark: mark)
        case "xdp":
            let fields = try MappingFields(value, what: "'xdp' target", known: ["interface", "mode"])
            let interface = try interfaceName(fields)
            var mode = AttachEntry.XDPMode.auto
            if let m = fields.optional("mode") {
                mode = try choice(m, key: "mode", AttachEntry.XDPMode.self)
            }
            return AttachEntry(kind: .xdp(interface: interface, mode: mode), mark: mark)
        case "tc":
            let fields = try MappingFields(value, what: "'tc' target", known: ["interface", "direction"])
            let interface = try interfaceName(fields)
            let d = try fields.required("direction", hint: "'direction: ingress' or 'direction: egress'")
            return AttachEntry(kind: .tc(interface: interface, direction: try choice(d, key: "direction", AttachEntry.TCDirection.self)), mark: mark)
        case "cgroup":
            let fields = try MappingFields(value, what: "'cgroup' target", known: ["path", "type"])
            let pathNode = try fields.required("path", hint: "the cgroup's folder, like /sys/fs/cgroup/unified/lab")
            let path = try nonEmpty(pathNode, key: "path")
            guard path.hasPrefix("/") else {
                throw PipelineError(at: pathNode.mark, "cgroup 'path' must be absolute, found '\(path)'",
                                    hint: "cgroup v2 folders are under /sys/fs/cgroup (here /sys/fs/cgroup/unified)")
            }
            var attachType: UInt32?
            if let t = fields.optional("type") {
                let name = try MappingFields.naming("type") { try t.string() }
                guard let v = AttachEntry.cgroupTypes[name] else {
                    let names = AttachEntry.cgroupTypes.keys.sorted()
                    throw PipelineError(at: t.mark, "unknown cgroup attach type '\(name)'" + (Suggestion.nearest(to: name, in: names).map { "; did you mean '\($0)'?" } ?? ""),
                                        hint: "types are \(names.joined(separator: ", ")); leave 'type' out to use the program's own")
                }
                attachType = v
            }
            return AttachEntry(kind: .cgroup(path: Paths.normalize(path), attachType: attachType), mark: mark)
        default:
            let near = Suggestion.nearest(to: kind, in: AttachEntry.kindNames)
            throw PipelineError(at: mark, "unknown attach target kind '\(kind)'" + (near.map { "; did you mean '\($0)'?" } ?? ""),
                                hint: "kinds are \(AttachEntry.kindNames.joined(separator: ", "))")
        }
    }

    private static func uprobe(_ node: YAMLNode, kind: String) throws -> AttachEntry.Kind {
        let fields = try MappingFields(node, what: "'\(kind)' target", known: ["binary", "function", "offset", "pid"])
        let binary = try nonEmpty(fields.required("binary", hint: "the executable or library to probe, relative to the pipeline file"), key: "binary")
        let function = try fields.optional("function").map { try nonEmpty($0, key: "function") }
        guard function != nil || fields.has("offset") else {
            throw PipelineError(at: node.mark, "'\(kind)' target needs 'function', 'offset' or both",
                                hint: "'function: NAME' probes a symbol; 'offset: 0x1040' a file offset (added to the function's with both)")
        }
        let offset = try offsetValue(fields)
        var pid: Int32?
        if let p = fields.optional("pid") {
            let v = try MappingFields.naming("pid") { try p.int() }
            guard v >= 0, v <= Int64(Int32.max) else {
                throw PipelineError(at: p.mark, "'pid' must be between 0 and \(Int32.max), found \(v)", hint: "0 or no 'pid' probes every process")
            }
            pid = v == 0 ? nil : Int32(v)
        }
        // Relative to the pipeline file, like object paths; the mark names that file.
        let path = Paths.absolute(binary, relativeTo: directory(of: node.mark.file))
        return .uprobe(binary: path, function: function, offset: offset, pid: pid, isReturn: kind == "uretprobe")
    }

    private static func offsetValue(_ fields: MappingFields) throws -> UInt64 {
        guard let n = fields.optional("offset") else { return 0 }
        let v = try MappingFields.naming("offset") { try n.int() }
        guard v >= 0 else { throw PipelineError(at: n.mark, "'offset' must not be negative, found \(v)") }
        return UInt64(v)
    }

    private static func interfaceName(_ fields: MappingFields) throws -> String {
        let node = try fields.required("interface", hint: "the network interface, like 'interface: eth0'")
        let name = try nonEmpty(node, key: "interface")
        guard name.utf8.count <= maximumInterfaceName, !name.contains("/"), !name.contains(where: \.isWhitespace) else {
            throw PipelineError(at: node.mark, "invalid interface name '\(name)'",
                                hint: "interface names have 1 to \(maximumInterfaceName) characters, without '/' or spaces")
        }
        return name
    }

    private static func choice<T: RawRepresentable & CaseIterable>(_ node: YAMLNode, key: String, _ type: T.Type) throws -> T where T.RawValue == String {
        let text = try MappingFields.naming(key) { try node.string() }
        guard let v = T(rawValue: text) else {
            let names = T.allCases.map(\.rawValue)
            throw PipelineError(at: node.mark, "'\(key)' must be \(names.map { "'\($0)'" }.joined(separator: ", ")), found '\(text)'"
                                + (Suggestion.nearest(to: text, in: names).map { "; did you mean '\($0)'?" } ?? ""))
        }
        return v
    }

    private static func nonEmpty(_ node: YAMLNode, key: String) throws -> String {
        let text = try MappingFields.naming(key) { try node.string() }
        guard !text.isEmpty else { throw PipelineError(at: node.mark, "'\(key)' is empty") }
        return text
    }
}
