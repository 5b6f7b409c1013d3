import BPFLoader

/// A dlopen'd plugin as a stage: `with:` goes to the plugin's init as JSON. With
/// `isolation: process` the plugin runs in a child process instead (see `PluginProcess`); the
/// library is still opened here first, so a bad plugin is reported by `validate`.
struct PluginStage: Stage {
    let label: String
    private let inProcess: PluginInstance?
    private let child: PluginProcess?

    init(_ env: StageEnvironment, library: PluginLibrary) throws {
        label = "plugin \(library.name) (\(library.path))"
        let json = env.entry.with?.json() ?? "{}"
        do {
            if env.entry.isolation == .process {
                child = try PluginProcess(pluginPath: library.path, pluginName: library.name, configJSON: json)
                inProcess = nil
            } else {
                inProcess = try library.instantiate(configJSON: json)
                child = nil
            }
        } catch let e as PluginLibrary.Failure {
            // One plugin may serve several programs, each with its own `with:`; say whose failed.
            throw PipelineError(at: env.entry.mark, "program '\(env.program)': \(e.description)")
        } catch let e as PluginProcess.Failure {
            throw PipelineError(at: env.entry.mark, "program '\(env.program)': \(e.description)")
        }
    }

    func apply(_ ctx: PreprocessContext, _ insns: [Instruction]) throws -> [Instruction]? {
        if let child { return try child.prep(ctx, insns) }
        return try inProcess!.prep(ctx, insns)
    }
}

/// Finds plugins: a name is `lib<NAME>.so` on the pipeline's plugin path, then beside the
/// bpfpipe executable (where `swift build` puts the example plugins); a name with a '/' or
/// ending in `.so` is a path relative to the pipeline file. Each library is opened once.
final class PluginResolver {
    let searchPath: [String]
    let baseDirectory: String
    let allowUnsafePaths: Bool
    private var opened: [String: PluginLibrary] = [:]

    init(searchPath: [String], baseDirectory: String, allowUnsafePaths: Bool = false) {
        self.searchPath = searchPath
        self.baseDirectory = baseDirectory
        self.allowUnsafePaths = allowUnsafePaths
    }

    func library(_ name: String, at mark: SourceMark) throws -> PluginLibrary {
        let path = try resolve(name, at: mark)
        if let lib = opened[path] { return lib }
        if !allowUnsafePaths, let why = PathSafety.unsafeReason(path) {
            throw PipelineError(at: mark, "plugin '\(name)': refusing \(why)", hint: "fix the permissions, or pass --allow-unsafe-paths")
        }
        do {
            let lib = try PluginLibrary(path: path)
            opened[path] = lib
            return lib
        } catch let e as PluginLibrary.Failure {
            throw PipelineError(at: mark, e.description)
        }
    }

    func resolve(_ name: String, at mark: SourceMark) throws -> String {
        if name.contains("/") || name.hasSuffix(".so") {
            let p = Paths.absolute(name, relativeTo: baseDirectory)
            guard Paths.exists(p) else { throw PipelineError(at: mark, "plugin file \(p) does not exist") }
            return p
        }
        let candidates = searchPath.map { Paths.absolute($0, relativeTo: baseDirectory) + "/lib\(name).so" }
            + [Paths.executableDirectory() + "/lib\(name).so"]
        guard let found = candidates.first(where: Paths.exists) else {
            throw PipelineError(at: mark, "plugin '\(name)' not found; looked for \(candidates.joined(separator: ", "))",
                                hint: "build the example plugins with `swift build`, or give a path to the .so")
        }
        return found
    }
}
