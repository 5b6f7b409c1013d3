/// A program of an opened object, with the seed's multi-instance API: set a preprocessor and an
/// instance count before load, then ask for each instance's fd.
public final class Program {
    public let spec: ProgramSpec
    public let objectPath: String
    /// The type the program is loaded as; the section's, or the one declared for it.
    public var kind: ProgramKind?
    /// Turn off to leave the program out of the load (libbpf's autoload).
    public var autoload: Bool
    /// Relocated code, set by the relocate step.
    public internal(set) var linked: LinkedProgram?
    public private(set) var instanceCount = 1
    private var preprocessor: Preprocessor?
    public internal(set) var instances: [ProgramInstance] = []
    public private(set) var isLoaded = false
    /// Set by `setPreprocessor` and by preprocessing, cleared by `unload()`: the seed's
    /// `instances.nr > 0 || instances.fds`, after which a preprocessor can no longer be set.
    private var instancesFixed = false
    /// `unload()` closed the instances; until preprocessed again no index is valid (the seed's
    /// unload set `instances.nr` to -1).
    private var wasUnloaded = false
    /// A struct_ops program's attach_btf_id: the kernel ops struct of the map that uses it (its
    /// expected_attach_type, the member index, is set in `kind`).
    var structOpsAttachBTFID: UInt32?
    /// The attach_btf_id of a target set with `setAttachTarget`, resolved when it was set.
    var overriddenAttachBTFID: UInt32?
    /// `kernelInfo(instance:)`'s answers, by instance; they go with the fds.
    private var kernelInfos: [Int: ProgramKernelInfo] = [:]

    init(spec: ProgramSpec, objectPath: String) {
        self.spec = spec
        self.objectPath = objectPath
        self.kind = spec.kind
        self.autoload = spec.autoload
    }

    public var name: String { spec.name }
    public var section: String { spec.section }

    /// `bpf_program__set_prep`: `instances` must be positive, and no preprocessor set yet, no
    /// preprocessing run and the program not loaded (all EINVAL, as the seed's
    /// `instances.nr > 0 || instances.fds` check).
    public func setPreprocessor(instances: Int, _ preprocessor: @escaping Preprocessor) throws {
        guard instances > 0 else {
            throw LoaderError(.preprocess, file: objectPath, at: "program '\(name)'", "instance count must be greater than 0, got \(instances)", errno: .invalidArgument, program: name)
        }
        guard !isLoaded else {
            throw LoaderError(.preprocess, file: objectPath, at: "program '\(name)'", "cannot set a preprocessor after the program is loaded", errno: .invalidArgument, program: name)
        }
        guard !instancesFixed else {
            // A second preprocessor, or one set after preprocessing, would change the instance
            // count the produced instances (and the pinner) were made for.
            let why = self.preprocessor != nil && self.instances.isEmpty
                ? "a preprocessor is already set for this program; set it once, with every instance's work in it"
                : "cannot set a preprocessor after preprocessing has run; its instances are already made"
            throw LoaderError(.preprocess, file: objectPath, at: "program '\(name)'", why, errno: .invalidArgument, program: name)
        }
        self.instanceCount = instances
        self.preprocessor = preprocessor
        instancesFixed = true
        wasUnloaded = false
    }

    /// `bpf_program__nth_fd`: an index out of range is EINVAL; an instance without an fd (the
    /// program not loaded yet, or the instance skipped by its preprocessor) is ENOENT.
    public func fd(instance n: Int) throws -> FileDescriptor {
        let count = isLoaded ? instances.count : wasUnloaded ? 0 : instanceCount
        guard n >= 0, n < count else {
            throw LoaderError(.load, file: objectPath, at: "program '\(name)'",
                              "instance \(n) is out of range (0..<\(count))", errno: .invalidArgument, program: name, instance: n)
        }
        guard isLoaded else {
            throw LoaderError(.load, file: objectPath, at: "program '\(name)' instance \(n)", "program is not loaded; instance \(n) has no fd yet", errno: .noSuchFile, program: name, instance: n)
        }
        guard let fd = instances[n].fd else {
            throw LoaderError(.load, file: objectPath, at: "program '\(name)' instance \(n)", "instance was skipped by its preprocessor and has no fd", errno: .noSuchFile, program: name, instance: n)
        }
        return fd
    }

