import BPFLoader
import Logging

/// Runs a pipeline file's steps in order — build → open → relocate → preprocess → load → pin —
/// logging each step and each instance as a structured record. On any failure nothing of the run
/// stays in the kernel or in bpffs, and the previous deployment is left as it was.
public struct PipelineRunner {
    public enum Mode: String, Sendable {
        /// Schema and references: builds and opens objects, configures stages; no kernel.
        case validate
        /// Also relocates and preprocesses (without creating maps) to show what would load.
        case plan
        /// Everything.
        case run
    }

    public let spec: PipelineSpec
    public var logger: Logger
    public var build: BuildStep
    /// Accept objects and plugins in places others can write to (off by default).
    public var allowUnsafePaths = false
    /// Called at every point a run can fail (after each step of each object, after each loaded
    /// instance, after each object's pins, between swaps); throwing there fails the run as a real
    /// failure would. For fault-injection tests; nil in normal use.
    public var faultHook: (@Sendable (FaultPoint) throws -> Void)?
    /// How many instances of an object load at once (`LoadOptions.jobs`); nil: online CPUs.
    /// Logs, fault points and the report keep program and instance order whatever it is.
    public var jobs: Int?

    public init(spec: PipelineSpec, logger: Logger, build: BuildStep = BuildStep()) {
        self.spec = spec
        self.logger = logger
        self.build = build
    }

    /// Where the deployment's pins live (`<pin-root>/<name>/...`).
    public var layout: PinLayout { .deployment(root: spec.pinRoot, name: spec.name) }
    public var deploymentDirectory: String { layout.directory }
    public var sharedMapDirectory: String { layout.sharedDirectory }

    /// Runs up to and including what `mode` asks for. The objects stay loaded (and their fds
    /// open) as long as the returned result lives; pins keep them after that.
    public func execute(_ mode: Mode) throws -> RunResult {
        var opened: [BPFObject] = []
        do {
            return try execute(mode, opened: &opened)
        } catch {
            // Shared maps are pinned by name as they are created; a failed run takes them back.
            for obj in opened { obj.removeNewByNamePins() }
            throw error
        }
    }

