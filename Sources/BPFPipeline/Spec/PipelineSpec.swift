/// A place in a pipeline file, for error messages: `file:line:col`.
public struct SourceMark: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
    public var description: String { "\(file):\(line):\(column)" }
}

/// A pipeline file (version 1), decoded and checked against the schema. Every entry keeps the
/// mark of where it was written so later steps can point at it.
public struct PipelineSpec: Sendable {
    public var file: String
    /// The folder the file is in; relative paths in the file are relative to it.
    public var directory: String
    public var version: Int
    public var name: String
    public var pinRoot: String
    public var pluginPath: [String]
    public var objects: [ObjectEntry]

    public static let defaultPinRoot = "/sys/fs/bpf/bpfpipe"
    /// Beyond this many instances of one program a file is refused (the kernel would accept more,
    /// but a typo like 100000 should not try to load them).
    public static let maximumInstances = 4096
}

public struct ObjectEntry: Sendable {
    public enum Source: Sendable, Equatable {
        /// A prebuilt object, path relative to the pipeline file.
        case path(String)
        case build(BuildEntry)
    }
    public var name: String
    public var source: Source
    public var maps: [String: MapEntry]
    public var globals: [String: GlobalValue]
    public var programs: [String: ProgramEntry]
    public var mark: SourceMark
    /// The entry as written, with sorted keys and without comments or marks: what a deployment's
    /// fingerprint hashes, so a change of key order or a comment is no change.
    public var canonical: String = ""
}

public struct BuildEntry: Sendable, Equatable {
    public var source: String
    public var cflags: [String]
    public var include: [String]
    public var mark: SourceMark
}

public struct MapEntry: Sendable, Equatable {
    public enum Pin: String, Sendable, Equatable {
        /// `<pin-root>/<name>/<object>/maps/<map>` (the default).
        case object
        /// `<pin-root>/<name>/shared/<map>`, reused across objects and runs.
        case shared
    }
    /// What a redeploy does when a kept map's definition changed.
    public enum OnMismatch: String, Sendable, Equatable {
        /// Refuse the run, listing the differences (the default).
        case refuse
        /// Create the map anew; its old contents are lost.
        case recreate
    }
    public var maxEntries: UInt32?
    public var pin: Pin
    public var mark: SourceMark
    /// Keep the map's contents across redeploys (implied by `pin: shared`).
    public var keep: Bool = false
    public var onMismatch: OnMismatch = .refuse
    /// `value-size`: the value size the map is created with (libbpf's `bpf_map__set_value_size`).
    public var valueSize: Override<UInt32>?

    /// Whether a redeploy reuses the pinned map instead of creating a new one.
    public var isKept: Bool { keep || pin == .shared }
}

/// A typed override value for a global variable; checked against the variable's BTF type later.
public enum GlobalValue: Sendable, Equatable {
    case integer(Int64, mark: SourceMark)
    case bool(Bool, mark: SourceMark)
    case string(String, mark: SourceMark)
    case list([GlobalValue], mark: SourceMark)

    public var mark: SourceMark {
        switch self {
        case .integer(_, let m), .bool(_, let m), .string(_, let m), .list(_, let m): m
        }
    }
}

public struct ProgramEntry: Sendable {
    /// Declares the type when the section name is not libbpf's.
    public var type: String?
    public var instances: Int
    /// false leaves the program out, like libbpf's autoload.
    public var load: Bool
    public var preprocess: [StageEntry]
    public var mark: SourceMark
    /// `attach:`; without it the section decides.
    public var attach: ProgramAttach = .fromSection
    /// Smoke tests run before the deployment goes live (`test:`).
    public var tests: [ProgramTest] = []
    /// `attach-to`: the kernel function, tracepoint, iterator or LSM hook a tracing or LSM
    /// program is loaded against instead of its section's (libbpf's `bpf_program__set_attach_target`).
    public var attachTo: Override<String>?
}

public struct StageEntry: Sendable {
    public enum Kind: Sendable, Equatable {
        /// A built-in Swift stage (`set-global`, `patch-imm`, `prologue`, `skip`).
        case builtin(String)
        /// A shared object: a name found on the plugin path as lib<NAME>.so, or a path to a .so.
        case plugin(String)
    }
    /// Where a plugin runs: inside bpfpipe (fast; a crash takes bpfpipe down) or in a child
    /// process (a crash becomes an error naming the plugin and the instance).
    public enum Isolation: String, Sendable, Equatable {
        case inProcess = "in-process"
        case process
    }
    public var kind: Kind
    /// The `with:` mapping, kept as a YAML node so each stage can read it with marks.
    public var with: YAMLNode?
    public var mark: SourceMark
    public var isolation: Isolation = .inProcess
}