    /// `bpf_program__fd`: instance 0's fd.
    public func fd() throws -> FileDescriptor { try fd(instance: 0) }

    /// `bpf_program__set_attach_target` for tracing (fentry, fexit, fmod_ret, tp_btf, iter) and
    /// LSM programs: loads the program against `target` (a kernel function, tracepoint, iterator
    /// or LSM hook, named as the section would name it) instead of the section's own target,
    /// resolved against kernel BTF now so a wrong name is reported before anything loads.
    public func setAttachTarget(_ target: String) throws {
        guard !isLoaded else {
            throw LoaderError(.open, file: objectPath, at: "program '\(name)'", "cannot change the attach target of a loaded program", errno: .invalidArgument, program: name)
        }
        guard let current = kind, AttachTarget.acceptsTarget(current) else {
            throw LoaderError(.open, file: objectPath, at: "program '\(name)'",
                              "an attach target applies to fentry, fexit, fmod_ret, tp_btf, lsm and iter programs, not to \(kind?.typeName ?? "a program of unknown type") (section '\(section)')",
                              errno: .invalidArgument, program: name)
        }
        guard !target.isEmpty else {
            throw LoaderError(.open, file: objectPath, at: "program '\(name)'", "the attach target is empty", errno: .invalidArgument, program: name)
        }
        var retargeted = current
        retargeted.attachTarget = target
        let id: UInt32?
        do {
            id = try AttachTarget.btfID(for: retargeted, section: section, overridden: true)
        } catch var error as LoaderError {
            error.file = objectPath
            error.location = "program '\(name)'" + (error.location.map { ", \($0)" } ?? "")
            throw error.about(program: name)
        }
        kind = retargeted
        overriddenAttachBTFID = id
    }

    /// Closes every instance's fd.
    public func unload() {
        instances = []
        kernelInfos = [:]
        isLoaded = false
        // As the seed's unload freed `instances.fds`: a preprocessor may be set again.
        instancesFixed = false
        wasUnloaded = true
    }

    /// Runs the preprocessor for every instance (the preprocess step). Without one, the single
    /// instance is the relocated code.
    func preprocess(objectName: String) throws {
        guard !isLoaded else {
            throw LoaderError(.preprocess, file: objectPath, at: "program '\(name)'",
                              "program is already loaded; preprocessing again would drop its loaded instances",
                              errno: .invalidArgument, hint: "call unload() first, then relocate and preprocess again", program: name)
        }
        guard let linked else {
            throw LoaderError(.preprocess, file: objectPath, at: "program '\(name)'", "program has not been relocated", program: name)
        }
        instancesFixed = true
        wasUnloaded = false
        guard let preprocessor else {
            instances = [ProgramInstance(index: 0, code: linked, fd: nil)]
            return
        }
        var out: [ProgramInstance] = []
        for n in 0..<instanceCount {
            let ctx = PreprocessContext(object: objectName, program: name, section: section, programType: kind?.type ?? 0,
                                        instance: n, instances: instanceCount)
            let result: [Instruction]?
            do {
                result = try preprocessor(ctx, linked.instructions)
            } catch {
                // A preprocessor that failed for a reason with an errno (a map it could not make,
                // a loader call it made) keeps it, so callers can tell ENOENT from EPERM.
                let errno = (error as? any ErrnoCarrying)?.carriedErrno
                throw LoaderError(.preprocess, file: objectPath, at: "program '\(name)' instance \(n)", "preprocessing instance \(n) failed: \(error)",
                                  errno: errno, program: name, instance: n)
            }
            guard let code = result, !code.isEmpty else {
                out.append(ProgramInstance(index: n, code: nil, fd: nil))
                continue
            }
            if let problem = InstructionCheck.problem(in: code) {
                throw LoaderError(.preprocess, file: objectPath, at: "program '\(name)' instance \(n)", "preprocessor returned invalid code: \(problem)", program: name, instance: n)
            }
            switch InstructionCheck.carryDebugInfo(from: linked, to: code) {
            case .success(let c): out.append(ProgramInstance(index: n, code: c, fd: nil))
            case .failure(let why):
                throw LoaderError(.preprocess, file: objectPath, at: "program '\(name)' instance \(n)", "preprocessor \(why.reason)", program: name, instance: n)
            }
        }
        instances = out
    }