    private func execute(_ mode: Mode, opened: inout [BPFObject]) throws -> RunResult {
        let plugins = PluginResolver(searchPath: spec.pluginPath, baseDirectory: spec.directory, allowUnsafePaths: allowUnsafePaths)
        if let link = PathSafety.symlinkComponent(deploymentDirectory) {
            throw PipelineError(mark: nil, file: spec.file, message: "pin path \(deploymentDirectory) goes through the symbolic link \(link); pins must stay under the pin root")
        }
        if mode == .run { removeKilledRuns() }
        var loaded: [(entry: ObjectEntry, object: BPFObject)] = []
        for entry in spec.objects {
            let path = try timed(.build, entry.name, nil) { try buildOrLocate(entry) }
            try fault(.build, entry.name)
            let obj = try timed(.open, entry.name, nil) {
                try OpenStep(spec: spec, layout: layout).open(entry, objectPath: path)
            }
            opened.append(obj)
            try fault(.open, entry.name)
            var preprocess = PreprocessStep(plugins: plugins)
            preprocess.logger = logger
            if let hook = faultHook {
                let object = entry.name
                preprocess.fault = { program, n in try hook(FaultPoint(step: .preprocess, object: object, program: program, instance: n)) }
            }
            try timed(.preprocess, entry.name, "configured stages") { try preprocess.configure(entry, object: obj) }
            try TestStep.check(entry, object: obj, directory: spec.directory)
            loaded.append((entry, obj))
        }
        if mode == .validate {
            return RunResult(mode: mode, objects: loaded.map(\.object), report: report(mode, loaded, pins: [:], links: []))
        }
        for (entry, obj) in loaded {
            try timed(.relocate, entry.name, nil) {
                try obj.relocate(createMaps: mode == .run)
                try fault(.relocate, entry.name)
            }
            for w in obj.warnings { logger.warning("\(w)", metadata: ["step": "relocate", "object": "\(entry.name)"]) }
            for p in obj.programs where p.autoload {
                logger.debug("relocated", metadata: ["step": "relocate", "object": "\(entry.name)", "program": "\(p.name)",
                                                     "insns": .stringConvertible(p.linked?.instructions.count ?? 0)])
            }
            try timed(.preprocess, entry.name, nil) {
                try obj.preprocess()
                try fault(.preprocess, entry.name)
            }
            for p in obj.programs where p.autoload {
                for inst in p.instances {
                    var meta: Logger.Metadata = ["step": "preprocess", "object": "\(entry.name)", "program": "\(p.name)",
                                                 "instance": .stringConvertible(inst.index)]
                    if let code = inst.code { meta["insns"] = .stringConvertible(code.instructions.count) } else { meta["skipped"] = .stringConvertible(true) }
                    logger.info(inst.isSkipped ? "instance skipped" : "instance prepared", metadata: meta)
                }
            }
        }
        var fingerprints: [String: [UInt8]] = [:]
        for (entry, obj) in loaded { fingerprints[entry.name] = try Fingerprint.of(spec: spec, entry: entry, object: obj) }
        if mode == .plan {
            return RunResult(mode: mode, objects: loaded.map(\.object), report: report(mode, loaded, pins: [:], links: []), fingerprints: fingerprints)
        }
        for (entry, obj) in loaded {
            try timed(.load, entry.name, nil) {
                try obj.loadPrograms(jobs: jobs) { program, n, _, ns in
                    var meta: Logger.Metadata = ["step": "load", "object": "\(entry.name)", "program": "\(program.name)",
                                                 "instance": .stringConvertible(n), "duration_ms": .stringConvertible(Self.ms(ns))]
                    if let code = program.instances[n].code { meta["insns"] = .stringConvertible(code.instructions.count) }
                    if let info = program.kernelInfo(instance: n) { meta["prog_id"] = .stringConvertible(info.id) }
                    self.logger.info("instance loaded", metadata: meta)
                    try self.fault(.load, entry.name, program.name, n)
                }
            }
        }
        var pinStep = PinStep(layout: layout, fingerprints: fingerprints)
        pinStep.fault = { object, stage in try self.fault(.pin, object, stage, nil) }
        var tested: [TestStep.Result] = []
        let attachStep = AttachStep(layout: layout)
        attachStep.fault = { object, program, n in try self.fault(.attach, object, program, n) }
        pinStep.beforeSwap = { staging in
            // Smoke tests first: a program that fails its own test is never attached.
            let tests = TestStep(logger: self.logger, directory: self.spec.directory)
            for (entry, obj) in loaded where entry.programs.values.contains(where: { !$0.tests.isEmpty }) {
                tested += try self.timed(.test, entry.name, "tests passed") { try tests.run(entry, object: obj) }
            }
            try self.attach(loaded, attachStep, staging: staging)
        }
        pinStep.onFailure = { attachStep.undo() }
        let pinned = try timed(.pin, nil, nil) {
            try pinStep.pin(loaded.map { ($0.entry.name, $0.object) }) { object, name, pin in
                var meta: Logger.Metadata = ["step": "pin", "object": "\(object)", "pin": "\(pin.path)"]
                meta[pin.kind == .program ? "program" : "map"] = "\(name)"
                if let n = pin.instance { meta["instance"] = .stringConvertible(n) }
                if pin.kind == .program { meta["prog_id"] = .stringConvertible(pin.id) }
                self.logger.info("pinned", metadata: meta)
            }
        }
        attachStep.finish()
        var pins: [String: [PinnedObject]] = [:]
        for p in pinned { pins[p.object] = p.pins }
        var runReport = report(mode, loaded, pins: pins, links: attachStep.attached)
        runReport.record(tested)
        return RunResult(mode: mode, objects: loaded.map(\.object), report: runReport, fingerprints: fingerprints)
    }

    private func fault(_ step: Step, _ object: String, _ program: String? = nil, _ instance: Int? = nil) throws {
        try faultHook?(FaultPoint(step: step, object: object, program: program, instance: instance))
    }

    private func buildOrLocate(_ entry: ObjectEntry) throws -> String {
        switch entry.source {
        case .path(let p):
            let path = Paths.absolute(p, relativeTo: spec.directory)
            guard Paths.exists(path) else { throw PipelineError(at: entry.mark, "object '\(entry.name)': file \(path) does not exist") }
            try checkSafe(path, at: entry.mark, what: "object '\(entry.name)'")
            return path
        case .build(let b):
            let source = Paths.absolute(b.source, relativeTo: spec.directory)
            guard Paths.exists(source) else { throw PipelineError(at: b.mark, "object '\(entry.name)': source \(source) does not exist") }
            try checkSafe(source, at: b.mark, what: "object '\(entry.name)'")
            for inc in b.include where !Paths.exists(Paths.absolute(inc, relativeTo: spec.directory)) {
                throw PipelineError(at: b.mark, "object '\(entry.name)': include folder \(Paths.absolute(inc, relativeTo: spec.directory)) does not exist")
            }
            let include = b.include.map { Paths.absolute($0, relativeTo: spec.directory) }
            // The folder holding the pipeline, the source and its includes is the checkout's
            // root as far as this build goes: it is mapped away so any checkout builds the same.
            let base = Paths.commonAncestor([Paths.absolute(".", relativeTo: spec.directory), Paths.directory(of: source)] + include)
            let out = try build.build(source: source, cflags: b.cflags, include: include, baseDirectory: base)
            logger.info(out.cacheHit ? "cache hit" : "compiled", metadata: ["step": "build", "object": "\(entry.name)", "cache": "\(out.cacheHit ? "hit" : "miss")", "path": "\(out.object)"])
            return out.object
        }
    }