    /// One `BPF_PROG_LOAD` per preprocessed instance with code, in instance order, or the error
    /// that keeps this program from loading (not preprocessed, unknown type, attach target).
    /// Nothing touches the kernel here; `BPFObject.loadPrograms` runs the requests.
    func loadRequests(license: String, kernelVersion: UInt32, btfFD: FileDescriptor?) throws -> [(instance: Int, request: ProgramLoadRequest)] {
        guard !instances.isEmpty else {
            throw LoaderError(.load, file: objectPath, at: "program '\(name)'", "program has not been preprocessed", program: name)
        }
        guard let kind else {
            throw LoaderError(.load, file: objectPath, at: "program '\(name)' (section '\(section)')", "unknown program type",
                              hint: SectionDefinitions.unknownSectionHint(section), program: name)
        }
        // Resolved once for all instances: the lookup scans kernel BTF.
        let attachBTFID: UInt32
        do {
            attachBTFID = try structOpsAttachBTFID ?? overriddenAttachBTFID ?? AttachTarget.btfID(for: kind, section: section) ?? 0
        } catch var error as LoaderError {
            error.file = objectPath
            error.location = "program '\(name)' (section '\(section)')"
            throw error.about(program: name)
        }
        return instances.compactMap { inst in
            guard let code = inst.code else { return nil }
            let instanceName = instanceCount == 1 ? sanitizedKernelName(name) : Program.instanceName(name, inst.index)
            return (inst.index, ProgramLoadRequest(kind: kind, code: code, name: instanceName, license: license,
                                                   kernelVersion: kernelVersion, btfFD: btfFD, attachBTFID: attachBTFID))
        }
    }

    /// A load error of instance `n`, placed in this program's object, program and instance.
    func locate(_ error: LoaderError, instance n: Int) -> LoaderError {
        var error = error
        error.file = objectPath
        error.location = "program '\(name)'" + (instanceCount > 1 ? " instance \(n)" : "") + (error.location.map { ", \($0)" } ?? "")
        return error.about(program: name, instance: n)
    }

    /// Keeps instance `n`'s fd as soon as it loads (so `kernelInfo(instance:)` can read it);
    /// the program counts as loaded once `finishLoad()` says every instance did.
    func adopt(_ fd: FileDescriptor, instance n: Int) {
        let i = instances.indices.contains(n) && instances[n].index == n ? n : instances.firstIndex { $0.index == n }!
        instances[i].fd = fd
    }

    func finishLoad() { isLoaded = true }

    /// The kernel's id, tag and name of a loaded instance (`BPF_OBJ_GET_INFO_BY_FD`), asked once
    /// per instance and kept: the load log, the pins and the report all show the id. nil for an
    /// instance without an fd.
    public func kernelInfo(instance n: Int) -> ProgramKernelInfo? {
        if let known = kernelInfos[n] { return known }
        guard let fd = instances.first(where: { $0.index == n })?.fd, let info = try? ProgramKernelInfo(fd: fd) else { return nil }
        kernelInfos[n] = info
        return info
    }

    /// `name_n`, truncated so the whole stays within the kernel's 15 characters.
    static func instanceName(_ name: String, _ n: Int) -> String {
        let suffix = "_\(n)"
        return sanitizedKernelName(String(name.prefix(15 - suffix.count))) + suffix
    }
}