    private func checkSafe(_ path: String, at mark: SourceMark, what: String) throws {
        guard !allowUnsafePaths, let why = PathSafety.unsafeReason(path) else { return }
        throw PipelineError(at: mark, "\(what): refusing \(why)", hint: "fix the permissions, or pass --allow-unsafe-paths")
    }

    /// Runs one step, logs its duration, and logs (then rethrows) its failure with the step named.
    func timed<T>(_ step: Step, _ object: String?, _ what: String?, _ body: () throws -> T) throws -> T {
        let start = MonotonicClock.nanoseconds()
        var meta: Logger.Metadata = ["step": "\(step.rawValue)"]
        if let object { meta["object"] = "\(object)" }
        do {
            let v = try body()
            meta["duration_ms"] = .stringConvertible(Self.ms(MonotonicClock.nanoseconds() - start))
            logger.info("\(what ?? "\(step.rawValue) done")", metadata: meta)
            return v
        } catch let e as LoaderError where (e.step == .test || e.step == .attach) && step != e.step {
            throw e  // the test and attach steps run between staging and swap, inside the pin step, and logged it
        } catch {
            meta["duration_ms"] = .stringConvertible(Self.ms(MonotonicClock.nanoseconds() - start))
            meta["error"] = "\(error)"
            guard var e = error as? LoaderError else {
                logger.error("\(step.rawValue) failed", metadata: meta)
                throw error
            }
            // The runner knows the pipeline's name for the object; the error's fields fill the record.
            if e.object == nil { e.object = object }
            if let log = e.verifierLog, !log.isEmpty { meta["verifier_log"] = "\(log)" }
            Self.describe(e, into: &meta)
            logger.error("\(step.rawValue) failed", metadata: meta)
            throw e
        }
    }

    /// The error's object, program, instance and test, as the log record's fields.
    private static func describe(_ e: LoaderError, into meta: inout Logger.Metadata) {
        if let object = e.object { meta["object"] = "\(object)" }
        if let program = e.program { meta["program"] = "\(program)" }
        if let n = e.instance { meta["instance"] = .stringConvertible(n) }
        if let n = e.test { meta["test"] = .stringConvertible(n) }
    }

    static func ms(_ ns: UInt64) -> Double { Double(ns / 1000) / 1000 }

    private func report(_ mode: Mode, _ loaded: [(entry: ObjectEntry, object: BPFObject)], pins: [String: [PinnedObject]], links: [AttachedLink]) -> RunReport {
        RunReport(pipeline: spec.name, file: spec.file, mode: mode.rawValue, deployment: deploymentDirectory, objects: loaded.map { entry, obj in
            let objectPins = pins[entry.name] ?? []
            let programs = obj.programs.filter(\.autoload).map { p in
                RunReport.ProgramReport(name: p.name, section: p.section, type: p.kind?.typeName ?? "unknown", instanceCount: p.instanceCount,
                                        instances: p.instances.map { inst in
                    let info = p.kernelInfo(instance: inst.index)
                    let pin = objectPins.first { $0.kind == .program && $0.name == p.name && ($0.instance ?? 0) == inst.index }
                    let target = inst.isSkipped ? nil : AttachStep.target(of: p, instance: inst.index, entry.programs[p.name]?.attach ?? .fromSection)
                    return RunReport.Instance(instance: inst.index, skipped: inst.isSkipped, insns: inst.code?.instructions.count,
                                              id: info?.id, tag: info?.tag, pin: pin?.path, attach: target.map { "\($0)" })
                })
            }
            let maps = obj.spec.maps.map { def in
                let m = obj.map(named: def.name)
                let pin = objectPins.first { $0.kind == .map && $0.name == def.name }?.path
                return RunReport.MapReport(name: def.name, type: def.typeName, id: m.map { $0.id }, pin: def.pinning == .byName ? layout.sharedMapPin(def.name) : pin,
                                           shared: def.pinning == .byName)
            }
            return RunReport.ObjectReport(name: entry.name, path: obj.path, programs: programs, maps: maps,
                                          links: links.filter { $0.object == entry.name })
        })
    }
}

/// A place where a run can fail, offered to `PipelineRunner.faultHook`.
public struct FaultPoint: Sendable, CustomStringConvertible {
    public var step: Step
    public var object: String
    /// The program for a load fault; "pinned" or "swapped" for pin faults.
    public var program: String?
    public var instance: Int?
    public var description: String {
        "\(step.rawValue) \(object)" + (program.map { " \($0)" } ?? "") + (instance.map { "[\($0)]" } ?? "")
    }
}

/// The outcome of a run: what was loaded (kept open while this lives) and its report.
public struct RunResult {
    public var mode: PipelineRunner.Mode
    public var objects: [BPFObject]
    public var report: RunReport
    /// Each object's fingerprint (`Fingerprint`), by object name; empty after `validate`.
    public var fingerprints: [String: [UInt8]] = [:]
}
